//! The usual send opened and told in one statement, outside any transaction, where that saves
//! round trips (PostgreSQL). In a transaction a send takes four (`BEGIN`, the chat, its
//! `chat.created` event, `COMMIT`) because the event's payload, rendered by the application,
//! names the ids the database gives the chat, its consumer and its participant. Here those ids
//! are reserved first ([`reserve`], one read that commits nothing: `nextval` as every insert
//! takes it, so ids keep the order the chats were opened in, as the chat lists show them), the
//! application renders the payload from the chat as it will be written ([`Reserved::bundle`]),
//! and [`open_at_once`] writes the chat, its participant, its first message, the event and its
//! deliveries together: two round trips and one commit. Nothing is written unless every check
//! passes; the caller then takes the transactional way ([`super::open`]), which answers why.
//! SQLite has no data-modifying CTEs and no round trips to save: it always takes that way.

use std::sync::LazyLock;

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use sms_domain::{ChatId, DeliveryId, DeliveryStatus, Direction, DisconnectedBy, E164Number, EndUserId, MessageId};
use sms_domain::{EndpointFormat, ParticipantKind, ParticipantStatus, TenantId};

use super::super::NewChatSpec;
use super::postgres::{built_wrong, ChatColumns, Numbered, Value};
use super::{new_chat, new_participants, status_of, written};
use crate::events::{NewEvent, EVENT_AND_DELIVERIES_SQL, STANDARD_RECEIVERS_SQL};
use crate::{Chat, ChatBundle, DbConn, StoreError};

/// The ids a chat opened at once will have, taken from the tables' own sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    pub chat_id: ChatId,
    /// The consumer's end user: the tenant's existing one, or a new id.
    pub end_user_id: EndUserId,
    /// The end user exists already.
    end_user_known: bool,
    /// The consumer's participant (a chat opened at once has no agent).
    participant_id: i64,
}

impl Reserved {
    /// The chat `spec` describes as [`open_at_once`] writes it with these ids: what the event's
    /// payload is rendered from, before the statement.
    pub fn bundle(&self, spec: &NewChatSpec<'_>) -> ChatBundle {
        let (chat_id, end_user_id) = (self.chat_id.get(), self.end_user_id.get());
        let row = new_chat(spec, end_user_id);
        let chat = Chat {
            id: self.chat_id,
            tenant_id: spec.tenant_id,
            end_user_id: self.end_user_id,
            agent_id: None,
            chat_type: row.chat_type,
            lang: row.lang.to_owned(),
            status: row.status,
            outbound_number: spec.outbound_number.clone(),
            ticket_id: row.ticket_id.map(str::to_owned),
            disconnected_by: row.disconnected_by,
            lock_token: row.lock_token.map(str::to_owned),
            created_at: row.created_at,
            assigned_at: row.assigned_at,
            ends_at: None,
            last_activity_at: row.last_activity_at,
            expires_at: row.expires_at,
            updated_at: row.updated_at,
        };
        let participants =
            new_participants(spec, chat_id, end_user_id).iter().map(|p| written(p, self.participant_id)).collect();
        ChatBundle { chat, participants, agent: None }
    }
}

/// Reserves the ids of a chat for the consumer `end_user` of `tenant_id`, where the store opens
/// chats at once (PostgreSQL); `None` elsewhere. Call it outside a transaction: a reserved id
/// that goes unused is a gap, as a rolled-back insert leaves.
pub fn reserve(conn: &mut DbConn, tenant_id: TenantId, end_user: &E164Number) -> Result<Option<Reserved>, StoreError> {
    let DbConn::Postgres(pg) = conn else { return Ok(None) };
    let (chat, participant, known, new): (i64, i64, Option<i64>, Option<i64>) =
        Reserve { tenant: tenant_id.get(), end_user: end_user.as_str() }.get_result(pg)?;
    let end_user_id = known.or(new).ok_or(StoreError::Config("no end user id was reserved".into()))?;
    Ok(Some(Reserved {
        chat_id: chat.into(),
        end_user_id: end_user_id.into(),
        end_user_known: known.is_some(),
        participant_id: participant,
    }))
}

/// The reservation's statement: a sequence's next value for the chat and its participant, the
/// tenant's end user for the number or the next value of theirs.
struct Reserve<'a> {
    tenant: i64,
    end_user: &'a str,
}

