//! What the delivery worker's outcomes change, and the events that follow from them: a message
//! the provider took (`sent`) or that will not be sent (`failed`) is told as
//! `message.status_updated`, in the same transaction as the change. A retry is not: the message
//! is queued again, which is no step forward.

use chrono::NaiveDateTime;
use sms_delivery::{Outcome, Outcomes};
use sms_domain::EventType;
use sms_store::{DbConn, StoreError};

use crate::events::ConsumerEventData;
use crate::views::MessageObject;

/// The application's [`Outcomes`], given to every delivery worker.
pub struct OutboxOutcomes;

impl Outcomes for OutboxOutcomes {
    fn record(
        &self,
        conn: &mut DbConn,
        message_id: i64,
        outcome: &Outcome,
        now: NaiveDateTime,
    ) -> Result<(), StoreError> {
        sms_store::transaction(conn, |conn| {
            let Some(message) = sms_delivery::settle(conn, message_id, outcome, now)? else { return Ok(()) };
            if matches!(outcome, Outcome::Retry { .. }) {
                return Ok(());
            }
            let (tenant_id, number) = (message.tenant_id, message.to_number.clone());
            let view = MessageObject::from(&message);
            crate::events::message(conn, EventType::MessageStatusUpdated, tenant_id, &number, view, now)?;
            // Twilio's 21610: the consumer unsubscribed there; they are opted out here too.
            if matches!(outcome, Outcome::Unsubscribed { .. })
                && sms_store::delivery::record_opt_out(conn, tenant_id, &number, now)?
            {
                let data = ConsumerEventData { end_user_number: number, keyword: None, chat_id: message.chat_id };
                crate::events::consumer(conn, EventType::ConsumerOptedOut, tenant_id, data, now)?;
            }
            Ok(())
        })
    }
}
