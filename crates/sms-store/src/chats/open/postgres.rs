//! PostgreSQL: opening a chat in one statement of data-modifying CTEs (`open.sql`), one round
//! trip where the steps take five: the profile showed the round trips, not the work in them, to
//! be most of a request's cost (BENCHMARKS.md). The statement answers the new chat as a row of
//! the model's own columns, so a new column of `chats` is a migration, the schema and the model.

use std::sync::LazyLock;

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamp};
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

/// `open.sql` cut once: its numbered part before the chat's columns, and what follows them.
static OPEN: LazyLock<Result<(Numbered, &'static str), String>> = LazyLock::new(|| {
    let (head, tail) = SQL.split_once(COLUMNS_MARKER).ok_or("open.sql has no chat columns marker")?;
    Ok((Numbered::cut(head, 20)?, tail))
});

impl QueryFragment<Pg> for OpenChat<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let (head, tail) = OPEN.as_ref().map_err(|e| built_wrong(e))?;
        head.push(&self.values, out.reborrow())?;
        self.columns.walk_ast(out.reborrow())?;
        out.push_sql(tail);
        Ok(())
    }
}

/// A statement's text cut once at its placeholders (`$1::`, `$2::`…, in order). diesel walks a
/// statement on every execution, to collect its binds even when it is prepared already, and
/// cutting the text anew on each walk (a `format!` and a search per placeholder) was about 5 %
/// of the server's CPU per send (BENCHMARKS.md, seventeenth session).
pub(super) struct Numbered {
    /// The text before each placeholder, and last what follows the last one.
    pieces: Vec<&'static str>,
}

impl Numbered {
    /// Cuts `sql` at `$1::` to `$count::`; answers which placeholder is missing.
    pub(super) fn cut(sql: &'static str, count: usize) -> Result<Self, String> {
        let mut pieces = Vec::with_capacity(count + 1);
        let mut rest = sql;
        for n in 1..=count {
            let placeholder = format!("${n}::");
            let (before, after) = rest.split_once(&placeholder).ok_or(format!("a statement has no {placeholder}"))?;
            pieces.push(before);
            rest = after;
        }
        pieces.push(rest);
        Ok(Self { pieces })
    }

    /// Pushes the statement with each of `values` bound where its placeholder stands.
    pub(super) fn push<'b>(&self, values: &'b [Value<'_>], mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let Some((last, before)) = self.pieces.split_last().filter(|(_, before)| before.len() == values.len()) else {
            return Err(built_wrong(&format!("{} values for {} placeholders", values.len(), self.pieces.len() - 1)));
        };
        for (piece, value) in before.iter().zip(values) {
            out.push_sql(piece);
            match value {
                Value::Id(v) => out.push_bind_param::<BigInt, _>(v)?,
                Value::OptionalId(v) => out.push_bind_param::<Nullable<BigInt>, _>(v)?,
                Value::Text(v) => out.push_bind_param::<Text, _>(*v)?,
                Value::OptionalText(v) => out.push_bind_param::<Nullable<Text>, _>(v)?,
                Value::Time(v) => out.push_bind_param::<Timestamp, _>(v)?,
                Value::OptionalTime(v) => out.push_bind_param::<Nullable<Timestamp>, _>(v)?,
                Value::Int(v) => out.push_bind_param::<Integer, _>(v)?,
                Value::Texts(v) => out.push_bind_param::<Array<Text>, _>(v)?,
            }
            out.push_sql("::");
        }
        out.push_sql(last);
        Ok(())
    }
}

/// A statement whose text did not cut as its values need.
pub(super) fn built_wrong(why: &str) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(why.to_owned().into())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_is_cut_at_each_placeholder_in_order() {
        let cut = Numbered::cut("SELECT $1::bigint, $2::text, $10::int", 2);
        assert_eq!(cut.map(|n| n.pieces), Ok(vec!["SELECT ", "bigint, ", "text, $10::int"]));
        assert_eq!(Numbered::cut("SELECT $2::text", 2).err(), Some("a statement has no $1::".to_owned()));
    }

    #[test]
    fn open_sql_has_its_twenty_placeholders() {
        let (head, tail) = OPEN.as_ref().expect("open.sql cuts");
        assert_eq!(head.pieces.len(), 21);
        assert!(Numbered::cut(SQL, 21).is_err(), "no 21st placeholder");
        assert!(tail.starts_with(','), "{tail}");
    }
}
