//! SQLite: the steps of opening a chat, one statement each, inside the caller's `BEGIN
//! IMMEDIATE` transaction (one writer at a time, so nothing can come between them).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::upsert::excluded;
use sms_domain::E164Number;

use super::super::read::active_chat_of;
use super::super::{NewChatSpec, Opened, Refusal};
use super::{first_message, new_chat, new_participants};
use crate::schema::{chats, end_users, messages, participants};
use crate::{Chat, ChatBundle, DbConn, Participant, StoreError};

pub(super) fn open(conn: &mut DbConn, spec: &NewChatSpec<'_>) -> Result<Opened, StoreError> {
    let checks = crate::numbers::send_checks(conn, spec.tenant_id, spec.outbound_number, spec.end_user_number)?;
    if !checks.outbound_registered {
        return Ok(Opened::Refused(Refusal::OutboundNotRegistered));
    }
    if checks.opted_out {
        return Ok(Opened::Refused(Refusal::OptedOut));
    }
    let end_user_id = upsert_end_user(conn, spec.tenant_id, spec.end_user_number, spec.now)?;
    // The insert itself asks the unique index whether the consumer has an active chat, so the
    // usual case (none) costs no lookup.
    let new = new_chat(spec, end_user_id);
    let inserted: Option<Chat> = db_run!(conn, |c| diesel::insert_into(chats::table)
        .values(new)
        .on_conflict_do_nothing()
        .returning(Chat::as_returning())
        .get_result(c)
        .optional())?;
    let Some(chat) = inserted else {
        return Ok(Opened::Busy(active_chat_of(conn, spec.tenant_id, end_user_id)?.map(Box::new)));
    };
    let mut participants: Vec<Participant> = db_run!(conn, |c| diesel::insert_into(participants::table)
        .values(new_participants(spec, chat.id, end_user_id))
        .returning(Participant::as_returning())
        .get_results(c))?;
    // RETURNING promises no order; the chat object lists the consumer first, as inserted.
    participants.sort_by_key(|p| p.id);
    db_run!(conn, |c| diesel::insert_into(messages::table).values(first_message(spec, chat.id)).execute(c))?;
    Ok(Opened::Created(Box::new(ChatBundle { chat, participants, agent: spec.agent.cloned() })))
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
