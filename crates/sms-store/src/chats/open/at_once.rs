//! The usual send opened and told in one statement, outside any transaction, where that saves
//! round trips (PostgreSQL). In a transaction a send takes four (`BEGIN`, the chat, its
//! `chat.created` event, `COMMIT`) because the event's payload, rendered by the application,
//! names the ids the database gives the chat, its consumer and its participant. Here the
//! application renders the payload from the chat as it will be written twice, with two sets of
//! stand-in ids ([`StandIns::bundle`]); [`Template::cut`] keeps the text between them, and
//! [`open_at_once`] takes the ids from the tables' own sequences (as every insert takes them,
//! so ids keep the order the chats were opened in, as the chat lists show them), puts them where
//! the stand-ins stood and writes the chat, its participant, its first message, the event and
//! its deliveries together: one round trip and one commit. Nothing is written unless every check
//! passes; the caller then takes the transactional way ([`super::open`]), which answers why.
//! SQLite has no data-modifying CTEs and no round trips to save: it always takes that way.

use std::sync::LazyLock;

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Nullable};
use sms_domain::{DeliveryId, DeliveryStatus, Direction, DisconnectedBy, MessageId};
use sms_domain::{EndpointFormat, ParticipantKind, ParticipantStatus};

use super::super::NewChatSpec;
use super::postgres::{built_wrong, ChatColumns, Numbered, Value};
use super::{new_chat, new_participants, status_of, written};
use crate::events::{EVENT_AND_DELIVERIES_SQL, STANDARD_RECEIVERS_SQL};
use crate::{Chat, ChatBundle, DbConn, StoreError};

/// Ids a chat opened at once is rendered with before the statement gives it its own: nineteen
/// digits, that no id the sequences give for ages and no phone number has, the same seventeen
/// first for each of a set (found with one search) and two last that say which id it is. A
/// payload's other values (a ticket id) may still hold them: [`Template::cut`] renders twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandIns {
    /// The seventeen digits every id of the set begins with.
    prefix: &'static str,
    /// The chat's, its consumer's end user's and its participant's ids, and the same as text.
    ids: [(i64, &'static str); 3],
}

/// What each of a [`StandIns`]' ids stands for, as the statement names it.
const SLOTS: [&str; 3] = ["chat", "end_user", "participant"];

impl StandIns {
    /// The first rendering's ids.
    pub const FIRST: Self = Self {
        prefix: "73910264583102744",
        ids: [
            (7_391_026_458_310_274_401, "7391026458310274401"),
            (7_391_026_458_310_274_412, "7391026458310274412"),
            (7_391_026_458_310_274_423, "7391026458310274423"),
        ],
    };
    /// The second rendering's: each digit the first's plus one, so that the two renderings
    /// differ at every digit of every id and nowhere else (see [`Template::cut`]).
    pub const SECOND: Self = Self {
        prefix: "84021375694213855",
        ids: [
            (8_402_137_569_421_385_512, "8402137569421385512"),
            (8_402_137_569_421_385_523, "8402137569421385523"),
            (8_402_137_569_421_385_534, "8402137569421385534"),
        ],
    };

    /// The chat `spec` describes as [`open_at_once`] writes it, with these ids: what the event's
    /// payload is rendered from, before the statement.
    pub fn bundle(&self, spec: &NewChatSpec<'_>) -> ChatBundle {
        let [(chat_id, _), (end_user_id, _), (participant_id, _)] = self.ids;
        bundle_with(spec, chat_id, end_user_id, participant_id)
    }

    /// Which of the ids `digits` is.
    fn slot(&self, digits: &[u8]) -> Option<&'static str> {
        self.ids.iter().zip(SLOTS).find(|((_, id), _)| id.as_bytes() == digits).map(|(_, slot)| slot)
    }
}

/// The chat `spec` describes with the given ids, as [`open_at_once`] writes it.
fn bundle_with(spec: &NewChatSpec<'_>, chat_id: i64, end_user_id: i64, participant_id: i64) -> ChatBundle {
    let row = new_chat(spec, end_user_id);
    let chat = Chat {
        id: chat_id.into(),
        tenant_id: spec.tenant_id,
        end_user_id: end_user_id.into(),
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
        new_participants(spec, chat_id, end_user_id).iter().map(|p| written(p, participant_id)).collect();
    ChatBundle { chat, participants, agent: None }
}

/// A payload cut where a chat's ids stand: the text between them, and which id goes in each
/// gap (`chat`, `end_user` or `participant`), for the statement to join with the real ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template<'a> {
    pieces: Vec<&'a str>,
    slots: Vec<&'static str>,
}

