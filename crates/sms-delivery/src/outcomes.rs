//! What becomes of an attempt at a message, and how the outcomes are written: the store's part
//! here, the application's ([`Outcomes`]) with the events that follow.

use chrono::NaiveDateTime;
use sms_domain::MessageId;
use sms_store::outbox;
use sms_store::{DbConn, StoreError};

/// What became of one attempt at a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider took it.
    Sent { provider_message_id: Option<String> },
    /// A transient fault: queued again for `next_attempt_at`.
    Retry { next_attempt_at: chrono::NaiveDateTime, error: String },
    /// It will not be sent.
    Failed { error: String },
    /// It will not be sent: the recipient unsubscribed at the provider.
    Unsubscribed { error: String },
}

/// Records the outcomes of a batch of attempts on messages this worker is sending. The
/// application implements it, so that what follows from an outcome (the tenant's events)
/// commits with it; a batch is recorded in one transaction, so a busy worker costs the database
/// one commit per batch, not one per message. Answers the event deliveries it wrote leased
/// ([`Recording::lease`]) and what is to be told once the batch has committed.
pub trait Outcomes: Send + Sync {
    fn record(&self, conn: &mut DbConn, batch: &[(MessageId, Outcome)], at: Recording) -> Result<Recorded, StoreError>;
}

/// Event deliveries written leased to this instance's event worker ([`crate::Handoff`]).
pub type Leased = Vec<sms_domain::DeliveryId>;

/// What a recorded batch leaves for after its commit. [`Outcomes::record`] may run inside a
/// larger transaction (SQLite's writer commits many writes at once): nothing it changed may be
/// told before that transaction commits, so the telling is handed back, for the worker to run
/// once the write has returned.
pub struct Recorded {
    pub leased: Leased,
    /// Runs once the batch has committed; never when it did not.
    pub committed: Box<dyn FnOnce() + Send>,
}

impl std::fmt::Debug for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorded").field("leased", &self.leased).finish_non_exhaustive()
    }
}

/// When a batch of outcomes is written, and until when the event deliveries it writes are
/// leased to this instance's event worker (`None`: due at once, for a claim).
#[derive(Debug, Clone, Copy)]
pub struct Recording {
    pub now: NaiveDateTime,
    pub lease: Option<NaiveDateTime>,
}

/// Writes an outcome; answers the message as it is now, or `None` when it was no longer this
/// sender's (its lease ran out and another worker took it).
pub fn settle(
    conn: &mut DbConn,
    message_id: MessageId,
    outcome: &Outcome,
    now: NaiveDateTime,
) -> Result<Option<sms_store::Message>, StoreError> {
    match outcome {
        Outcome::Sent { provider_message_id } => {
            outbox::mark_sent(conn, message_id, provider_message_id.as_deref(), now)
        }
        Outcome::Retry { next_attempt_at, error } => outbox::mark_retry(conn, message_id, *next_attempt_at, error, now),
        Outcome::Failed { error } | Outcome::Unsubscribed { error } => {
            outbox::mark_failed(conn, message_id, error, now)
        }
    }
}

/// Writes a batch's outcomes, as [`settle`] writes one; answers each message as it is now, in
/// the batch's order. The messages the provider took, the usual outcome, are settled together,
/// and their chats are left to [`Settled::touch_chats`], for the caller to run last in its
/// transaction (the chats' rows are locked from then to the commit: BENCHMARKS.md).
pub fn settle_batch(
    conn: &mut DbConn,
    batch: &[(MessageId, Outcome)],
    now: NaiveDateTime,
) -> Result<Settled, StoreError> {
    let sent: Vec<(MessageId, Option<&str>)> = batch
        .iter()
        .filter_map(|(id, outcome)| match outcome {
            Outcome::Sent { provider_message_id } => Some((*id, provider_message_id.as_deref())),
            _ => None,
        })
        .collect();
    let taken = outbox::mark_sent_many(conn, &sent, now)?;
    let chats = outbox::chat_ids(&taken);
    let mut by_id: std::collections::HashMap<MessageId, sms_store::Message> =
        taken.into_iter().map(|m| (m.id, m)).collect();
    let messages = batch
        .iter()
        .map(|(id, outcome)| match outcome {
            Outcome::Sent { .. } => Ok(by_id.remove(id)),
            _ => settle(conn, *id, outcome, now),
        })
        .collect::<Result<_, _>>()?;
    Ok(Settled { messages, chats, now })
}

/// A batch's outcomes as [`settle_batch`] wrote them, their chats not yet touched.
#[must_use = "the chats of the messages sent are to be touched before the commit"]
pub struct Settled {
    /// Each message of the batch as it is now, in the batch's order; `None` when it was no
    /// longer this worker's.
    pub messages: Vec<Option<sms_store::Message>>,
    /// The chats of the messages the provider took.
    chats: Vec<i64>,
    now: NaiveDateTime,
}

impl Settled {
    /// Touches the chats of the messages the provider took: the last write of the transaction.
    pub fn touch_chats(self, conn: &mut DbConn) -> Result<(), StoreError> {
        sms_store::chats::touch(conn, &self.chats, self.now)
    }
}
