//! What the delivery worker's outcomes change, and the events that follow from them: a message
//! the provider took (`sent`) or that will not be sent (`failed`) is told as
//! `message.status_updated`, in the same transaction as the change. A retry is not: the message
//! is queued again, which is no step forward.

use chrono::NaiveDateTime;
use sms_delivery::{Outcome, Outcomes, Recorded, Recording};
use sms_domain::{ChatId, EventType, MessageId};
use sms_store::{DbConn, StoreError};

use crate::events::{self, MessageEventData};
use crate::life::{self, OptOutSource};
use crate::views::MessageObject;

/// The application's [`Outcomes`], given to every delivery worker
/// ([`crate::Service::outbox_outcomes`]).
pub struct OutboxOutcomes {
    live: crate::live::LiveFeed,
}

impl OutboxOutcomes {
    pub(crate) fn new(live: crate::live::LiveFeed) -> Self {
        Self { live }
    }
}

impl Outcomes for OutboxOutcomes {
    fn record(&self, conn: &mut DbConn, batch: &[(MessageId, Outcome)], at: Recording) -> Result<Recorded, StoreError> {
        let _stale = crate::live::take();
        crate::handoff::begin(sms_store::chats::Leases { deliveries: at.lease, message: None });
        let recorded = self.write(conn, batch, at.now);
        let leased = crate::handoff::take().deliveries;
        let changes = crate::live::take();
        // Told once the worker's write has committed: on SQLite this runs inside the writer's
        // group, and a page that read the chat before the commit would show it unchanged.
        let live = self.live.clone();
        recorded.map(|()| Recorded { leased, committed: Box::new(move || live.publish(changes)) })
    }
}

impl OutboxOutcomes {
    fn write(&self, conn: &mut DbConn, batch: &[(MessageId, Outcome)], now: NaiveDateTime) -> Result<(), StoreError> {
        sms_store::transaction(conn, |conn| {
            let mut told = events::Batch::default();
            let mut settled = sms_delivery::settle_batch(conn, batch, now)?;
            for ((_, outcome), message) in batch.iter().zip(std::mem::take(&mut settled.messages)) {
                let Some(message) = message else { continue };
                if matches!(outcome, Outcome::Retry { .. }) {
                    continue;
                }
                let (tenant_id, number) = (message.tenant_id, message.to_number.clone());
                let data = MessageEventData {
                    chat_id: message.chat_id.map(ChatId::get),
                    end_user_number: number.as_str().to_owned(),
                    message: MessageObject::from(&message),
                };
                told.add(tenant_id, EventType::MessageStatusUpdated, data, now);
                // Twilio's 21610: the consumer unsubscribed there; they are opted out here too.
                if matches!(outcome, Outcome::Unsubscribed { .. }) {
                    let source = OptOutSource::Carrier { chat_id: message.chat_id, from: &message.from_number };
                    // A carrier's opt-out ends no chat: nothing waits for the commit.
                    let _nothing_to_release = life::opt_out(conn, tenant_id, &number, source, now)?;
                }
            }
            told.write(conn)?;
            // Last: a reply into one of these chats waits for their rows until the commit.
            settled.touch_chats(conn)
        })
    }
}
