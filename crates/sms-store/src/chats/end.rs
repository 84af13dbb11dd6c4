//! Ending a chat, as a conditional update: each chat is ended once, however many callers race
//! for it. Which chats end, and what follows (their events, their session locks), is the
//! application's rule (`sms-service`'s chat life); this is only the write.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sms_domain::{ChatStatus, DisconnectedBy, ParticipantStatus};

use super::is_active;
use crate::schema::{chats, participants};
use crate::{Chat, DbConn, Participant, StoreError};

/// Marks the chats changed at `now`: a message of theirs was written or its delivery status
/// moved (the chat's `updated_at`, which incremental exports ask for).
pub fn touch(conn: &mut DbConn, chat_ids: &[i64], now: NaiveDateTime) -> Result<(), StoreError> {
    if chat_ids.is_empty() {
        return Ok(());
    }
    match conn {
        // One chat at a time, in a statement that stays prepared (`crate::kept`).
        DbConn::Sqlite(c) => {
            for id in chat_ids {
                crate::kept::TouchChat { id: *id, now }.execute(c)?;
            }
        }
        DbConn::Postgres(c) => {
            let touched = chats::table.filter(chats::id.eq_any(chat_ids)).filter(chats::updated_at.lt(now));
            diesel::update(touched).set(chats::updated_at.eq(now)).execute(c)?;
        }
    }
    Ok(())
}

/// Ends `chat` if it is still active; `false` when someone else ended it first. It ends at `at`
/// (for a chat that timed out, when its timeout elapsed), and every connected participant is
/// disconnected then; the change is written `now`.
pub fn finish(
    conn: &mut DbConn,
    chat: &Chat,
    by: DisconnectedBy,
    at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let target = chats::table.filter(chats::id.eq(chat.id.get())).filter(is_active());
    let changed = db_run!(conn, |c| diesel::update(target)
        .set((
            chats::status.eq(ChatStatus::Finished.as_str()),
            chats::ends_at.eq(at),
            chats::disconnected_by.eq(by.as_str()),
            chats::updated_at.eq(now.max(at)),
        ))
        .execute(c))?;
    if changed == 0 {
        return Ok(false);
    }
    let connected: Vec<Participant> = db_run!(conn, |c| participants::table
        .filter(participants::chat_id.eq(chat.id.get()))
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

pub(super) fn seconds_between(from: NaiveDateTime, to: NaiveDateTime) -> i32 {
    i32::try_from((to - from).num_seconds().max(0)).unwrap_or(i32::MAX)
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
