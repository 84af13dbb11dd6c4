//! PostgreSQL: opening a chat in one statement. Data-modifying CTEs make the send's checks,
//! upsert the end user, insert the chat (nothing when the consumer has an active chat: the
//! partial unique index), its participants and its first message, and one row answers what
//! happened. One round trip where the steps take five: the profile showed the round trips, not
//! the work in them, to be most of a request's cost (BENCHMARKS.md).

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamp};
use sms_domain::{DeliveryStatus, Direction, DisconnectedBy, ParticipantKind, ParticipantStatus};

use super::super::{NewChatSpec, Opened, Refusal, ACTIVE_PREDICATE};
use super::{new_participants, status_of, written};
use crate::{Chat, ChatBundle, StoreError};

/// What the statement did, before the active chat (if any) is read.
pub(super) enum Written {
    Done(Opened),
    /// The unique index refused the chat; the consumer's active chat has this id.
    BusyWith(i64),
}

/// The statement's values. Each is bound once, as a column of the CTE `p`, and the rest of the
/// SQL refers to it by name; the stored names come from the domain's enumerations.
struct OpenChat<'a> {
    tenant: i64,
    end_user: &'a str,
    outbound: &'a str,
    now: NaiveDateTime,
    agent: Option<i64>,
    chat_type: &'static str,
    lang: &'a str,
    status: &'static str,
    ticket: Option<&'a str>,
    disconnected_by: &'static str,
    lock_token: Option<&'a str>,
    assigned_at: Option<NaiveDateTime>,
    expires_at: NaiveDateTime,
    message: &'a str,
    segments: i32,
    end_user_kind: &'static str,
    agent_kind: &'static str,
    connected: &'static str,
    direction: &'static str,
    queued: &'static str,
}

impl<'a> OpenChat<'a> {
    fn new(spec: &'a NewChatSpec<'a>) -> Self {
        Self {
            tenant: spec.tenant_id,
            end_user: spec.end_user_number.as_str(),
            outbound: spec.outbound_number.as_str(),
            now: spec.now,
            agent: spec.agent.map(|a| a.id),
            chat_type: spec.chat_type.as_str(),
            lang: spec.lang,
            status: status_of(spec).as_str(),
            ticket: spec.ticket_id,
            disconnected_by: DisconnectedBy::Unknown.as_str(),
            lock_token: spec.lock_token,
            assigned_at: spec.agent.map(|_| spec.now),
            expires_at: spec.now + spec.session_timeout,
            message: spec.message,
            segments: spec.segments,
            end_user_kind: ParticipantKind::EndUser.as_str(),
            agent_kind: ParticipantKind::Agent.as_str(),
            connected: ParticipantStatus::Connected.as_str(),
            direction: Direction::Outbound.as_str(),
            queued: DeliveryStatus::Queued.as_str(),
        }
    }
}

