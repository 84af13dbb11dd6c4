//! A chat's life: the one place that ends a chat or opts a consumer out or in. Each function
//! writes the change and its events in the caller's transaction, and hands back what must
//! happen once that transaction commits (the ended chats' session locks are released) as an
//! [`AfterCommit`], which the caller cannot drop unused. Every path that ends a chat (the API,
//! the sweeper, a send or a lock that finds an idle chat, a consumer's opt-out) comes here, so
//! each ending has its `chat.ended` event and its lock freed.

use chrono::NaiveDateTime;
use sms_domain::{ChatId, DisconnectedBy, E164Number, EventType, TenantId};
use sms_lock::{LockKey, LockToken};
use sms_store::{Chat, ChatBundle, DbConn, StoreError};

use crate::events::{self, ConsumerEventData};
use crate::Service;

/// What must happen after the commit: the session locks of the chats that ended are released,
/// as their owner. Released before the commit, a lock would let a send see the chat still
/// active; never released, it would block the consumer until it expires.
#[must_use = "the locks of the chats that ended are released only by `AfterCommit::run`, after the commit"]
#[derive(Debug, Default)]
pub(crate) struct AfterCommit {
    ended: Vec<EndedChat>,
}

/// An ended chat's session lock: whose it is and the token it was taken with.
#[derive(Debug, Clone)]
struct EndedChat {
    chat_id: ChatId,
    key: LockKey,
    token: Option<String>,
}

impl AfterCommit {
    pub(crate) fn nothing() -> Self {
        Self::default()
    }

    /// Both this and `other`.
    pub(crate) fn and(mut self, other: AfterCommit) -> Self {
        self.ended.extend(other.ended);
        self
    }

    /// How many chats ended.
    pub(crate) fn chats_ended(&self) -> usize {
        self.ended.len()
    }

    /// Releases the ended chats' locks (call it once the transaction committed).
    pub(crate) async fn run(self, service: &Service) {
        for ended in self.ended {
            let Some(token) = ended.token else { continue };
            if let Err(e) = service.inner.lock.release(&ended.key, &LockToken::from_stored(token)).await {
                tracing::warn!(chat_id = ended.chat_id.get(), error = %e, "could not release the lock of an ended chat; it will expire");
            }
        }
    }
}

/// Ends `chat` (by `by`, at `at`, written `now`) if it is still active, with its `chat.ended`
/// event: the chat as it ended, or `None` when someone else ended it first.
pub(crate) fn end(
    conn: &mut DbConn,
    chat: &Chat,
    by: DisconnectedBy,
    at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Option<(ChatBundle, AfterCommit)>, StoreError> {
    sms_store::transaction(conn, |conn| {
        if !(chat.status.is_active() && sms_store::chats::finish(conn, chat, by, at, now)?) {
            return Ok(None);
        }
        let Some(bundle) = sms_store::chats::find(conn, chat.tenant_id, chat.id)? else { return Ok(None) };
        events::chat(conn, EventType::ChatEnded, &bundle, at)?;
        let number = sms_store::chats::end_user_number(conn, chat.end_user_id)?;
        let ended = EndedChat {
            chat_id: chat.id,
            key: LockKey::new(chat.tenant_id.get(), number.as_str()),
            token: chat.lock_token.clone(),
        };
        Ok(Some((bundle, AfterCommit { ended: vec![ended] })))
    })
}

/// Ends `chat` as timed out, at the moment its timeout elapsed, if it is still active and past
/// its timeout at `now`.
pub(crate) fn expire(conn: &mut DbConn, chat: &Chat, now: NaiveDateTime) -> Result<AfterCommit, StoreError> {
    if chat.expires_at > now {
        return Ok(AfterCommit::nothing());
    }
    Ok(end(conn, chat, DisconnectedBy::System, chat.expires_at, now)?.map(|(_, after)| after).unwrap_or_default())
}

/// The tenant no longer owns `number` (it was just deleted, in the caller's transaction): its
/// active chats end (`disconnected_by_system`), and its messages not yet sent fail with
/// `number removed`, each told as `message.status_updated`.
pub(crate) fn number_removed(
    conn: &mut DbConn,
    tenant_id: TenantId,
    number: &E164Number,
    now: NaiveDateTime,
) -> Result<AfterCommit, StoreError> {
    let mut after = AfterCommit::nothing();
    for chat in sms_store::chats::active_from(conn, tenant_id, number)? {
        if let Some((_, ended)) = end(conn, &chat, DisconnectedBy::System, now, now)? {
            after = after.and(ended);
        }
    }
    for message in sms_store::outbox::fail_unsent_from(conn, tenant_id, number, sms_delivery::NUMBER_REMOVED, now)? {
        let to = message.to_number.clone();
        let object = crate::views::MessageObject::from(&message);
        events::message(conn, EventType::MessageStatusUpdated, tenant_id, &to, object, now)?;
    }
    Ok(after)
}

/// Where an opt-out came from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OptOutSource<'a> {
    /// The consumer wrote an opt-out keyword (`keyword` as matched, in capitals; `written` as
    /// they wrote it) to the tenant's number `to`, in the inbound message `message_id` that
    /// joined `chat_id` if any: the consumer's active chat ends, and the tenant hears of it
    /// every time.
    Keyword { keyword: &'a str, written: &'a str, to: &'a E164Number, message_id: Option<i64>, chat_id: Option<ChatId> },
    /// The carrier reported that the consumer unsubscribed there (Twilio's 21610) while a
    /// message of `chat_id` was sent from the tenant's number `from`: told once, when it is new.
    Carrier { chat_id: Option<ChatId>, from: &'a E164Number },
}

impl OptOutSource<'_> {
    fn origin(&self) -> sms_store::opt_outs::Origin<'_> {
        match *self {
            Self::Keyword { written, to, message_id, .. } => {
                sms_store::opt_outs::Origin { keyword: Some(written), outbound_number: Some(to), message_id }
            }
            Self::Carrier { from, .. } => {
                sms_store::opt_outs::Origin { keyword: None, outbound_number: Some(from), message_id: None }
            }
        }
    }
}

