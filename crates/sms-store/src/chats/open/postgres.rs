//! PostgreSQL: opening a chat in one statement of data-modifying CTEs (`open.sql`), one round
//! trip where the steps take five: the profile showed the round trips, not the work in them, to
//! be most of a request's cost (BENCHMARKS.md). The statement answers the new chat as a row of
//! the model's own columns, so a new column of `chats` is a migration, the schema and the model.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamp};
use sms_domain::{DeliveryStatus, Direction, DisconnectedBy, ParticipantKind, ParticipantStatus};

use super::super::NewChatSpec;
use super::{new_participants, status_of, written};
use crate::{Chat, ChatBundle, StoreError};

/// The statement, with `$1`…`$20` where the values go and a marker where the chat's columns go.
const SQL: &str = include_str!("open.sql");
const COLUMNS_MARKER: &str = "/* chat columns */";

/// One value of a statement, with its SQL type.
pub(super) enum Value<'a> {
    Id(i64),
    OptionalId(Option<i64>),
    Text(&'a str),
    OptionalText(Option<&'a str>),
    Time(NaiveDateTime),
    OptionalTime(Option<NaiveDateTime>),
    Int(i32),
    Flag(bool),
    Texts(&'a [&'a str]),
}

/// The statement with its values, in the order of their placeholders; the stored names come
/// from the domain's enumerations.
struct OpenChat<'a> {
    values: Vec<Value<'a>>,
    columns: <Chat as Selectable<Pg>>::SelectExpression,
}

impl<'a> OpenChat<'a> {
    fn new(spec: &'a NewChatSpec<'a>) -> Self {
        let agent = spec.agent.map(|a| a.id.get());
        let values = vec![
            Value::Id(spec.tenant_id.get()),
            Value::Text(spec.end_user_number.as_str()),
            Value::Text(spec.outbound_number.as_str()),
            Value::Time(spec.now),
            Value::OptionalId(agent),
            Value::Text(spec.chat_type.as_str()),
            Value::Text(spec.lang),
            Value::Text(status_of(spec).as_str()),
            Value::OptionalText(spec.ticket_id),
            Value::Text(DisconnectedBy::Unknown.as_str()),
            Value::OptionalText(spec.lock_token),
            Value::OptionalTime(agent.map(|_| spec.now)),
            Value::Time(spec.now + spec.session_timeout),
            Value::Text(spec.message),
            Value::Int(spec.segments),
            Value::Text(ParticipantKind::EndUser.as_str()),
            Value::Text(ParticipantKind::Agent.as_str()),
            Value::Text(ParticipantStatus::Connected.as_str()),
            Value::Text(Direction::Outbound.as_str()),
            Value::Text(DeliveryStatus::Queued.as_str()),
        ];
        Self { values, columns: <Chat as Selectable<Pg>>::construct_selection() }
    }
}

impl QueryFragment<Pg> for OpenChat<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let (head, tail) = SQL
            .split_once(COLUMNS_MARKER)
            .ok_or(diesel::result::Error::QueryBuilderError("open.sql has no chat columns marker".into()))?;
        push_numbered(head, &self.values, out.reborrow())?;
        self.columns.walk_ast(out.reborrow())?;
        out.push_sql(tail);
        Ok(())
    }
}

/// Pushes `sql` with each of `values` bound where its placeholder (`$1::`, `$2::`…, in order)
/// stands.
pub(super) fn push_numbered<'b>(sql: &str, values: &'b [Value<'_>], mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
    let mut rest = sql;
    for (n, value) in values.iter().enumerate() {
        let placeholder = format!("${}::", n + 1);
        let (before, after) = rest
            .split_once(&placeholder)
            .ok_or(diesel::result::Error::QueryBuilderError(format!("a statement has no {placeholder}").into()))?;
        out.push_sql(before);
        match value {
            Value::Id(v) => out.push_bind_param::<BigInt, _>(v)?,
            Value::OptionalId(v) => out.push_bind_param::<Nullable<BigInt>, _>(v)?,
            Value::Text(v) => out.push_bind_param::<Text, _>(*v)?,
            Value::OptionalText(v) => out.push_bind_param::<Nullable<Text>, _>(v)?,
            Value::Time(v) => out.push_bind_param::<Timestamp, _>(v)?,
            Value::OptionalTime(v) => out.push_bind_param::<Nullable<Timestamp>, _>(v)?,
            Value::Int(v) => out.push_bind_param::<Integer, _>(v)?,
            Value::Flag(v) => out.push_bind_param::<Bool, _>(v)?,
            Value::Texts(v) => out.push_bind_param::<Array<Text>, _>(v)?,
        }
        out.push_sql("::");
        rest = after;
    }
    out.push_sql(rest);
    Ok(())
}

/// One statement, whatever its values: diesel keeps it prepared on each connection (a
/// `sql_query` never is, and PostgreSQL then parsed and planned it on every request).
struct OpenChatId;

impl QueryId for OpenChat<'_> {
    type QueryId = OpenChatId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

/// The SQL types of the chat's columns, as the model selects them.
pub(super) type ChatColumns = <<Chat as Selectable<Pg>>::SelectExpression as Expression>::SqlType;

impl Query for OpenChat<'_> {
    type SqlType = (ChatColumns, BigInt, Nullable<BigInt>);
}

impl RunQueryDsl<diesel::PgConnection> for OpenChat<'_> {}

/// The new chat with its participants, or `None` when nothing was written (a check refused, or
/// the consumer has an active chat).
pub(super) fn open(conn: &mut diesel::PgConnection, spec: &NewChatSpec<'_>) -> Result<Option<ChatBundle>, StoreError> {
    let row: Option<(Chat, i64, Option<i64>)> = OpenChat::new(spec).get_result(conn).optional()?;
    let Some((chat, end_user_participant, agent_participant)) = row else { return Ok(None) };
    let ids = [Some(end_user_participant), agent_participant];
    let participants = new_participants(spec, chat.id.get(), chat.end_user_id.get())
        .iter()
        .zip(ids)
        .filter_map(|(p, id)| id.map(|id| written(p, id)))
        .collect();
    Ok(Some(ChatBundle { chat, participants, agent: spec.agent.cloned() }))
}