impl<'a> Template<'a> {
    /// The payload `first`, rendered with [`StandIns::FIRST`], cut where they stand; `second` is
    /// the same payload rendered with [`StandIns::SECOND`]. `None` when the two do not cut
    /// alike: some other value of the payload holds a stand-in's digits, and only the
    /// transactional way, which renders with the written ids, tells the chat. When they do, the
    /// cut is where the ids stand: the two renderings differ at every digit of every id and
    /// nowhere else, and each cut is where its renderings' stand-ins are, so both cut at the
    /// same places only if those are the places where they differ.
    pub fn cut(first: &'a str, second: &str) -> Option<Self> {
        let template = Self::cut_at(first, &StandIns::FIRST)?;
        let other = Template::cut_at(second, &StandIns::SECOND)?;
        (template == other).then_some(template)
    }

    /// `text` cut at each of `ids`, found by their common prefix.
    fn cut_at(text: &'a str, ids: &StandIns) -> Option<Self> {
        let bytes = text.as_bytes();
        let (mut pieces, mut slots, mut from) = (Vec::with_capacity(8), Vec::with_capacity(7), 0);
        for at in memchr::memmem::find_iter(bytes, ids.prefix.as_bytes()) {
            let end = at + ids.ids[0].1.len();
            let Some(slot) = bytes.get(at..end).and_then(|digits| ids.slot(digits)) else { continue };
            pieces.push(text.get(from..at)?);
            slots.push(slot);
            from = end;
        }
        pieces.push(text.get(from..)?);
        Some(Self { pieces, slots })
    }
}

/// `chat.created` of a chat opened at once: its payload cut where the chat's ids go.
#[derive(Debug, Clone)]
pub struct CreatedEvent<'a> {
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub payload: Template<'a>,
    pub at: NaiveDateTime,
}
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

/// Opens the chat of `spec` and writes `event` about it, with a delivery to each of the
/// tenant's standard endpoints that receives its type (due at once, or leased until `lease`),
/// in one statement that commits on its own, when the store saves round trips by it
/// (PostgreSQL), `spec` names no agent, the outbound number is the tenant's, the consumer has
/// not opted out, no `ccai` endpoint of the tenant receives one of `unless_ccai_receives`, and
/// the consumer has no active chat and no end user written by someone else meanwhile. The ids
/// come from the tables' sequences (the tenant's end user for the number, if there is one) and
/// go where the event's payload had its stand-ins. The chat's first message is queued, or
/// `sending` and leased until `leases.message` to this instance's delivery worker. `None`:
/// nothing was written, and the caller opens the chat in a transaction (or learns why not) as
/// [`super::open`] does.
pub fn open_at_once(
    conn: &mut DbConn,
    spec: &NewChatSpec<'_>,
    event: &CreatedEvent<'_>,
    leases: Leases,
    unless_ccai_receives: &[&str],
) -> Result<Option<OpenedAtOnce>, StoreError> {
    let DbConn::Postgres(pg) = conn else { return Ok(None) };
    if spec.agent.is_some() {
        return Ok(None);
    }
    let statement = OpenAtOnce {
        values: values(spec, event, leases, unless_ccai_receives),
        columns: <Chat as Selectable<Pg>>::construct_selection(),
    };
    let row: Option<Written> = statement.get_result(pg).optional()?;
    let Some((chat, participant_id, deliveries, ids, message_id)) = row else { return Ok(None) };
    let participants = new_participants(spec, chat.id.get(), chat.end_user_id.get())
        .iter()
        .map(|p| written(p, participant_id))
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

/// The statement's row: the chat, its participant's id, how many deliveries its event has and
/// their ids, and the id of its first message.
type Written = (Chat, i64, i64, Option<Vec<i64>>, Option<i64>);

/// The statement's values, in the order of `at_once.sql`'s placeholders.
fn values<'a>(
    spec: &'a NewChatSpec<'a>,
    event: &'a CreatedEvent<'a>,
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
        Value::Text(event.event_id),
        Value::Text(event.event_type),
        Value::Texts(&event.payload.pieces),
        Value::Texts(&event.payload.slots),
        Value::Time(event.at),
        Value::OptionalTime(leases.deliveries),
        Value::Text(EndpointFormat::Ccai.as_str()),
        Value::Texts(unless_ccai_receives),
        Value::OptionalTime(leases.message),
        Value::Text(DeliveryStatus::Sending.as_str()),
    ]
}

