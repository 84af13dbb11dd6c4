//! Ending chats: on request, and when idle past their timeout. Each chat is ended once, by a
//! conditional update, however many callers race for it.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sms_domain::{ChatStatus, DisconnectedBy, ParticipantStatus};

use super::read::{find, find_chat};
use super::{is_active, EndedChat};
use crate::schema::{chats, end_users, participants};
use crate::tx::transaction;
use crate::{Chat, ChatBundle, DbConn, Participant, StoreError};

/// Ends `chat` if it is still active; `false` when someone else ended it first. Every
/// connected participant is disconnected at `at`.
pub(super) fn finish(
    conn: &mut DbConn,
    chat: &Chat,
    by: DisconnectedBy,
    at: NaiveDateTime,
) -> Result<bool, StoreError> {
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
                participants::status.eq(ParticipantStatus::Disconnected.as_str()),
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

/// Ends an active chat of the tenant, at `now`, by `by`.
pub fn end(
    conn: &mut DbConn,
    tenant_id: i64,
    chat_id: i64,
    by: DisconnectedBy,
    now: NaiveDateTime,
) -> Result<EndOutcome, StoreError> {
    transaction(conn, |conn| {
        let Some(chat) = find_chat(conn, tenant_id, chat_id)? else {
            return Ok(EndOutcome::NotFound);
        };
        if !(chat.status.is_active() && finish(conn, &chat, by, now)?) {
            return Ok(EndOutcome::NotActive);
        }
        let Some(bundle) = find(conn, tenant_id, chat_id)? else {
            return Ok(EndOutcome::NotFound);
        };
        let ended = ended_chat(conn, &bundle.chat)?;
        Ok(EndOutcome::Ended { bundle: Box::new(bundle), ended })
    })
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
/// its timeout at `now`. Runs in the caller's transaction when there is one.
pub fn expire_if_idle(conn: &mut DbConn, chat: &Chat, now: NaiveDateTime) -> Result<Option<EndedChat>, StoreError> {
    if chat.expires_at > now {
        return Ok(None);
    }
    transaction(conn, |conn| {
        if finish(conn, chat, DisconnectedBy::System, chat.expires_at)? {
            ended_chat(conn, chat).map(Some)
        } else {
            Ok(None)
        }
    })
}

/// Up to `limit` active chats whose timeout has elapsed at `now`, longest idle first.
pub fn due_to_expire(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> Result<Vec<Chat>, StoreError> {
    db_run!(conn, |c| chats::table
        .filter(is_active())
        .filter(chats::expires_at.le(now))
        .order(chats::expires_at)
        .limit(limit)
        .select(Chat::as_select())
        .load(c))
    .map_err(StoreError::from)
}

/// Ends up to `limit` active chats whose timeout has elapsed; each is ended by exactly one
/// caller even when several instances sweep at once.
pub fn expire_idle(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> Result<Vec<EndedChat>, StoreError> {
    let mut ended = Vec::new();
    for chat in &due_to_expire(conn, now, limit)? {
        if let Some(e) = expire_if_idle(conn, chat, now)? {
            ended.push(e);
        }
    }
    Ok(ended)
}
