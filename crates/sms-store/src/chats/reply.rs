//! Writing inside an open chat: an agent's (or an integration's) outbound message, queued for
//! delivery in the same transaction, which restarts the chat's timeout and, for a chat without
//! an agent, assigns the one who writes.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use sms_domain::{ChatStatus, DeliveryStatus, Direction, E164Number, ParticipantKind, ParticipantStatus};

use super::is_active;
use crate::models::{NewMessage, NewParticipant};
use crate::schema::{chats, messages, participants};
use crate::{Agent, Chat, DbConn, Message, StoreError};

/// An outbound message written into a chat.
#[derive(Debug, Clone)]
pub struct NewReply<'a> {
    pub agent: Option<&'a Agent>,
    /// The chat's consumer (its end user's number), the message's recipient.
    pub to: &'a E164Number,
    pub body: &'a str,
    pub segments: i32,
    /// The media's JSON (`[{"url", "content_type"}]`), if any.
    pub media: Option<&'a str>,
    pub now: NaiveDateTime,
    pub session_timeout: Duration,
}

/// What [`reply`] wrote.
#[derive(Debug, Clone)]
pub struct Replied {
    pub message: Message,
    /// The chat, its timeout moved on (and its agent set when it was assigned just now).
    pub chat: Chat,
    /// The consumer's number.
    pub end_user_number: E164Number,
    /// The chat had no agent and was assigned to the one who wrote.
    pub assigned: bool,
}

/// Writes `reply` into `chat`, from its outbound number to its consumer, if the chat is still
/// active (`None` when it is not: it ended meanwhile). Runs in the caller's transaction.
pub fn reply(conn: &mut DbConn, chat: &Chat, reply: &NewReply<'_>) -> Result<Option<Replied>, StoreError> {
    let now = reply.now;
    let expires_at = now + reply.session_timeout;
    let assign = reply.agent.filter(|_| chat.agent_id.is_none());
    let moved = match assign {
        Some(agent) => {
            db_run!(conn, |c| diesel::update(chats::table.filter(chats::id.eq(chat.id.get())).filter(is_active()))
                .set((
                    chats::last_activity_at.eq(now),
                    chats::expires_at.eq(expires_at),
                    chats::agent_id.eq(Some(agent.id.get())),
                    chats::status.eq(ChatStatus::Assigned.as_str()),
                    chats::assigned_at.eq(Some(now)),
                    chats::updated_at.eq(now),
                ))
                .execute(c))?
        }
        // The usual reply (the chat keeps its agent, or has none and gets none): kept prepared.
        None => db_run!(conn, |c| crate::kept::MoveOn { id: chat.id.get(), now, expires_at }.execute(c))?,
    };
    if moved == 0 {
        return Ok(None);
    }
    if let Some(agent) = assign {
        join(conn, chat, agent, now)?;
    }
    let new = NewMessage {
        chat_id: Some(chat.id.get()),
        tenant_id: chat.tenant_id.get(),
        direction: Direction::Outbound,
        body: reply.body,
        segments: reply.segments,
        delivery_status: DeliveryStatus::Queued,
        created_at: now,
        updated_at: now,
        from_number: chat.outbound_number.as_str(),
        to_number: reply.to.as_str(),
        provider_message_id: None,
        agent_id: reply.agent.map(|a| a.id.get()),
        media: reply.media,
        automatic: None,
    };
    let message = db_run!(conn, |c| diesel::insert_into(messages::table)
        .values(new)
        .returning(Message::as_returning())
        .get_result(c))?;
    let chat = match assign {
        Some(agent) => Chat {
            agent_id: Some(agent.id),
            status: ChatStatus::Assigned,
            assigned_at: Some(now),
            last_activity_at: now,
            expires_at,
            updated_at: now,
            ..chat.clone()
        },
        None => Chat { last_activity_at: now, expires_at, updated_at: now, ..chat.clone() },
    };
    Ok(Some(Replied { message, chat, end_user_number: reply.to.clone(), assigned: assign.is_some() }))
}

/// What [`assign`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assigned {
    /// The chat was this agent's already: nothing changed.
    Already,
    /// The chat is this agent's now (it had none, or `previous`).
    Now { previous: Option<sms_domain::AgentId> },
    /// The chat is no longer active, or another assignment won meanwhile.
    Lost,
}

/// Gives the active `chat` to `agent` without a message: an unassigned chat as a reply naming
/// the agent would; a chat of another agent is taken from them (their participant disconnects)
/// only if it is still theirs, so two agents assigning at once cannot both win. Runs in the
/// caller's transaction; the chat's timeout does not move.
pub fn assign(conn: &mut DbConn, chat: &Chat, agent: &Agent, now: NaiveDateTime) -> Result<Assigned, StoreError> {
    if chat.agent_id == Some(agent.id) {
        return Ok(Assigned::Already);
    }
    let base = chats::table.filter(chats::id.eq(chat.id.get())).filter(is_active());
    let changes = (
        chats::agent_id.eq(Some(agent.id.get())),
        chats::status.eq(ChatStatus::Assigned.as_str()),
        chats::assigned_at.eq(Some(now)),
        chats::updated_at.eq(now),
    );
    let moved = match chat.agent_id {
        Some(previous) => {
            db_run!(conn, |c| diesel::update(base.filter(chats::agent_id.eq(previous.get()))).set(changes).execute(c))?
        }
        None => db_run!(conn, |c| diesel::update(base.filter(chats::agent_id.is_null())).set(changes).execute(c))?,
    };
    if moved == 0 {
        return Ok(Assigned::Lost);
    }
    if let Some(previous) = chat.agent_id {
        let theirs: Vec<crate::Participant> = db_run!(conn, |c| participants::table
            .filter(participants::chat_id.eq(chat.id.get()))
            .filter(participants::kind.eq(ParticipantKind::Agent.as_str()))
            .filter(participants::user_id.eq(previous.get()))
            .filter(participants::ended_at.is_null())
            .select(crate::Participant::as_select())
            .load(c))?;
        for p in theirs {
            db_run!(conn, |c| diesel::update(participants::table.find(p.id))
                .set((
                    participants::status.eq(ParticipantStatus::Disconnected.as_str()),
                    participants::ended_at.eq(now),
                    participants::chat_duration.eq(super::end::seconds_between(p.connected_at, now)),
                ))
                .execute(c))?;
        }
    }
    join(conn, chat, agent, now)?;
    Ok(Assigned::Now { previous: chat.agent_id })
}

/// The agent joins the chat as a connected participant.
fn join(conn: &mut DbConn, chat: &Chat, agent: &Agent, now: NaiveDateTime) -> Result<(), StoreError> {
    let participant = NewParticipant {
        chat_id: chat.id.get(),
        kind: ParticipantKind::Agent,
        status: ParticipantStatus::Connected,
        user_id: Some(agent.id.get()),
        end_user_id: None,
        connected_at: now,
    };
    db_run!(conn, |c| diesel::insert_into(participants::table).values(participant).execute(c))?;
    Ok(())
}