/// The statement, with `$1`…`$27` where the values go and markers where the shared fragments go.
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
    Ok(AtOnceSql { head: Numbered::cut(head, 27)?, receivers_tail, event_tail, tail })
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
    type SqlType = (ChatColumns, BigInt, BigInt, Nullable<Array<BigInt>>, Nullable<BigInt>);
}

impl RunQueryDsl<diesel::PgConnection> for OpenAtOnce<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_once_sql_has_its_twenty_seven_placeholders_and_its_markers() {
        let sql = AT_ONCE.as_ref().expect("at_once.sql cuts");
        assert!(Numbered::cut(SQL, 28).is_err(), "no 28th placeholder");
        assert!(sql.receivers_tail.starts_with(" AND EXISTS"), "{}", sql.receivers_tail);
        assert!(sql.tail.starts_with(", (SELECT participant_id FROM ids), (SELECT count(*) FROM d)"), "{}", sql.tail);
        assert!(!sql.event_tail.contains("/*"), "{}", sql.event_tail);
    }

    #[test]
    fn the_stand_ins_are_their_digits_and_the_seconds_differ_from_the_firsts_at_each() {
        for set in [StandIns::FIRST, StandIns::SECOND] {
            for (id, digits) in set.ids {
                assert_eq!((id.to_string(), digits.len()), (digits.to_owned(), 19));
                assert!(digits.starts_with(set.prefix) && set.prefix.len() == 17, "{digits}");
            }
        }
        for ((_, first), (_, second)) in StandIns::FIRST.ids.iter().zip(StandIns::SECOND.ids) {
            let shifted: String = first.bytes().map(|d| char::from(b'0' + (d - b'0' + 1) % 10)).collect();
            assert_eq!(shifted, second);
        }
    }

    /// A payload naming the three ids as a chat object does, some twice.
    fn rendered(ids: &StandIns, ticket: &str) -> String {
        let [(chat, _), (end_user, _), (participant, _)] = ids.ids;
        format!(
            "{{\"id\":{chat},\"ticket\":\"{ticket}\",\"end_user\":{{\"id\":{end_user}}},\
             \"participants\":[{{\"id\":{participant},\"end_user_id\":{end_user}}}],\"to\":\"+15555550100\"}}"
        )
    }

    #[test]
    fn a_payload_is_cut_where_its_ids_stand() {
        let (first, second) = (rendered(&StandIns::FIRST, "T-1"), rendered(&StandIns::SECOND, "T-1"));
        let template = Template::cut(&first, &second).expect("cut alike");
        assert_eq!(template.slots, ["chat", "end_user", "participant", "end_user"]);
        assert_eq!(
            template.pieces,
            [
                "{\"id\":",
                ",\"ticket\":\"T-1\",\"end_user\":{\"id\":",
                "},\"participants\":[{\"id\":",
                ",\"end_user_id\":",
                "}],\"to\":\"+15555550100\"}",
            ]
        );
        // Joined with the written ids, as the statement does, it is the payload rendered with them.
        let written = StandIns { prefix: "", ids: [(41, "41"), (7, "7"), (93, "93")] };
        let mut joined = String::new();
        for (piece, slot) in template.pieces.iter().zip(template.slots.iter().map(Some).chain([None])) {
            joined.push_str(piece);
            if let Some(slot) = slot {
                let at = SLOTS.iter().position(|s| s == slot).expect("a slot");
                joined.push_str(written.ids[at].1);
            }
        }
        assert_eq!(joined, rendered(&written, "T-1"));
    }

    #[test]
    fn a_payload_whose_other_values_hold_a_stand_in_is_not_cut() {
        for ticket in [StandIns::FIRST.ids[0].1, StandIns::SECOND.ids[2].1, "x7391026458310274423y"] {
            let (first, second) = (rendered(&StandIns::FIRST, ticket), rendered(&StandIns::SECOND, ticket));
            assert_eq!(Template::cut(&first, &second), None, "{ticket}");
        }
        let (first, second) = (rendered(&StandIns::FIRST, "T-1"), rendered(&StandIns::SECOND, "T-2"));
        assert_eq!(Template::cut(&first, &second), None, "the renderings differ elsewhere");
        let near = format!("{}99", StandIns::FIRST.prefix);
        let (first, second) = (rendered(&StandIns::FIRST, &near), rendered(&StandIns::SECOND, &near));
        let template = Template::cut(&first, &second).expect("the prefix alone is no stand-in");
        assert_eq!(template.slots.len(), 4);
        assert!(template.pieces[1].contains(&near));
    }
}
