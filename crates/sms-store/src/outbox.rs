//! The outbox: claiming queued messages for delivery, recording each attempt's outcome, the
//! provider's later status reports, and the automatic answers queued beside the agents' messages.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sms_domain::delivery::DeliveryStatus;
use sms_domain::{Direction, MessageId, TenantId};

use crate::models::NewMessage;
use crate::schema::{messages, opt_outs, outbound_numbers, tenants};
use crate::tx::transaction;
use crate::{DbConn, Message, StoreError};

/// An outbound message claimed for one delivery attempt, with its tenant's subdomain (the
/// status callback URL names it).
#[derive(Debug, Clone)]
pub struct Job {
    pub message: Message,
    pub subdomain: String,
    /// A deactivated tenant's messages are not sent.
    pub tenant_active: bool,
    /// The consumer opted out of the tenant's messages (since the message was queued).
    pub opted_out: bool,
    /// The tenant still owns the number the message is sent from (it may have been taken away).
    pub number_owned: bool,
}

// Both spell the outbox index's own predicate (`delivery_status IN ('queued', 'sending')`) beside
// the finer one: SQLite cannot tell that the OR below implies it, and without it scanned every
// message in id order, sent ones included, on every claim, so its writer slowed as the table
// grew (BENCHMARKS.md).
const CLAIM_PG: &str =
    "UPDATE messages SET delivery_status = 'sending', locked_until = $1, attempts = attempts + 1, updated_at = $2 \
     WHERE id IN (SELECT id FROM messages WHERE delivery_status IN ('queued', 'sending') AND direction = 'outbound' AND \
       ((delivery_status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= $2)) \
        OR (delivery_status = 'sending' AND locked_until < $2)) \
       ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING id";

// SQLite has one writer at a time: the statement itself is the claim.
pub(crate) const CLAIM_SQLITE: &str =
    "UPDATE messages SET delivery_status = 'sending', locked_until = ?1, attempts = attempts + 1, updated_at = ?2 \
     WHERE id IN (SELECT id FROM messages WHERE delivery_status IN ('queued', 'sending') AND direction = 'outbound' AND \
       ((delivery_status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?2)) \
        OR (delivery_status = 'sending' AND locked_until < ?2)) \
       ORDER BY id LIMIT ?3) \
     RETURNING id";

/// Claims up to `limit` messages that are due: queued ones whose next attempt has come, and
/// ones whose sender's lease ran out (it crashed or hung). Each is leased until `lease_until`
/// and its attempt counted; two workers never claim the same message at once. Answers their
/// ids, for [`jobs`] to read after the claim's commit ([`crate::Store::claim_then_read`]): on
/// SQLite the claim is a write, run by the store's one writer between everyone's writes, and
/// the reads that once made up half of it (four statements then, prepared anew for each list of
/// ids; one now) run beside the writer, on a connection of the worker's own (BENCHMARKS.md).
pub fn claim_ids(
    conn: &mut DbConn,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<MessageId>, StoreError> {
    let ids = crate::tx::walking_indexes(conn, |conn| {
        crate::tx::claim_ids(conn, (CLAIM_PG, CLAIM_SQLITE), now, lease_until, limit)
    })?;
    Ok(ids.into_iter().map(MessageId::new).collect())
}

/// The messages `ids`, claimed by this worker ([`claim_ids`]), with what sending each needs to
/// know, read now: its tenant, whether the consumer opted out, whether the tenant still owns
/// the number it goes from. Oldest first.
pub fn jobs(conn: &mut DbConn, ids: &[MessageId]) -> Result<Vec<Job>, StoreError> {
    let ids: Vec<i64> = ids.iter().map(|id| id.get()).collect();
    crate::tx::reading_indexes(conn, |conn| jobs_of(conn, &ids))
}

fn jobs_of(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<Job>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // One statement: the messages, each beside its tenant and what the two lookups say of it
    // (four statements once, each prepared anew for every length of `ids`: BENCHMARKS.md).
    type Row = (Message, Option<(String, bool)>, bool, bool);
    let rows: Vec<Row> = db_run!(conn, |c| messages::table
        .left_join(tenants::table.on(tenants::id.eq(messages::tenant_id)))
        .filter(messages::id.eq_any(ids))
        .order(messages::id)
        .select((
            Message::as_select(),
            (tenants::subdomain, tenants::active).nullable(),
            diesel::dsl::exists(
                opt_outs::table
                    .filter(opt_outs::tenant_id.eq(messages::tenant_id))
                    .filter(opt_outs::number.eq(messages::to_number)),
            ),
            diesel::dsl::exists(
                outbound_numbers::table
                    .filter(outbound_numbers::tenant_id.eq(messages::tenant_id))
                    .filter(outbound_numbers::number.eq(messages::from_number)),
            ),
        ))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(message, tenant, opted_out, number_owned)| {
            let (subdomain, tenant_active) = tenant.unwrap_or_default();
            Job { subdomain, tenant_active, opted_out, number_owned, message }
        })
        .collect())
}

