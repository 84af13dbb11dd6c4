//! Chats, their participants and messages.
//!
//! A chat, its participants and its first message are written in one transaction; the unique
//! partial index over active chats refuses a second active chat for the same consumer, and that
//! refusal comes back as [`StoreError::ActiveChat`].

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::upsert::excluded;
use sms_domain::{ChatStatus, DisconnectedBy, E164Number};

use crate::conn::write_tx;
use crate::models::{NewChat, NewMessage, NewParticipant};
use crate::schema::{agents, chats, end_users, messages, participants};
use crate::{Agent, Chat, ChatBundle, DbConn, Message, Participant, StoreError};

pub const PARTICIPANT_END_USER: &str = "end_user";
pub const PARTICIPANT_AGENT: &str = "agent";
pub const PARTICIPANT_CONNECTED: &str = "connected";
pub const PARTICIPANT_DISCONNECTED: &str = "disconnected";
pub const DIRECTION_OUTBOUND: &str = "outbound";
pub const DELIVERY_QUEUED: &str = "queued";

/// The SQL of "the chat is active", written exactly as the predicate of the partial indexes
/// `chats_one_active_per_end_user` and `chats_active_expiry`. A planner uses a partial index
/// only when it can prove the query implies the index's predicate, and a bound list
/// (`status = ANY($1)`) proves nothing: every active-chat lookup would scan all the tenant's
/// chats. With the literal, each is one index probe.
const ACTIVE_PREDICATE: &str = "chats.status IN ('selecting', 'queued', 'assigned')";

fn is_active() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql(ACTIVE_PREDICATE)
}

/// Everything needed to open a chat.
#[derive(Debug, Clone)]
pub struct NewChatSpec<'a> {
    pub tenant_id: i64,
    pub lang: &'a str,
    pub chat_type: &'a str,
    pub end_user_number: &'a E164Number,
    pub outbound_number: &'a E164Number,
    pub ticket_id: Option<&'a str>,
    pub agent: Option<&'a Agent>,
    pub message: &'a str,
    pub segments: i32,
    /// The session lock's token, kept so whoever ends the chat can release the lock as owner.
    pub lock_token: Option<&'a str>,
    pub now: NaiveDateTime,
    pub session_timeout: Duration,
}

/// A chat that was ended, with what its session lock needs to be released.
#[derive(Debug, Clone)]
pub struct EndedChat {
    pub chat_id: i64,
    pub tenant_id: i64,
    pub end_user_number: String,
    pub lock_token: Option<String>,
}

/// The result of [`create`]: the new chat, and the consumer's previous chat if it had run past
/// its timeout and was ended on the way.
#[derive(Debug, Clone)]
pub struct Created {
    pub bundle: ChatBundle,
    pub expired: Option<EndedChat>,
}