impl QueryFragment<Pg> for Reserve<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "SELECT nextval('chats_id_seq'), nextval('participants_id_seq'), e.id, \
             CASE WHEN e.id IS NULL THEN nextval('end_users_id_seq') END \
             FROM (SELECT 1) AS one LEFT JOIN end_users e ON e.tenant_id = ",
        );
        out.push_bind_param::<BigInt, _>(&self.tenant)?;
        out.push_sql(" AND e.number = ");
        out.push_bind_param::<Text, _>(self.end_user)?;
        Ok(())
    }
}

struct ReserveId;

impl QueryId for Reserve<'_> {
    type QueryId = ReserveId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for Reserve<'_> {
    type SqlType = (BigInt, BigInt, Nullable<BigInt>, Nullable<BigInt>);
}

impl RunQueryDsl<diesel::PgConnection> for Reserve<'_> {}

/// What [`open_at_once`] wrote.
#[derive(Debug, Clone)]
pub struct OpenedAtOnce {
    /// The chat as written, with its participant.
    pub bundle: ChatBundle,
    /// Deliveries of the event written to the tenant's standard endpoints.
    pub deliveries: usize,
    /// Those deliveries, when written leased, for this instance's event worker.
    pub leased: Vec<DeliveryId>,
    /// The chat's first message, when written leased, for this instance's delivery worker.
    pub message_leased: Option<MessageId>,
}

/// Opens the chat of `spec` with the `reserved` ids and writes `event` about it, with a
/// delivery to each of the tenant's standard endpoints that receives its type (due at once, or
/// leased until `lease`), in one statement that commits on its own, when the store saves round
/// trips by it (PostgreSQL), `spec` names no agent, the outbound number is the tenant's, the
/// consumer has not opted out, no `ccai` endpoint of the tenant receives one of
/// `unless_ccai_receives`, the consumer has no active chat and its end user is the reserved
/// one. The chat's first message is queued, or `sending` and leased until `leases.message` to
/// this instance's delivery worker. `None`: nothing was written, and the caller opens the chat
/// in a transaction (or learns why not) as [`super::open`] does.
pub fn open_at_once(
    conn: &mut DbConn,
    spec: &NewChatSpec<'_>,
    reserved: &Reserved,
    event: &NewEvent<'_>,
    leases: Leases,
    unless_ccai_receives: &[&str],
) -> Result<Option<OpenedAtOnce>, StoreError> {
    let DbConn::Postgres(pg) = conn else { return Ok(None) };
    if spec.agent.is_some() {
        return Ok(None);
    }
    let statement = OpenAtOnce {
        values: values(spec, reserved, event, leases, unless_ccai_receives),
        columns: <Chat as Selectable<Pg>>::construct_selection(),
    };
    let row: Option<Written> = statement.get_result(pg).optional()?;
    let Some((chat, deliveries, ids, message_id)) = row else { return Ok(None) };
    let participants = new_participants(spec, chat.id.get(), chat.end_user_id.get())
        .iter()
        .map(|p| written(p, reserved.participant_id))
        .collect();
    let leased = match leases.deliveries {
        Some(_) => ids.unwrap_or_default().into_iter().map(DeliveryId::new).collect(),
        None => Vec::new(),
    };
    Ok(Some(OpenedAtOnce {
        bundle: ChatBundle { chat, participants, agent: None },
        deliveries: usize::try_from(deliveries).unwrap_or_default(),
        leased,
        message_leased: message_id.filter(|_| leases.message.is_some()).map(MessageId::new),
    }))
}

/// Until when a write leases what it writes to this instance's workers, each `None` when the
/// worker has no room for it (then it is left due, for any worker's claim).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Leases {
    /// The event's deliveries, to the event worker.
    pub deliveries: Option<chrono::NaiveDateTime>,
    /// The first message, to the delivery worker.
    pub message: Option<chrono::NaiveDateTime>,
}

/// The statement's row: the chat, how many deliveries its event has and their ids, and the id of
/// its first message.
type Written = (Chat, i64, Option<Vec<i64>>, Option<i64>);

