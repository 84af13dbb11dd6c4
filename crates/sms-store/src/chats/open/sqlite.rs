//! SQLite: the steps of opening a chat, one statement each, inside the caller's `BEGIN
//! IMMEDIATE` transaction (one writer at a time, so nothing can come between them). The send's
//! table checks travel with the end user's upsert, so the usual send spends no statement on
//! them inside the writers' critical section; only a refusal asks which check it was.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Text, Timestamp};
use diesel::sqlite::Sqlite;

use super::super::read::active_chat_of;
use super::super::{NewChatSpec, Opened};
use super::{first_message, new_chat, new_participants, why_not};
use crate::schema::{chats, messages, participants};
use crate::{Chat, ChatBundle, DbConn, Participant, StoreError};

pub(super) fn open(conn: &mut DbConn, spec: &NewChatSpec<'_>) -> Result<Opened, StoreError> {
    let DbConn::Sqlite(sqlite) = &mut *conn else {
        return Err(StoreError::Config("the SQLite module was handed another backend".into()));
    };
    let upsert = CheckedUpsert {
        tenant: spec.tenant_id.get(),
        end_user: spec.end_user_number.as_str(),
        outbound: spec.outbound_number.as_str(),
        now: spec.now,
    };
    let upserted: Option<UpsertedId> = upsert.get_result(sqlite).optional()?;
    let Some(UpsertedId { id: end_user_id }) = upserted else { return why_not(conn, spec) };
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
        return Ok(Opened::Busy(active_chat_of(conn, spec.tenant_id, end_user_id.into())?.map(Box::new)));
    };
    // A row at a time, the consumer first as the chat object lists them: diesel prepares a
    // statement of many rows anew on every call.
    let mut participants: Vec<Participant> = Vec::with_capacity(2);
    for p in new_participants(spec, chat.id.get(), end_user_id) {
        participants.push(db_run!(conn, |c| diesel::insert_into(participants::table)
            .values(p)
            .returning(Participant::as_returning())
            .get_result(c))?);
    }
    db_run!(conn, |c| diesel::insert_into(messages::table).values(first_message(spec, chat.id.get())).execute(c))?;
    Ok(Opened::Created(Box::new(ChatBundle { chat, participants, agent: spec.agent.cloned() })))
}

/// Upserts the consumer's end user unless the outbound number is not the tenant's or the
/// consumer opted out; answers the end user's id, or no row when a check refused.
struct CheckedUpsert<'a> {
    tenant: i64,
    end_user: &'a str,
    outbound: &'a str,
    now: NaiveDateTime,
}

impl QueryFragment<Sqlite> for CheckedUpsert<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("INSERT INTO end_users (tenant_id, number, created_at) SELECT ");
        out.push_bind_param::<BigInt, _>(&self.tenant)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.end_user)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" WHERE EXISTS (SELECT 1 FROM outbound_numbers WHERE tenant_id = ");
        out.push_bind_param::<BigInt, _>(&self.tenant)?;
        out.push_sql(" AND number = ");
        out.push_bind_param::<Text, _>(self.outbound)?;
        out.push_sql(") AND NOT EXISTS (SELECT 1 FROM opt_outs WHERE tenant_id = ");
        out.push_bind_param::<BigInt, _>(&self.tenant)?;
        out.push_sql(" AND number = ");
        out.push_bind_param::<Text, _>(self.end_user)?;
        out.push_sql(") ON CONFLICT (tenant_id, number) DO UPDATE SET number = excluded.number RETURNING id");
        Ok(())
    }
}

/// One statement whatever its values, so it stays prepared on the connection.
struct CheckedUpsertId;

impl QueryId for CheckedUpsert<'_> {
    type QueryId = CheckedUpsertId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for CheckedUpsert<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl RunQueryDsl<diesel::SqliteConnection> for CheckedUpsert<'_> {}

#[derive(QueryableByName)]
struct UpsertedId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}