/// Opens a chat with its participants and its first (queued) message, in one transaction.
pub fn create(conn: &mut DbConn, spec: &NewChatSpec<'_>) -> Result<Created, StoreError> {
    let result = write_tx(conn, |conn| {
        let end_user_id = upsert_end_user(conn, spec.tenant_id, spec.end_user_number, spec.now)?;
        let expired = match active_chat_of(conn, spec.tenant_id, end_user_id)? {
            Some(active) if active.expires_at <= spec.now => {
                finish(conn, &active, DisconnectedBy::System, active.expires_at)?.then(|| EndedChat {
                    chat_id: active.id,
                    tenant_id: active.tenant_id,
                    end_user_number: spec.end_user_number.as_str().to_owned(),
                    lock_token: active.lock_token.clone(),
                })
            }
            Some(active) => return Err(StoreError::ActiveChat { chat_id: Some(active.id) }),
            None => None,
        };
        let status = if spec.agent.is_some() { ChatStatus::Assigned } else { ChatStatus::Selecting };
        let new_chat = NewChat {
            tenant_id: spec.tenant_id,
            end_user_id,
            agent_id: spec.agent.map(|a| a.id),
            chat_type: spec.chat_type,
            lang: spec.lang,
            status: status.as_str(),
            outbound_number: spec.outbound_number.as_str(),
            ticket_id: spec.ticket_id,
            disconnected_by: DisconnectedBy::Unknown.as_str(),
            lock_token: spec.lock_token,
            created_at: spec.now,
            assigned_at: spec.agent.map(|_| spec.now),
            last_activity_at: spec.now,
            expires_at: spec.now + spec.session_timeout,
        };
        let chat = db_run!(conn, |c| diesel::insert_into(chats::table)
            .values(&new_chat)
            .returning(Chat::as_returning())
            .get_result(c))
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict => StoreError::ActiveChat { chat_id: None },
            other => other,
        })?;
        let mut parts = vec![NewParticipant {
            chat_id: chat.id,
            kind: PARTICIPANT_END_USER,
            status: PARTICIPANT_CONNECTED,
            user_id: None,
            end_user_id: Some(end_user_id),
            connected_at: spec.now,
        }];
        if let Some(agent) = spec.agent {
            parts.push(NewParticipant {
                chat_id: chat.id,
                kind: PARTICIPANT_AGENT,
                status: PARTICIPANT_CONNECTED,
                user_id: Some(agent.id),
                end_user_id: None,
                connected_at: spec.now,
            });
        }
        let mut participants = Vec::with_capacity(parts.len());
        for part in &parts {
            let row = db_run!(conn, |c| diesel::insert_into(participants::table)
                .values(part)
                .returning(Participant::as_returning())
                .get_result(c))?;
            participants.push(row);
        }
        let message = NewMessage {
            chat_id: chat.id,
            tenant_id: spec.tenant_id,
            direction: DIRECTION_OUTBOUND,
            body: spec.message,
            segments: spec.segments,
            delivery_status: DELIVERY_QUEUED,
            created_at: spec.now,
            updated_at: spec.now,
            from_number: spec.outbound_number.as_str(),
            to_number: spec.end_user_number.as_str(),
            provider_message_id: None,
        };
        db_run!(conn, |c| diesel::insert_into(messages::table).values(&message).execute(c))?;
        Ok(Created { bundle: ChatBundle { chat, participants, agent: spec.agent.cloned() }, expired })
    });
    match result {
        // The index refused the insert: a concurrent request won. Its chat is committed by now.
        Err(StoreError::ActiveChat { chat_id: None }) => {
            let chat_id = active_chat(conn, spec.tenant_id, spec.end_user_number)?.map(|c| c.id);
            Err(StoreError::ActiveChat { chat_id })
        }
        other => other,
    }
}

fn upsert_end_user(
    conn: &mut DbConn,
    tenant_id: i64,
    number: &E164Number,
    now: NaiveDateTime,
) -> Result<i64, StoreError> {
    db_run!(conn, |c| diesel::insert_into(end_users::table)
        .values((
            end_users::tenant_id.eq(tenant_id),
            end_users::number.eq(number.as_str()),
            end_users::created_at.eq(now),
        ))
        .on_conflict((end_users::tenant_id, end_users::number))
        .do_update()
        .set(end_users::number.eq(excluded(end_users::number)))
        .returning(end_users::id)
        .get_result(c))
    .map_err(StoreError::from)
}

