//! An agent's usual reply written in one statement, outside any transaction, where that saves
//! round trips (PostgreSQL): the chat's checks, its move-on and the queued message travel
//! together, so a reply costs the server and the database one round trip instead of the six a
//! transaction of separate statements takes (`BEGIN`, the chat's context, its move-on, the
//! message, the `ccai` endpoints' types, `COMMIT`; BENCHMARKS.md). Nothing is written unless
//! every check passes; the caller then takes the transactional way ([`super::reply`]), which
//! answers which check refused, in order. SQLite has no data-modifying CTEs and no round trips
//! to save: it always takes that way.

use chrono::{Duration, NaiveDateTime};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamp};
use sms_domain::{ChatId, ChatStatus, DeliveryStatus, Direction, EndpointFormat, TenantId};

use super::Replied;
use crate::{Chat, DbConn, Message, StoreError};

/// The reply [`reply_at_once`] writes: no agent named (the chat keeps its own, or none), nothing
/// else to write with it.
#[derive(Debug, Clone)]
pub struct UsualReply<'a> {
    pub body: &'a str,
    pub segments: i32,
    /// The media's JSON (`[{"url", "content_type"}]`), if any.
    pub media: Option<&'a str>,
    pub now: NaiveDateTime,
    pub session_timeout: Duration,
    /// An event type: when a `ccai` endpoint of the tenant receives it, nothing is written (its
    /// event must commit with the message, in the caller's transaction).
    pub unless_ccai_receives: &'a str,
}

/// Writes `reply` into the tenant's chat `chat_id`, from its outbound number to its consumer,
/// in one statement, when the backend saves round trips by it (PostgreSQL) and the chat is the
/// tenant's, active and not past its timeout, the tenant still owns its outbound number, the
/// consumer has not opted out and no `ccai` endpoint of the tenant receives
/// `reply.unless_ccai_receives`. `None`: nothing was written, and the caller writes the reply
/// in a transaction (or learns why not) as [`super::reply`] does. Call it outside a
/// transaction: the statement commits on its own.
pub fn reply_at_once(
    conn: &mut DbConn,
    tenant_id: TenantId,
    chat_id: ChatId,
    reply: &UsualReply<'_>,
) -> Result<Option<Replied>, StoreError> {
    let DbConn::Postgres(pg) = conn else { return Ok(None) };
    let statement = ReplyAtOnce {
        chat_id: chat_id.get(),
        tenant_id: tenant_id.get(),
        reply,
        expires_at: reply.now + reply.session_timeout,
        active: ChatStatus::active_names(),
        columns: (<Chat as Selectable<Pg>>::construct_selection(), <Message as Selectable<Pg>>::construct_selection()),
    };
    let row: Option<(Chat, Message, String)> = statement.get_result(pg).optional()?;
    row.map(|(chat, message, number)| {
        Ok(Replied { message, chat, end_user_number: super::read::stored_number(number)?, assigned: false })
    })
    .transpose()
}

/// The statement. Its CTEs are named after the tables they write (`chats`, `messages`), so the
/// models' own column lists select the rows as written.
struct ReplyAtOnce<'a> {
    chat_id: i64,
    tenant_id: i64,
    reply: &'a UsualReply<'a>,
    expires_at: NaiveDateTime,
    active: [&'static str; 3],
    columns: (<Chat as Selectable<Pg>>::SelectExpression, <Message as Selectable<Pg>>::SelectExpression),
}

impl QueryFragment<Pg> for ReplyAtOnce<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let reply = self.reply;
        out.push_sql("WITH chats AS (UPDATE chats SET last_activity_at = ");
        out.push_bind_param::<Timestamp, _>(&reply.now)?;
        out.push_sql(", expires_at = ");
        out.push_bind_param::<Timestamp, _>(&self.expires_at)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<Timestamp, _>(&reply.now)?;
        out.push_sql(" WHERE chats.id = ");
        out.push_bind_param::<BigInt, _>(&self.chat_id)?;
        out.push_sql(" AND chats.tenant_id = ");
        out.push_bind_param::<BigInt, _>(&self.tenant_id)?;
        // The active statuses bound, not written as the partial indexes' predicate: a chat is
        // found here by its id, and with the literal a planner without statistics yet (a new
        // database) scanned a partial index of every active chat instead, tens of
        // milliseconds a reply (BENCHMARKS.md).
        out.push_sql(" AND chats.status = ANY (");
        out.push_bind_param::<Array<Text>, _>(&self.active[..])?;
        out.push_sql(") AND chats.expires_at > ");
        out.push_bind_param::<Timestamp, _>(&reply.now)?;
        out.push_sql(" AND ");
        super::OutboundOwned.walk_ast(out.reborrow())?;
        out.push_sql(" AND NOT EXISTS (SELECT 1 FROM end_users WHERE end_users.id = chats.end_user_id AND ");
        super::ConsumerOptedOut.walk_ast(out.reborrow())?;
        out.push_sql(")");
        // The endpoints' types are stored separated by spaces (`events::ccai_types`).
        out.push_sql(
            " AND NOT EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.tenant_id = chats.tenant_id AND w.format = ",
        );
        out.push_bind_param::<Text, _>(EndpointFormat::Ccai.as_str())?;
        out.push_sql(" AND ");
        out.push_bind_param::<Text, _>(reply.unless_ccai_receives)?;
        out.push_sql(" = ANY (string_to_array(w.events, ' ')))");
        out.push_sql(
            " RETURNING chats.*, (SELECT end_users.number FROM end_users WHERE end_users.id = chats.end_user_id) \
             AS end_user_number), \
             messages AS (INSERT INTO messages (chat_id, tenant_id, direction, body, segments, delivery_status, \
             created_at, updated_at, from_number, to_number, media) SELECT chats.id, chats.tenant_id, ",
        );
        out.push_bind_param::<Text, _>(Direction::Outbound.as_str())?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(reply.body)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&reply.segments)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(DeliveryStatus::Queued.as_str())?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&reply.now)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&reply.now)?;
        out.push_sql(", chats.outbound_number, chats.end_user_number, ");
        out.push_bind_param::<Nullable<Text>, _>(&reply.media)?;
        out.push_sql(" FROM chats RETURNING *) SELECT ");
        self.columns.walk_ast(out.reborrow())?;
        out.push_sql(", chats.end_user_number FROM chats, messages");
        Ok(())
    }
}

/// One statement whatever its values: diesel keeps it prepared on each connection.
struct ReplyAtOnceId;

impl QueryId for ReplyAtOnce<'_> {
    type QueryId = ReplyAtOnceId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

type Columns<T> = <<T as Selectable<Pg>>::SelectExpression as Expression>::SqlType;

impl Query for ReplyAtOnce<'_> {
    type SqlType = (Columns<Chat>, Columns<Message>, Text);
}

impl RunQueryDsl<diesel::PgConnection> for ReplyAtOnce<'_> {}