/// Opts `number` out of the tenant's messages, with `consumer.opted_out`; a keyword also ends
/// the consumer's active chat.
pub(crate) fn opt_out(
    conn: &mut DbConn,
    tenant_id: TenantId,
    number: &E164Number,
    source: OptOutSource<'_>,
    now: NaiveDateTime,
) -> Result<AfterCommit, StoreError> {
    let new = sms_store::opt_outs::record(conn, tenant_id, number, source.origin(), now)?;
    let (keyword, chat_id, after) = match source {
        OptOutSource::Keyword { keyword, chat_id, .. } => {
            let active = sms_store::chats::active_chat(conn, tenant_id, number)?;
            let ended = match active {
                Some(chat) => end(conn, &chat, DisconnectedBy::EndUser, now, now)?.map(|(_, after)| after),
                None => None,
            };
            (Some(keyword.to_owned()), chat_id, ended.unwrap_or_default())
        }
        OptOutSource::Carrier { .. } if !new => return Ok(AfterCommit::nothing()),
        OptOutSource::Carrier { chat_id, .. } => (None, chat_id, AfterCommit::nothing()),
    };
    let data =
        ConsumerEventData { end_user_number: number.as_str().to_owned(), keyword, chat_id: chat_id.map(ChatId::get) };
    events::consumer(conn, EventType::ConsumerOptedOut, tenant_id, data, now)?;
    Ok(after)
}

/// Opts `number` back in after the consumer wrote `keyword` (in `chat_id`, if any), with
/// `consumer.opted_in`.
pub(crate) fn opt_in(
    conn: &mut DbConn,
    tenant_id: TenantId,
    number: &E164Number,
    keyword: &str,
    chat_id: Option<ChatId>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    sms_store::opt_outs::remove(conn, tenant_id, number)?;
    let data = ConsumerEventData {
        end_user_number: number.as_str().to_owned(),
        keyword: Some(keyword.to_owned()),
        chat_id: chat_id.map(ChatId::get),
    };
    events::consumer(conn, EventType::ConsumerOptedIn, tenant_id, data, now)
}

/// An admin lifts an opt-out: the tenant may text the number again (no event: the consumer said
/// nothing). `false` when the number was not opted out.
pub(crate) fn lift(conn: &mut DbConn, tenant_id: TenantId, number: &E164Number) -> Result<bool, StoreError> {
    sms_store::opt_outs::remove(conn, tenant_id, number)
}