/// The statement's values, in the order of `at_once.sql`'s placeholders.
fn values<'a>(
    spec: &'a NewChatSpec<'a>,
    reserved: &Reserved,
    event: &'a NewEvent<'a>,
    leases: Leases,
    unless_ccai_receives: &'a [&'a str],
) -> Vec<Value<'a>> {
    vec![
        Value::Id(spec.tenant_id.get()),
        Value::Text(spec.end_user_number.as_str()),
        Value::Text(spec.outbound_number.as_str()),
        Value::Time(spec.now),
        Value::Text(spec.chat_type.as_str()),
        Value::Text(spec.lang),
        Value::Text(status_of(spec).as_str()),
        Value::OptionalText(spec.ticket_id),
        Value::Text(DisconnectedBy::Unknown.as_str()),
        Value::OptionalText(spec.lock_token),
        Value::Time(spec.now + spec.session_timeout),
        Value::Text(spec.message),
        Value::Int(spec.segments),
        Value::Text(ParticipantKind::EndUser.as_str()),
        Value::Text(ParticipantStatus::Connected.as_str()),
        Value::Text(Direction::Outbound.as_str()),
        Value::Text(DeliveryStatus::Queued.as_str()),
        Value::Id(reserved.chat_id.get()),
        Value::Id(reserved.end_user_id.get()),
        Value::Flag(reserved.end_user_known),
        Value::Id(reserved.participant_id),
        Value::Text(event.event_id),
        Value::Text(event.event_type),
        Value::Text(event.payload),
        Value::Time(event.at),
        Value::OptionalTime(leases.deliveries),
        Value::Text(EndpointFormat::Ccai.as_str()),
        Value::Texts(unless_ccai_receives),
        Value::OptionalTime(leases.message),
        Value::Text(DeliveryStatus::Sending.as_str()),
    ]
}

/// The statement, with `$1`…`$30` where the values go and markers where the shared fragments go.
const SQL: &str = include_str!("at_once.sql");

struct OpenAtOnce<'a> {
    values: Vec<Value<'a>>,
    columns: <Chat as Selectable<Pg>>::SelectExpression,
}

/// `at_once.sql` cut once (see [`Numbered`]): its numbered head, and the text after each marker.
struct AtOnceSql {
    head: Numbered,
    receivers_tail: &'static str,
    event_tail: &'static str,
    tail: &'static str,
}

static AT_ONCE: LazyLock<Result<AtOnceSql, String>> = LazyLock::new(|| {
    let missing = |marker: &str| format!("at_once.sql has no {marker}");
    let (head, rest) = SQL.split_once("/* standard receivers */").ok_or_else(|| missing("receivers"))?;
    let (receivers_tail, rest) = rest.split_once("/* event and deliveries */").ok_or_else(|| missing("event"))?;
    let (event_tail, tail) = rest.split_once("/* chat columns */").ok_or_else(|| missing("chat columns"))?;
    Ok(AtOnceSql { head: Numbered::cut(head, 30)?, receivers_tail, event_tail, tail })
});

impl QueryFragment<Pg> for OpenAtOnce<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let sql = AT_ONCE.as_ref().map_err(|e| built_wrong(e))?;
        sql.head.push(&self.values, out.reborrow())?;
        out.push_sql(STANDARD_RECEIVERS_SQL);
        out.push_sql(sql.receivers_tail);
        out.push_sql(EVENT_AND_DELIVERIES_SQL);
        out.push_sql(sql.event_tail);
        self.columns.walk_ast(out.reborrow())?;
        out.push_sql(sql.tail);
        Ok(())
    }
}

/// One statement, whatever its values: diesel keeps it prepared on each connection.
struct OpenAtOnceId;

impl QueryId for OpenAtOnce<'_> {
    type QueryId = OpenAtOnceId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for OpenAtOnce<'_> {
    type SqlType = (ChatColumns, BigInt, Nullable<Array<BigInt>>, Nullable<BigInt>);
}

impl RunQueryDsl<diesel::PgConnection> for OpenAtOnce<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_once_sql_has_its_thirty_placeholders_and_its_markers() {
        let sql = AT_ONCE.as_ref().expect("at_once.sql cuts");
        assert!(Numbered::cut(SQL, 31).is_err(), "no 31st placeholder");
        assert!(sql.receivers_tail.starts_with(" AND EXISTS"), "{}", sql.receivers_tail);
        assert!(sql.tail.starts_with(", (SELECT count(*) FROM d)"), "{}", sql.tail);
        assert!(!sql.event_tail.contains("/*"), "{}", sql.event_tail);
    }
}