fn active_chat_of(conn: &mut DbConn, tenant_id: i64, end_user_id: i64) -> Result<Option<Chat>, StoreError> {
    db_run!(conn, |c| chats::table
        .filter(chats::tenant_id.eq(tenant_id))
        .filter(chats::end_user_id.eq(end_user_id))
        .filter(is_active())
        .select(Chat::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// The consumer's active chat in the tenant, if any (whether or not it has run past its
/// timeout).
pub fn active_chat(conn: &mut DbConn, tenant_id: i64, number: &E164Number) -> Result<Option<Chat>, StoreError> {
    db_run!(conn, |c| chats::table
        .inner_join(end_users::table)
        .filter(chats::tenant_id.eq(tenant_id))
        .filter(end_users::tenant_id.eq(tenant_id))
        .filter(end_users::number.eq(number.as_str()))
        .filter(is_active())
        .select(Chat::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// Ends `chat` if it is still active; `false` when someone else ended it first.
fn finish(conn: &mut DbConn, chat: &Chat, by: DisconnectedBy, at: NaiveDateTime) -> Result<bool, StoreError> {
    let changed = db_run!(conn, |c| diesel::update(chats::table.filter(chats::id.eq(chat.id)).filter(is_active()))
        .set((
            chats::status.eq(ChatStatus::Finished.as_str()),
            chats::ends_at.eq(at),
            chats::disconnected_by.eq(by.as_str()),
        ))
        .execute(c))?;
    if changed == 0 {
        return Ok(false);
    }
    let connected: Vec<Participant> = db_run!(conn, |c| participants::table
        .filter(participants::chat_id.eq(chat.id))
        .filter(participants::ended_at.is_null())
        .select(Participant::as_select())
        .load(c))?;
    for p in connected {
        db_run!(conn, |c| diesel::update(participants::table.find(p.id))
            .set((
                participants::status.eq(PARTICIPANT_DISCONNECTED),
                participants::ended_at.eq(at),
                participants::chat_duration.eq(seconds_between(p.connected_at, at)),
            ))
            .execute(c))?;
    }
    Ok(true)
}

fn seconds_between(from: NaiveDateTime, to: NaiveDateTime) -> i32 {
    i32::try_from((to - from).num_seconds().max(0)).unwrap_or(i32::MAX)
}

/// What [`end`] found.
#[derive(Debug)]
pub enum EndOutcome {
    NotFound,
    NotActive,
    Ended { bundle: Box<ChatBundle>, ended: EndedChat },
}

/// Ends an active chat of the tenant on request (`POST /chats/{id}/end`).
pub fn end(
    conn: &mut DbConn,
    tenant_id: i64,
    chat_id: i64,
    by: DisconnectedBy,
    now: NaiveDateTime,
) -> Result<EndOutcome, StoreError> {
    let outcome = write_tx(conn, |conn| {
        let Some(chat) = find_chat(conn, tenant_id, chat_id)? else {
            return Ok(None);
        };
        let active = ChatStatus::parse(&chat.status).is_some_and(ChatStatus::is_active);
        Ok(Some(active && finish(conn, &chat, by, now)?))
    })?;
    match outcome {
        None => Ok(EndOutcome::NotFound),
        Some(false) => Ok(EndOutcome::NotActive),
        Some(true) => {
            let Some(bundle) = find(conn, tenant_id, chat_id)? else {
                return Ok(EndOutcome::NotFound);
            };
            let ended = ended_chat(conn, &bundle.chat)?;
            Ok(EndOutcome::Ended { bundle: Box::new(bundle), ended })
        }
    }
}

fn ended_chat(conn: &mut DbConn, chat: &Chat) -> Result<EndedChat, StoreError> {
    let number: String = db_run!(conn, |c| end_users::table.find(chat.end_user_id).select(end_users::number).first(c))?;
    Ok(EndedChat {
        chat_id: chat.id,
        tenant_id: chat.tenant_id,
        end_user_number: number,
        lock_token: chat.lock_token.clone(),
    })
}

/// Ends `chat` as timed out (at the moment its timeout elapsed) if it is still active and past
/// its timeout at `now`.
pub fn expire_if_idle(conn: &mut DbConn, chat: &Chat, now: NaiveDateTime) -> Result<Option<EndedChat>, StoreError> {
    if chat.expires_at > now {
        return Ok(None);
    }
    let ended = write_tx(conn, |conn| finish(conn, chat, DisconnectedBy::System, chat.expires_at))?;
    if ended {
        ended_chat(conn, chat).map(Some)
    } else {
        Ok(None)
    }
}

/// Ends up to `limit` active chats whose timeout has elapsed; each is ended by exactly one
/// caller even when several instances sweep at once.
pub fn expire_idle(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> Result<Vec<EndedChat>, StoreError> {
    let due: Vec<Chat> = db_run!(conn, |c| chats::table
        .filter(is_active())
        .filter(chats::expires_at.le(now))
        .order(chats::expires_at)
        .limit(limit)
        .select(Chat::as_select())
        .load(c))?;
    let mut ended = Vec::new();
    for chat in &due {
        if let Some(e) = expire_if_idle(conn, chat, now)? {
            ended.push(e);
        }
    }
    Ok(ended)
}

fn find_chat(conn: &mut DbConn, tenant_id: i64, chat_id: i64) -> Result<Option<Chat>, StoreError> {
    db_run!(conn, |c| chats::table
        .filter(chats::id.eq(chat_id))
        .filter(chats::tenant_id.eq(tenant_id))
        .select(Chat::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// A chat of the tenant with its participants and agent; `None` for a chat of another tenant
/// exactly as for a missing one.
pub fn find(conn: &mut DbConn, tenant_id: i64, chat_id: i64) -> Result<Option<ChatBundle>, StoreError> {
    let Some(chat) = find_chat(conn, tenant_id, chat_id)? else {
        return Ok(None);
    };
    Ok(bundles(conn, vec![chat])?.pop())
}

/// Filters of the chat list.
#[derive(Debug, Clone, Default)]
pub struct ChatFilter {
    pub status: Option<ChatStatus>,
    pub end_user_number: Option<E164Number>,
    /// From 1.
    pub page: i64,
    pub per: i64,
}

/// A page of the tenant's chats, newest first, and the total count over all pages.
pub fn list(conn: &mut DbConn, tenant_id: i64, filter: &ChatFilter) -> Result<(Vec<ChatBundle>, i64), StoreError> {
    // A macro rather than a closure: the boxed query is typed by its backend, and each arm of
    // `db_run!` needs its own.
    macro_rules! filtered {
        () => {{
            let mut query = chats::table.filter(chats::tenant_id.eq(tenant_id)).into_boxed();
            if let Some(status) = filter.status {
                query = query.filter(chats::status.eq(status.as_str()));
            }
            if let Some(number) = &filter.end_user_number {
                let end_user = end_users::table
                    .filter(end_users::tenant_id.eq(tenant_id))
                    .filter(end_users::number.eq(number.as_str().to_owned()))
                    .select(end_users::id);
                query = query.filter(chats::end_user_id.eq_any(end_user));
            }
            query
        }};
    }
    let offset = (filter.page.max(1) - 1).saturating_mul(filter.per);
    let (rows, total) = db_run!(conn, |c| {
        let total: i64 = filtered!().count().get_result(c)?;
        let rows: Vec<Chat> =
            filtered!().order(chats::id.desc()).offset(offset).limit(filter.per).select(Chat::as_select()).load(c)?;
        Ok::<_, diesel::result::Error>((rows, total))
    })?;
    Ok((bundles(conn, rows)?, total))
}

/// Attaches participants and agents to chats with one query each.
fn bundles(conn: &mut DbConn, chats: Vec<Chat>) -> Result<Vec<ChatBundle>, StoreError> {
    if chats.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = chats.iter().map(|c| c.id).collect();
    let agent_ids: Vec<i64> = chats.iter().filter_map(|c| c.agent_id).collect();
    let parts: Vec<Participant> = db_run!(conn, |c| participants::table
        .filter(participants::chat_id.eq_any(&ids))
        .order(participants::id)
        .select(Participant::as_select())
        .load(c))?;
    let agent_rows: Vec<Agent> = if agent_ids.is_empty() {
        Vec::new()
    } else {
        db_run!(conn, |c| agents::table.filter(agents::id.eq_any(&agent_ids)).select(Agent::as_select()).load(c))?
    };
    Ok(chats
        .into_iter()
        .map(|chat| ChatBundle {
            participants: parts.iter().filter(|p| p.chat_id == chat.id).cloned().collect(),
            agent: chat.agent_id.and_then(|id| agent_rows.iter().find(|a| a.id == id).cloned()),
            chat,
        })
        .collect())
}

/// The chat's messages, oldest first.
pub fn messages(conn: &mut DbConn, chat_id: i64) -> Result<Vec<Message>, StoreError> {
    db_run!(conn, |c| messages::table
        .filter(messages::chat_id.eq(chat_id))
        .order(messages::id)
        .select(Message::as_select())
        .load(c))
    .map_err(StoreError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The literal names exactly the active statuses, in the migrations' order.
    #[test]
    fn the_active_predicate_lists_the_active_statuses() {
        let names = ChatStatus::active_names().map(|n| format!("'{n}'")).join(", ");
        assert_eq!(ACTIVE_PREDICATE, format!("chats.status IN ({names})"));
    }

    /// The migrations' partial indexes carry the same predicate, so planners can use them.
    #[test]
    fn the_partial_indexes_use_the_same_predicate() {
        for sql in [
            include_str!("../../../migrations/postgres/2026-11-23-000001_init/up.sql"),
            include_str!("../../../migrations/sqlite/2026-11-23-000001_init/up.sql"),
        ] {
            let predicate = ACTIVE_PREDICATE.trim_start_matches("chats.");
            assert_eq!(sql.matches(&format!("WHERE {predicate};")).count(), 2, "{sql}");
        }
    }
}