/// Records the outcome of an attempt on a message this worker is sending: the `$set`
/// assignments, and the end of its lease. A message no longer `sending` (its lease ran out and
/// another worker took it) is left alone (`None`); otherwise the message as it is now.
macro_rules! settle {
    ($conn:expr, $id:expr, $now:expr, $($set:expr),+ $(,)?) => {{
        let target = messages::table
            .filter(messages::id.eq($id.get()))
            .filter(messages::delivery_status.eq(DeliveryStatus::Sending.as_str()));
        let updated: Option<Message> = db_run!($conn, |c| diesel::update(target)
            .set(($($set,)+ messages::locked_until.eq(None::<NaiveDateTime>), messages::updated_at.eq($now)))
            .returning(Message::as_returning())
            .get_result(c)
            .optional())?;
        if let Some(chat_id) = updated.as_ref().and_then(|m| m.chat_id) {
            crate::chats::touch($conn, &[chat_id.get()], $now)?;
        }
        Ok(updated)
    }};
}

/// The provider took the message.
pub fn mark_sent(
    conn: &mut DbConn,
    id: MessageId,
    provider_message_id: Option<&str>,
    now: NaiveDateTime,
) -> Result<Option<Message>, StoreError> {
    settle!(
        conn,
        id,
        now,
        messages::delivery_status.eq(DeliveryStatus::Sent.as_str()),
        messages::provider_message_id.eq(provider_message_id),
        messages::error.eq(None::<String>),
        messages::sent_at.eq(Some(now)),
    )
}

/// Many messages the provider took, as [`mark_sent`] records one: the messages as they are now,
/// those still this sender's. PostgreSQL does it in two statements (a batch's outcomes were one
/// update each, most of the worker's round trips: BENCHMARKS.md); SQLite, in process, one by one.
/// The caller touches their chats ([`chat_ids`]) last in its transaction: touched here, they
/// stayed locked while the events were written, and replies into them waited (BENCHMARKS.md).
pub fn mark_sent_many(
    conn: &mut DbConn,
    sent: &[(MessageId, Option<&str>)],
    now: NaiveDateTime,
) -> Result<Vec<Message>, StoreError> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
    match conn {
        // By primary key, whatever the statistics say: on a table that grew fast since its
        // last analyze, PostgreSQL read 32 messages by id with a sequential scan of 58,278
        // rows (BENCHMARKS.md).
        DbConn::Postgres(_) => crate::tx::walking_indexes(conn, |conn| {
            let ids: Vec<i64> = sent.iter().map(|(id, _)| id.get()).collect();
            let provider_ids: Vec<Option<&str>> = sent.iter().map(|(_, p)| *p).collect();
            let DbConn::Postgres(c) = &mut *conn else { return Ok(Vec::new()) };
            let settled: Vec<SettledId> = diesel::sql_query(MARK_SENT_PG)
                .bind::<Array<BigInt>, _>(ids)
                .bind::<Array<Nullable<Text>>, _>(provider_ids)
                .bind::<Timestamp, _>(now)
                .load(c)?;
            let ids: Vec<i64> = settled.into_iter().map(|s| s.id).collect();
            Ok(messages::table.filter(messages::id.eq_any(&ids)).select(Message::as_select()).load(c)?)
        }),
        DbConn::Sqlite(c) => Ok(crate::kept::mark_sent_each(c, sent, now)?),
    }
}

const MARK_SENT_PG: &str = "UPDATE messages SET delivery_status = 'sent', provider_message_id = v.provider_id, \
       error = NULL, locked_until = NULL, updated_at = $3, sent_at = $3 \
     FROM unnest($1::bigint[], $2::text[]) AS v(id, provider_id) \
     WHERE messages.id = v.id AND messages.delivery_status = 'sending' \
     RETURNING messages.id";

