//! Updates run for every message, written as statements of their own so that they stay
//! prepared. diesel prepares every `UPDATE` (and every `IN` list on SQLite) anew on each call:
//! SQLite's writer, which runs one statement after another for the whole process, spent about a
//! quarter of its time parsing SQL, and PostgreSQL parsed and planned an agent's every reply
//! (BENCHMARKS.md).

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;
use sms_domain::MessageId;

use crate::schema::messages;
use crate::Message;

/// `outbox::mark_sent_many` on SQLite, a message at a time: the update and the message read back
/// by its primary key (the caller touches its chat); answers the messages still `sending`.
pub(crate) fn mark_sent_each(
    c: &mut diesel::SqliteConnection,
    sent: &[(MessageId, Option<&str>)],
    now: NaiveDateTime,
) -> QueryResult<Vec<Message>> {
    let mut settled = Vec::with_capacity(sent.len());
    for &(id, provider_message_id) in sent {
        let changed = MarkSent { id: id.get(), provider_message_id, now }.execute(c)?;
        if changed == 0 {
            continue;
        }
        settled.push(messages::table.find(id.get()).select(Message::as_select()).first(c)?);
    }
    Ok(settled)
}

/// The provider took the message, as `outbox::mark_sent` records it: only a message still
/// `sending`. Executes to the number of rows changed.
pub(crate) struct MarkSent<'a> {
    pub(crate) id: i64,
    pub(crate) provider_message_id: Option<&'a str>,
    pub(crate) now: NaiveDateTime,
}

impl QueryFragment<Sqlite> for MarkSent<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("UPDATE messages SET delivery_status = 'sent', provider_message_id = ");
        out.push_bind_param::<Nullable<Text>, _>(&self.provider_message_id)?;
        out.push_sql(", error = NULL, locked_until = NULL, updated_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(", sent_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.id)?;
        out.push_sql(" AND delivery_status = 'sending'");
        Ok(())
    }
}

/// The chat changed at `now` (`chats::touch`); a chat touched later already is left alone.
pub(crate) struct TouchChat {
    pub(crate) id: i64,
    pub(crate) now: NaiveDateTime,
}

impl QueryFragment<Sqlite> for TouchChat {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("UPDATE chats SET updated_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.id)?;
        out.push_sql(" AND updated_at < ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        Ok(())
    }
}

/// An active chat written in (`chats::reply`): its last activity and its timeout move on.
/// Executes to the number of rows changed (0: the chat is no longer active).
pub(crate) struct MoveOn {
    pub(crate) id: i64,
    pub(crate) now: NaiveDateTime,
    pub(crate) expires_at: NaiveDateTime,
}

impl<DB> QueryFragment<DB> for MoveOn
where
    DB: Backend + HasSqlType<Timestamp> + HasSqlType<BigInt>,
    NaiveDateTime: ToSql<Timestamp, DB>,
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE chats SET last_activity_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(", expires_at = ");
        out.push_bind_param::<Timestamp, _>(&self.expires_at)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.id)?;
        out.push_sql(" AND ");
        out.push_sql(crate::chats::ACTIVE_PREDICATE);
        Ok(())
    }
}

/// One statement whatever its values: diesel caches it by this type.
pub(crate) struct MarkSentId;
pub(crate) struct TouchChatId;
pub(crate) struct MoveOnId;

impl QueryId for MarkSent<'_> {
    type QueryId = MarkSentId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryId for TouchChat {
    type QueryId = TouchChatId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryId for MoveOn {
    type QueryId = MoveOnId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl RunQueryDsl<diesel::SqliteConnection> for MarkSent<'_> {}
impl RunQueryDsl<diesel::SqliteConnection> for TouchChat {}
impl<Conn> RunQueryDsl<Conn> for MoveOn {}
