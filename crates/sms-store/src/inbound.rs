//! Consumers' replies: into their active chat, or kept aside when there is none (and purged
//! after their retention).

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use sms_domain::delivery::DeliveryStatus;
use sms_domain::{Direction, E164Number, TenantId};

use crate::models::NewMessage;
use crate::schema::{chats, messages, unrouted_messages};
use crate::tx::transaction;
use crate::{Chat, DbConn, Message, StoreError, UnroutedMessage};

/// Where a consumer's reply went.
#[derive(Debug, Clone)]
pub enum Inbound {
    /// Added to the consumer's active chat, whose timeout starts again; the chat's lock token
    /// is answered so the session lock can be refreshed too.
    Joined { chat: Box<Chat>, end_user_number: E164Number, message: Box<Message> },
    /// No active chat for this consumer and number: kept aside.
    Unrouted(Box<UnroutedMessage>),
}

/// A consumer's reply as the provider reported it.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    pub from: &'a E164Number,
    pub to: &'a E164Number,
    pub body: &'a str,
    pub segments: i32,
    /// The provider's id of the message.
    pub sid: Option<&'a str>,
    /// An MMS's media, as JSON (`[{"url", "content_type"}]`).
    pub media: Option<&'a str>,
}

/// Records a consumer's reply: into their active chat with this tenant and outbound number,
/// or aside when there is none.
pub fn record(
    conn: &mut DbConn,
    tenant_id: TenantId,
    reply: &Reply<'_>,
    now: NaiveDateTime,
    session_timeout: Duration,
) -> Result<Inbound, StoreError> {
    let Reply { from, to, body, segments, sid: provider_message_id, media } = *reply;
    let active = crate::chats::active_chat(conn, tenant_id, from)?
        .filter(|chat| chat.outbound_number == *to && chat.expires_at > now);
    transaction(conn, |conn| {
        let Some(chat) = active else {
            let kept: UnroutedMessage = db_run!(conn, |c| diesel::insert_into(unrouted_messages::table)
                .values((
                    unrouted_messages::tenant_id.eq(tenant_id.get()),
                    unrouted_messages::from_number.eq(from.as_str()),
                    unrouted_messages::to_number.eq(to.as_str()),
                    unrouted_messages::body.eq(body),
                    unrouted_messages::provider_message_id.eq(provider_message_id),
                    unrouted_messages::created_at.eq(now),
                    unrouted_messages::media.eq(media),
                ))
                .returning(UnroutedMessage::as_returning())
                .get_result(c))?;
            return Ok(Inbound::Unrouted(Box::new(kept)));
        };
        let message = NewMessage {
            chat_id: Some(chat.id.get()),
            tenant_id: tenant_id.get(),
            direction: Direction::Inbound,
            body,
            segments,
            delivery_status: DeliveryStatus::Received,
            created_at: now,
            updated_at: now,
            from_number: from.as_str(),
            to_number: to.as_str(),
            provider_message_id,
            agent_id: None,
            media,
            automatic: None,
        };
        let message: Message = db_run!(conn, |c| diesel::insert_into(messages::table)
            .values(message)
            .returning(Message::as_returning())
            .get_result(c))?;
        let expires_at = now + session_timeout;
        db_run!(conn, |c| diesel::update(chats::table.filter(chats::id.eq(chat.id.get())))
            .set((chats::last_activity_at.eq(now), chats::expires_at.eq(expires_at), chats::updated_at.eq(now)))
            .execute(c))?;
        Ok(Inbound::Joined {
            chat: Box::new(Chat { last_activity_at: now, expires_at, updated_at: now, ..chat }),
            end_user_number: from.clone(),
            message: Box::new(message),
        })
    })
}

/// Deletes the replies kept aside (no active chat) that arrived before `before`; answers how
/// many. They hold numbers and texts of people nobody answered: they are not kept forever.
pub fn purge_unrouted(conn: &mut DbConn, before: NaiveDateTime) -> Result<usize, StoreError> {
    db_run!(conn, |c| diesel::delete(unrouted_messages::table.filter(unrouted_messages::created_at.lt(before)))
        .execute(c))
    .map_err(StoreError::from)
}