#[derive(QueryableByName)]
struct SettledId {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// A transient fault: queue the message again for `next_attempt_at`, keeping the reason.
pub fn mark_retry(
    conn: &mut DbConn,
    id: MessageId,
    next_attempt_at: NaiveDateTime,
    error: &str,
    now: NaiveDateTime,
) -> Result<Option<Message>, StoreError> {
    settle!(
        conn,
        id,
        now,
        messages::delivery_status.eq(DeliveryStatus::Queued.as_str()),
        messages::next_attempt_at.eq(Some(next_attempt_at)),
        messages::error.eq(Some(error)),
    )
}

/// A permanent fault, or the last attempt failed: the message will not be sent.
pub fn mark_failed(
    conn: &mut DbConn,
    id: MessageId,
    error: &str,
    now: NaiveDateTime,
) -> Result<Option<Message>, StoreError> {
    settle!(
        conn,
        id,
        now,
        messages::delivery_status.eq(DeliveryStatus::Failed.as_str()),
        messages::error.eq(Some(error))
    )
}

/// What a provider's status report did.
#[derive(Debug, Clone)]
pub enum StatusReport {
    /// No message of the tenant has that provider id.
    Unknown,
    /// The report would move the status backwards (or nowhere): ignored.
    Stale,
    /// The message, moved forward.
    Applied(Box<Message>),
}

/// Applies a provider's report about a message, forward only.
pub fn apply_status(
    conn: &mut DbConn,
    tenant_id: TenantId,
    provider_message_id: &str,
    status: DeliveryStatus,
    error: Option<&str>,
    now: NaiveDateTime,
) -> Result<StatusReport, StoreError> {
    transaction(conn, |conn| {
        let found: Option<(i64, String)> = db_run!(conn, |c| messages::table
            .filter(messages::tenant_id.eq(tenant_id.get()))
            .filter(messages::provider_message_id.eq(provider_message_id))
            .select((messages::id, messages::delivery_status))
            .first(c)
            .optional())?;
        let Some((id, current)) = found else { return Ok(StatusReport::Unknown) };
        let current_status = DeliveryStatus::parse(&current).unwrap_or(DeliveryStatus::Queued);
        if !current_status.may_become(status) {
            return Ok(StatusReport::Stale);
        }
        let target = messages::table.filter(messages::id.eq(id)).filter(messages::delivery_status.eq(current));
        let updated: Option<Message> = db_run!(conn, |c| diesel::update(target)
            .set((
                messages::delivery_status.eq(status.as_str()),
                messages::error.eq(error),
                messages::updated_at.eq(now),
            ))
            .returning(Message::as_returning())
            .get_result(c)
            .optional())?;
        let Some(message) = updated else { return Ok(StatusReport::Stale) };
        crate::chats::touch(conn, &chat_ids(std::slice::from_ref(&message)), now)?;
        Ok(StatusReport::Applied(Box::new(message)))
    })
}

/// How many of the tenant's messages from `number` are not sent yet (what removing the number
/// would fail).
pub fn unsent_from(conn: &mut DbConn, tenant_id: TenantId, number: &sms_domain::E164Number) -> Result<i64, StoreError> {
    db_run!(conn, |c| messages::table
        .filter(messages::tenant_id.eq(tenant_id.get()))
        .filter(messages::from_number.eq(number.as_str()))
        .filter(messages::direction.eq(Direction::Outbound.as_str()))
        .filter(messages::delivery_status.eq_any([DeliveryStatus::Queued.as_str(), DeliveryStatus::Sending.as_str()]))
        .count()
        .get_result(c))
    .map_err(StoreError::from)
}

/// Fails every message of the tenant from `number` that is not sent yet (queued, or being sent:
/// a sender that finishes later finds it settled and leaves it), with `error`; answers them.
pub fn fail_unsent_from(
    conn: &mut DbConn,
    tenant_id: TenantId,
    number: &sms_domain::E164Number,
    error: &str,
    now: NaiveDateTime,
) -> Result<Vec<Message>, StoreError> {
    let unsent = messages::table
        .filter(messages::tenant_id.eq(tenant_id.get()))
        .filter(messages::from_number.eq(number.as_str()))
        .filter(messages::direction.eq(Direction::Outbound.as_str()))
        .filter(messages::delivery_status.eq_any([DeliveryStatus::Queued.as_str(), DeliveryStatus::Sending.as_str()]));
    let failed: Vec<Message> = db_run!(conn, |c| diesel::update(unsent)
        .set((
            messages::delivery_status.eq(DeliveryStatus::Failed.as_str()),
            messages::error.eq(Some(error)),
            messages::locked_until.eq(None::<NaiveDateTime>),
            messages::next_attempt_at.eq(None::<NaiveDateTime>),
            messages::updated_at.eq(now),
        ))
        .returning(Message::as_returning())
        .get_results(c))?;
    crate::chats::touch(conn, &chat_ids(&failed), now)?;
    Ok(failed)
}

/// The chats `messages` belong to, each once, in order: for the messages [`mark_sent_many`]
/// answered, what [`crate::chats::touch`] is given last in the transaction that settled them.
pub fn chat_ids(messages: &[Message]) -> Vec<i64> {
    let mut ids: Vec<i64> = messages.iter().filter_map(|m| m.chat_id.map(sms_domain::ChatId::get)).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Outbound messages waiting to be sent or being sent, for the backlog gauge.
pub fn backlog(conn: &mut DbConn) -> Result<i64, StoreError> {
    let waiting = messages::table
        .filter(messages::delivery_status.eq_any([DeliveryStatus::Queued.as_str(), DeliveryStatus::Sending.as_str()]));
    crate::tx::reading_indexes(conn, |conn| db_run!(conn, |c| waiting.count().get_result(c)).map_err(StoreError::from))
}

/// An automatic answer to a keyword.
#[derive(Debug, Clone, Copy)]
pub struct Automatic<'a> {
    pub tenant_id: TenantId,
    /// The consumer's chat it appears in, if any.
    pub chat_id: Option<sms_domain::ChatId>,
    /// The number the consumer wrote to, which answers.
    pub from: &'a sms_domain::E164Number,
    pub to: &'a sms_domain::E164Number,
    pub body: &'a str,
    pub segments: i32,
    /// The keyword it answers: `help`, `opt_out` or `opt_in`.
    pub kind: &'a str,
}

/// Queues an automatic answer for delivery.
pub fn queue_automatic(conn: &mut DbConn, answer: &Automatic<'_>, now: NaiveDateTime) -> Result<Message, StoreError> {
    let new = NewMessage {
        chat_id: answer.chat_id.map(sms_domain::ChatId::get),
        tenant_id: answer.tenant_id.get(),
        direction: Direction::Outbound,
        body: answer.body,
        segments: answer.segments,
        delivery_status: DeliveryStatus::Queued,
        created_at: now,
        updated_at: now,
        from_number: answer.from.as_str(),
        to_number: answer.to.as_str(),
        provider_message_id: None,
        agent_id: None,
        media: None,
        automatic: Some(answer.kind),
    };
    let queued: Message = db_run!(conn, |c| diesel::insert_into(messages::table)
        .values(new)
        .returning(Message::as_returning())
        .get_result(c))?;
    crate::chats::touch(conn, &chat_ids(std::slice::from_ref(&queued)), now)?;
    Ok(queued)
}

/// Hands messages this worker claimed, and did not finish sending, back to the queue, due at
/// once, their interrupted attempt not counted: the instance is shutting down, and another one
/// sends them without waiting for the lease to run out. Only messages still `sending` are
/// touched. Answers how many.
pub fn hand_back(conn: &mut DbConn, ids: &[MessageId], now: NaiveDateTime) -> Result<usize, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = ids.iter().map(|id| id.get()).collect();
    let target = messages::table
        .filter(messages::id.eq_any(&ids))
        .filter(messages::delivery_status.eq(DeliveryStatus::Sending.as_str()));
    Ok(db_run!(conn, |c| diesel::update(target)
        .set((
            messages::delivery_status.eq(DeliveryStatus::Queued.as_str()),
            messages::locked_until.eq(None::<NaiveDateTime>),
            messages::next_attempt_at.eq(Some(now)),
            messages::attempts.eq(messages::attempts - 1),
            messages::updated_at.eq(now),
        ))
        .execute(c))?)
}
