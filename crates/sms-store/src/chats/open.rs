//! Opening a chat: the consumer's end user, the chat, its participants and its first message,
//! written together or not at all, with the send's table checks decided in the same
//! transaction. PostgreSQL does it in one statement of data-modifying CTEs; SQLite has none, so
//! it runs the same steps one statement at a time. Each backend has its module, chosen here.

mod at_once;
mod postgres;
mod sqlite;

pub use at_once::{open_at_once, CreatedEvent, Leases, OpenedAtOnce, StandIns, Template};

use sms_domain::{ChatStatus, DeliveryStatus, Direction, DisconnectedBy, ParticipantKind, ParticipantStatus};

use super::{NewChatSpec, Opened, Refusal};
use crate::models::{NewChat, NewMessage, NewParticipant};
use crate::{DbConn, Participant, StoreError};

/// Opens the chat of `spec` unless the outbound number is not the tenant's, the consumer opted
/// out, or the consumer has an active chat: [`Opened`] says which. Call it inside
/// [`crate::transaction`]; on a refusal nothing of the chat is written.
pub fn open(conn: &mut DbConn, spec: &NewChatSpec<'_>) -> Result<Opened, StoreError> {
    match conn {
        DbConn::Postgres(pg) => match postgres::open(pg, spec)? {
            Some(bundle) => Ok(Opened::Created(Box::new(bundle))),
            None => why_not(conn, spec),
        },
        DbConn::Sqlite(_) => sqlite::open(conn, spec),
    }
}

/// Why nothing was written, asked in the same transaction: a check refused (the outbound
/// number, then the opt-out), or the consumer has an active chat (`None` when it was committed
/// by a concurrent transaction this one cannot see yet). Only refusals pay for these reads.
fn why_not(conn: &mut DbConn, spec: &NewChatSpec<'_>) -> Result<Opened, StoreError> {
    let checks = crate::numbers::send_checks(conn, spec.tenant_id, spec.outbound_number, spec.end_user_number)?;
    if !checks.outbound_registered {
        return Ok(Opened::Refused(Refusal::OutboundNotRegistered));
    }
    if checks.opted_out {
        return Ok(Opened::Refused(Refusal::OptedOut));
    }
    Ok(Opened::Busy(super::read::active_chat(conn, spec.tenant_id, spec.end_user_number)?.map(Box::new)))
}

/// The chat row `spec` describes, for the consumer `end_user_id`.
fn new_chat<'a>(spec: &'a NewChatSpec<'a>, end_user_id: i64) -> NewChat<'a> {
    NewChat {
        tenant_id: spec.tenant_id.get(),
        end_user_id,
        agent_id: spec.agent.map(|a| a.id.get()),
        chat_type: spec.chat_type,
        lang: spec.lang,
        status: status_of(spec),
        outbound_number: spec.outbound_number.as_str(),
        ticket_id: spec.ticket_id,
        disconnected_by: DisconnectedBy::Unknown,
        lock_token: spec.lock_token,
        created_at: spec.now,
        assigned_at: spec.agent.map(|_| spec.now),
        last_activity_at: spec.now,
        expires_at: spec.now + spec.session_timeout,
        updated_at: spec.now,
    }
}

/// A chat opened with an agent is assigned at once; without one it waits in `selecting`.
fn status_of(spec: &NewChatSpec<'_>) -> ChatStatus {
    if spec.agent.is_some() {
        ChatStatus::Assigned
    } else {
        ChatStatus::Selecting
    }
}

/// The participants of a new chat: the consumer, and the agent when there is one.
fn new_participants(spec: &NewChatSpec<'_>, chat_id: i64, end_user_id: i64) -> Vec<NewParticipant> {
    let end_user = NewParticipant {
        chat_id,
        kind: ParticipantKind::EndUser,
        status: ParticipantStatus::Connected,
        user_id: None,
        end_user_id: Some(end_user_id),
        connected_at: spec.now,
    };
    let agent = spec.agent.map(|agent| NewParticipant {
        kind: ParticipantKind::Agent,
        user_id: Some(agent.id.get()),
        end_user_id: None,
        ..end_user.clone()
    });
    std::iter::once(end_user).chain(agent).collect()
}

/// The first message: outbound and queued, the delivery worker's outbox entry.
fn first_message<'a>(spec: &'a NewChatSpec<'a>, chat_id: i64) -> NewMessage<'a> {
    NewMessage {
        chat_id: Some(chat_id),
        tenant_id: spec.tenant_id.get(),
        direction: Direction::Outbound,
        body: spec.message,
        segments: spec.segments,
        delivery_status: DeliveryStatus::Queued,
        created_at: spec.now,
        updated_at: spec.now,
        from_number: spec.outbound_number.as_str(),
        to_number: spec.end_user_number.as_str(),
        provider_message_id: None,
        // The agent the chat is opened for writes its first message.
        agent_id: spec.agent.map(|a| a.id.get()),
        media: None,
        automatic: None,
    }
}

/// A participant as written, with the id the database gave it.
fn written(p: &NewParticipant, id: i64) -> Participant {
    Participant {
        id,
        chat_id: p.chat_id.into(),
        kind: p.kind,
        status: p.status,
        user_id: p.user_id.map(Into::into),
        end_user_id: p.end_user_id.map(Into::into),
        connected_at: p.connected_at,
        ended_at: None,
        chat_duration: None,
    }
}