const SQL_AFTER_PARAMS: &str = "),
checks AS (
    SELECT EXISTS (SELECT 1 FROM outbound_numbers, p
                   WHERE outbound_numbers.tenant_id = p.tenant AND outbound_numbers.number = p.outbound) AS registered,
           EXISTS (SELECT 1 FROM opt_outs, p
                   WHERE opt_outs.tenant_id = p.tenant AND opt_outs.number = p.end_user) AS opted_out
), end_user AS (
    INSERT INTO end_users (tenant_id, number, created_at)
    SELECT p.tenant, p.end_user, p.now FROM p, checks WHERE checks.registered AND NOT checks.opted_out
    ON CONFLICT (tenant_id, number) DO UPDATE SET number = excluded.number
    RETURNING id
), chat AS (
    INSERT INTO chats (tenant_id, end_user_id, agent_id, chat_type, lang, status, outbound_number, ticket_id,
                       disconnected_by, lock_token, created_at, assigned_at, last_activity_at, expires_at)
    SELECT p.tenant, end_user.id, p.agent, p.chat_type, p.lang, p.status, p.outbound, p.ticket,
           p.disconnected_by, p.lock_token, p.now, p.assigned_at, p.now, p.expires_at FROM p, end_user
    ON CONFLICT DO NOTHING
    RETURNING id, end_user_id
), parts AS (
    INSERT INTO participants (chat_id, kind, status, user_id, end_user_id, connected_at)
    SELECT chat.id, p.end_user_kind, p.connected, NULL, chat.end_user_id, p.now FROM p, chat
    UNION ALL
    SELECT chat.id, p.agent_kind, p.connected, p.agent, NULL, p.now FROM p, chat WHERE p.agent IS NOT NULL
    RETURNING id, kind
), message AS (
    INSERT INTO messages (chat_id, tenant_id, direction, body, segments, delivery_status, created_at, updated_at,
                          from_number, to_number, agent_id)
    SELECT chat.id, p.tenant, p.direction, p.message, p.segments, p.queued, p.now, p.now, p.outbound, p.end_user,
           p.agent
    FROM p, chat
)
SELECT checks.registered, checks.opted_out,
       (SELECT id FROM chat) AS chat_id,
       (SELECT end_user_id FROM chat) AS end_user_id,
       (SELECT parts.id FROM parts, p WHERE parts.kind = p.end_user_kind) AS end_user_participant_id,
       (SELECT parts.id FROM parts, p WHERE parts.kind = p.agent_kind) AS agent_participant_id,
       CASE WHEN checks.registered AND NOT checks.opted_out AND NOT EXISTS (SELECT 1 FROM chat) THEN
           (SELECT chats.id FROM chats JOIN end_users ON end_users.id = chats.end_user_id, p
            WHERE end_users.tenant_id = p.tenant AND end_users.number = p.end_user AND chats.tenant_id = p.tenant
              AND ";

const SQL_END: &str = ")
       END AS active_chat_id
FROM checks";

impl QueryFragment<Pg> for OpenChat<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH p AS (SELECT ");
        out.push_bind_param::<BigInt, _>(&self.tenant)?;
        out.push_sql(" AS tenant, ");
        out.push_bind_param::<Text, _>(self.end_user)?;
        out.push_sql(" AS end_user, ");
        out.push_bind_param::<Text, _>(self.outbound)?;
        out.push_sql(" AS outbound, ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" AS now, ");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.agent)?;
        out.push_sql(" AS agent, ");
        out.push_bind_param::<Text, _>(self.chat_type)?;
        out.push_sql(" AS chat_type, ");
        out.push_bind_param::<Text, _>(self.lang)?;
        out.push_sql(" AS lang, ");
        out.push_bind_param::<Text, _>(self.status)?;
        out.push_sql(" AS status, ");
        out.push_bind_param::<Nullable<Text>, _>(&self.ticket)?;
        out.push_sql(" AS ticket, ");
        out.push_bind_param::<Text, _>(self.disconnected_by)?;
        out.push_sql(" AS disconnected_by, ");
        out.push_bind_param::<Nullable<Text>, _>(&self.lock_token)?;
        out.push_sql(" AS lock_token, ");
        out.push_bind_param::<Nullable<Timestamp>, _>(&self.assigned_at)?;
        out.push_sql(" AS assigned_at, ");
        out.push_bind_param::<Timestamp, _>(&self.expires_at)?;
        out.push_sql(" AS expires_at, ");
        out.push_bind_param::<Text, _>(self.message)?;
        out.push_sql(" AS message, ");
        out.push_bind_param::<Integer, _>(&self.segments)?;
        out.push_sql(" AS segments, ");
        out.push_bind_param::<Text, _>(self.end_user_kind)?;
        out.push_sql(" AS end_user_kind, ");
        out.push_bind_param::<Text, _>(self.agent_kind)?;
        out.push_sql(" AS agent_kind, ");
        out.push_bind_param::<Text, _>(self.connected)?;
        out.push_sql(" AS connected, ");
        out.push_bind_param::<Text, _>(self.direction)?;
        out.push_sql(" AS direction, ");
        out.push_bind_param::<Text, _>(self.queued)?;
        out.push_sql(" AS queued");
        out.push_sql(SQL_AFTER_PARAMS);
        out.push_sql(ACTIVE_PREDICATE);
        out.push_sql(SQL_END);
        Ok(())
    }
}

/// One statement, whatever its values: diesel keeps it prepared on each connection (a
/// `sql_query` never is, and PostgreSQL then parsed and planned it on every request).
struct OpenChatId;

impl QueryId for OpenChat<'_> {
    type QueryId = OpenChatId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for OpenChat<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl RunQueryDsl<diesel::PgConnection> for OpenChat<'_> {}

/// The statement's one row.
#[derive(QueryableByName)]
struct Outcome {
    #[diesel(sql_type = Bool)]
    registered: bool,
    #[diesel(sql_type = Bool)]
    opted_out: bool,
    #[diesel(sql_type = Nullable<BigInt>)]
    chat_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    end_user_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    end_user_participant_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    agent_participant_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    active_chat_id: Option<i64>,
}

pub(super) fn open(conn: &mut diesel::PgConnection, spec: &NewChatSpec<'_>) -> Result<Written, StoreError> {
    let row: Outcome = OpenChat::new(spec).get_result(conn)?;
    if !row.registered {
        return Ok(Written::Done(Opened::Refused(Refusal::OutboundNotRegistered)));
    }
    if row.opted_out {
        return Ok(Written::Done(Opened::Refused(Refusal::OptedOut)));
    }
    let (Some(chat_id), Some(end_user_id)) = (row.chat_id, row.end_user_id) else {
        return Ok(match row.active_chat_id {
            Some(id) => Written::BusyWith(id),
            None => Written::Done(Opened::Busy(None)),
        });
    };
    // Everything but the ids is what was sent: the chat is built from it, not read back.
    let chat = Chat {
        id: chat_id,
        tenant_id: spec.tenant_id,
        end_user_id,
        agent_id: spec.agent.map(|a| a.id),
        chat_type: spec.chat_type,
        lang: spec.lang.to_owned(),
        status: status_of(spec),
        outbound_number: spec.outbound_number.as_str().to_owned(),
        ticket_id: spec.ticket_id.map(str::to_owned),
        disconnected_by: DisconnectedBy::Unknown,
        lock_token: spec.lock_token.map(str::to_owned),
        created_at: spec.now,
        assigned_at: spec.agent.map(|_| spec.now),
        ends_at: None,
        last_activity_at: spec.now,
        expires_at: spec.now + spec.session_timeout,
    };
    let ids = [row.end_user_participant_id, row.agent_participant_id];
    let participants = new_participants(spec, chat_id, end_user_id)
        .iter()
        .zip(ids)
        .filter_map(|(p, id)| id.map(|id| written(p, id)))
        .collect();
    Ok(Written::Done(Opened::Created(Box::new(ChatBundle { chat, participants, agent: spec.agent.cloned() }))))
}
