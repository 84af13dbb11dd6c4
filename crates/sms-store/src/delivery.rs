//! The outbox: claiming queued messages for delivery, recording outcomes, provider status
//! reports, consumer replies and opt-outs.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use sms_domain::delivery::DeliveryStatus;
use sms_domain::{Direction, DisconnectedBy, E164Number};

use crate::chats::EndedChat;
use crate::models::NewMessage;
use crate::schema::{chats, inbound_receipts, messages, opt_outs, tenants, unrouted_messages};
use crate::tx::transaction;
use crate::{Chat, DbConn, Message, OptOut, StoreError, UnroutedMessage, Window};

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
}

const CLAIM_PG: &str =
    "UPDATE messages SET delivery_status = 'sending', locked_until = $1, attempts = attempts + 1, updated_at = $2 \
     WHERE id IN (SELECT id FROM messages WHERE direction = 'outbound' AND \
       ((delivery_status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= $2)) \
        OR (delivery_status = 'sending' AND locked_until < $2)) \
       ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING id";

// SQLite has one writer at a time: the statement itself is the claim.
const CLAIM_SQLITE: &str =
    "UPDATE messages SET delivery_status = 'sending', locked_until = ?1, attempts = attempts + 1, updated_at = ?2 \
     WHERE id IN (SELECT id FROM messages WHERE direction = 'outbound' AND \
       ((delivery_status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?2)) \
        OR (delivery_status = 'sending' AND locked_until < ?2)) \
       ORDER BY id LIMIT ?3) \
     RETURNING id";

/// Claims up to `limit` messages that are due: queued ones whose next attempt has come, and
/// ones whose sender's lease ran out (it crashed or hung). Each is leased until `lease_until`
/// and its attempt counted; two workers never claim the same message at once.
pub fn claim(
    conn: &mut DbConn,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Job>, StoreError> {
    let ids = crate::tx::claim_ids(conn, (CLAIM_PG, CLAIM_SQLITE), now, lease_until, limit)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let claimed: Vec<Message> = db_run!(conn, |c| messages::table
        .filter(messages::id.eq_any(&ids))
        .order(messages::id)
        .select(Message::as_select())
        .load(c))?;
    let tenant_ids: Vec<i64> = claimed.iter().map(|m| m.tenant_id).collect();
    let names: Vec<(i64, String, bool)> = db_run!(conn, |c| tenants::table
        .filter(tenants::id.eq_any(&tenant_ids))
        .select((tenants::id, tenants::subdomain, tenants::active))
        .load(c))?;
    let numbers: Vec<&str> = claimed.iter().map(|m| m.to_number.as_str()).collect();
    let opted_out: Vec<(i64, String)> = db_run!(conn, |c| opt_outs::table
        .filter(opt_outs::tenant_id.eq_any(&tenant_ids))
        .filter(opt_outs::number.eq_any(&numbers))
        .select((opt_outs::tenant_id, opt_outs::number))
        .load(c))?;
    Ok(claimed
        .into_iter()
        .map(|message| {
            let tenant = names.iter().find(|(id, _, _)| *id == message.tenant_id);
            let subdomain = tenant.map(|(_, s, _)| s.clone()).unwrap_or_default();
            let opted_out = opted_out.iter().any(|(t, n)| *t == message.tenant_id && *n == message.to_number);
            Job { subdomain, tenant_active: tenant.is_some_and(|(_, _, active)| *active), opted_out, message }
        })
        .collect())
}

/// Records the outcome of an attempt on a message this worker is sending: the `$set`
/// assignments, and the end of its lease. A message no longer `sending` (its lease ran out and
/// another worker took it) is left alone (`None`); otherwise the message as it is now.
macro_rules! settle {
    ($conn:expr, $id:expr, $now:expr, $($set:expr),+ $(,)?) => {{
        let target = messages::table
            .filter(messages::id.eq($id))
            .filter(messages::delivery_status.eq(DeliveryStatus::Sending.as_str()));
        let updated: Option<Message> = db_run!($conn, |c| diesel::update(target)
            .set(($($set,)+ messages::locked_until.eq(None::<NaiveDateTime>), messages::updated_at.eq($now)))
            .returning(Message::as_returning())
            .get_result(c)
            .optional())?;
        Ok(updated)
    }};
}

/// The provider took the message.
pub fn mark_sent(
    conn: &mut DbConn,
    id: i64,
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
    )
}

/// Many messages the provider took, as [`mark_sent`] records one: the messages as they are now,
/// those still this sender's. PostgreSQL does it in two statements (a batch's outcomes were one
/// update each, most of the worker's round trips: BENCHMARKS.md); SQLite, in process, one by one.
pub fn mark_sent_many(
    conn: &mut DbConn,
    sent: &[(i64, Option<&str>)],
    now: NaiveDateTime,
) -> Result<Vec<Message>, StoreError> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
    match conn {
        DbConn::Postgres(c) => {
            let ids: Vec<i64> = sent.iter().map(|(id, _)| *id).collect();
            let provider_ids: Vec<Option<&str>> = sent.iter().map(|(_, p)| *p).collect();
            let settled: Vec<SettledId> = diesel::sql_query(MARK_SENT_PG)
                .bind::<Array<BigInt>, _>(ids)
                .bind::<Array<Nullable<Text>>, _>(provider_ids)
                .bind::<Timestamp, _>(now)
                .load(c)?;
            let ids: Vec<i64> = settled.into_iter().map(|s| s.id).collect();
            Ok(messages::table.filter(messages::id.eq_any(&ids)).select(Message::as_select()).load(c)?)
        }
        DbConn::Sqlite(_) => {
            let mut settled = Vec::with_capacity(sent.len());
            for (id, provider_message_id) in sent {
                settled.extend(mark_sent(conn, *id, *provider_message_id, now)?);
            }
            Ok(settled)
        }
    }
}

const MARK_SENT_PG: &str = "UPDATE messages SET delivery_status = 'sent', provider_message_id = v.provider_id, \
       error = NULL, locked_until = NULL, updated_at = $3 \
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
    id: i64,
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
pub fn mark_failed(conn: &mut DbConn, id: i64, error: &str, now: NaiveDateTime) -> Result<Option<Message>, StoreError> {
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
    tenant_id: i64,
    provider_message_id: &str,
    status: DeliveryStatus,
    error: Option<&str>,
    now: NaiveDateTime,
) -> Result<StatusReport, StoreError> {
    transaction(conn, |conn| {
        let found: Option<(i64, String)> = db_run!(conn, |c| messages::table
            .filter(messages::tenant_id.eq(tenant_id))
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
        Ok(updated.map_or(StatusReport::Stale, |m| StatusReport::Applied(Box::new(m))))
    })
}

/// Where a consumer's reply went.
#[derive(Debug, Clone)]
pub enum Inbound {
    /// Added to the consumer's active chat, whose timeout starts again; the chat's lock token
    /// is answered so the session lock can be refreshed too.
    Joined { chat: Box<Chat>, end_user_number: String, message: Box<Message> },
    /// No active chat for this consumer and number: kept aside.
    Unrouted(Box<UnroutedMessage>),
}

/// A consumer's reply as the provider reported it.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    pub from: &'a E164Number,
    pub to: &'a E164Number,
    pub body: &'a str,
    pub segments: i32,
    /// The provider's id of the message.
    pub sid: Option<&'a str>,
    /// An MMS's media, as JSON (`[{"url", "content_type"}]`).
    pub media: Option<&'a str>,
}

/// Records a consumer's reply: into their active chat with this tenant and outbound number,
/// or aside when there is none.
pub fn record_inbound(
    conn: &mut DbConn,
    tenant_id: i64,
    reply: &Reply<'_>,
    now: NaiveDateTime,
    session_timeout: Duration,
) -> Result<Inbound, StoreError> {
    let Reply { from, to, body, segments, sid: provider_message_id, media } = *reply;
    let active = crate::chats::active_chat(conn, tenant_id, from)?
        .filter(|chat| chat.outbound_number == to.as_str() && chat.expires_at > now);
    transaction(conn, |conn| {
        let Some(chat) = active else {
            let kept: UnroutedMessage = db_run!(conn, |c| diesel::insert_into(unrouted_messages::table)
                .values((
                    unrouted_messages::tenant_id.eq(tenant_id),
                    unrouted_messages::from_number.eq(from.as_str()),
                    unrouted_messages::to_number.eq(to.as_str()),
                    unrouted_messages::body.eq(body),
                    unrouted_messages::provider_message_id.eq(provider_message_id),
                    unrouted_messages::created_at.eq(now),
                    unrouted_messages::media.eq(media),
                ))
                .returning(UnroutedMessage::as_returning())
                .get_result(c))?;
            return Ok(Inbound::Unrouted(Box::new(kept)));
        };
        let message = NewMessage {
            chat_id: Some(chat.id),
            tenant_id,
            direction: Direction::Inbound,
            body,
            segments,
            delivery_status: DeliveryStatus::Received,
            created_at: now,
            updated_at: now,
            from_number: from.as_str(),
            to_number: to.as_str(),
            provider_message_id,
            agent_id: None,
            media,
            automatic: None,
        };
        let message: Message = db_run!(conn, |c| diesel::insert_into(messages::table)
            .values(message)
            .returning(Message::as_returning())
            .get_result(c))?;
        let expires_at = now + session_timeout;
        db_run!(conn, |c| diesel::update(chats::table.filter(chats::id.eq(chat.id)))
            .set((chats::last_activity_at.eq(now), chats::expires_at.eq(expires_at)))
            .execute(c))?;
        Ok(Inbound::Joined {
            chat: Box::new(Chat { last_activity_at: now, expires_at, ..chat }),
            end_user_number: from.as_str().to_owned(),
            message: Box::new(message),
        })
    })
}

/// Records that the consumer opted out of the tenant's messages; `false` when they had already.
pub fn record_opt_out(conn: &mut DbConn, tenant_id: i64, number: &str, now: NaiveDateTime) -> Result<bool, StoreError> {
    let inserted = db_run!(conn, |c| diesel::insert_into(opt_outs::table)
        .values((opt_outs::tenant_id.eq(tenant_id), opt_outs::number.eq(number), opt_outs::created_at.eq(now)))
        .on_conflict((opt_outs::tenant_id, opt_outs::number))
        .do_nothing()
        .execute(c))?;
    Ok(inserted > 0)
}

/// Opts the consumer out and ends their active chat with the tenant, if any (answered, so its
/// lock can be released).
pub fn opt_out(
    conn: &mut DbConn,
    tenant_id: i64,
    number: &E164Number,
    now: NaiveDateTime,
) -> Result<Option<EndedChat>, StoreError> {
    record_opt_out(conn, tenant_id, number.as_str(), now)?;
    let Some(chat) = crate::chats::active_chat(conn, tenant_id, number)? else { return Ok(None) };
    match crate::chats::end(conn, tenant_id, chat.id, DisconnectedBy::EndUser, now)? {
        crate::chats::EndOutcome::Ended { ended, .. } => Ok(Some(ended)),
        _ => Ok(None),
    }
}

/// Deletes the replies kept aside (no active chat) that arrived before `before`; answers how
/// many. They hold numbers and texts of people nobody answered: they are not kept forever.
pub fn purge_unrouted(conn: &mut DbConn, before: NaiveDateTime) -> Result<usize, StoreError> {
    db_run!(conn, |c| diesel::delete(unrouted_messages::table.filter(unrouted_messages::created_at.lt(before)))
        .execute(c))
    .map_err(StoreError::from)
}

/// Opts the consumer back in; `false` when they were not opted out.
pub fn opt_in(conn: &mut DbConn, tenant_id: i64, number: &str) -> Result<bool, StoreError> {
    let target = opt_outs::table.filter(opt_outs::tenant_id.eq(tenant_id)).filter(opt_outs::number.eq(number));
    let deleted = db_run!(conn, |c| diesel::delete(target).execute(c))?;
    Ok(deleted > 0)
}

/// A page of the tenant's opt-outs, oldest first, and how many it has.
pub fn list_opt_outs(conn: &mut DbConn, tenant_id: i64, window: Window) -> Result<(Vec<OptOut>, i64), StoreError> {
    let owned = opt_outs::table.filter(opt_outs::tenant_id.eq(tenant_id));
    db_run!(conn, |c| {
        let total: i64 = owned.count().get_result(c)?;
        let rows =
            owned.order(opt_outs::id).offset(window.offset).limit(window.limit).select(OptOut::as_select()).load(c)?;
        Ok((rows, total))
    })
}

/// Whether the consumer opted out of the tenant's messages.
pub fn is_opted_out(conn: &mut DbConn, tenant_id: i64, number: &str) -> Result<bool, StoreError> {
    let found = opt_outs::table.filter(opt_outs::tenant_id.eq(tenant_id)).filter(opt_outs::number.eq(number));
    db_run!(conn, |c| diesel::select(diesel::dsl::exists(found)).get_result(c)).map_err(StoreError::from)
}

/// Outbound messages waiting to be sent or being sent, for the backlog gauge.
pub fn backlog(conn: &mut DbConn) -> Result<i64, StoreError> {
    let waiting = messages::table
        .filter(messages::delivery_status.eq_any([DeliveryStatus::Queued.as_str(), DeliveryStatus::Sending.as_str()]));
    db_run!(conn, |c| waiting.count().get_result(c)).map_err(StoreError::from)
}

/// Takes note of an inbound callback's `MessageSid`; `false` when the tenant had taken it
/// already (a replay).
pub fn first_receipt(conn: &mut DbConn, tenant_id: i64, sid: &str, now: NaiveDateTime) -> Result<bool, StoreError> {
    let inserted = db_run!(conn, |c| diesel::insert_into(inbound_receipts::table)
        .values((
            inbound_receipts::tenant_id.eq(tenant_id),
            inbound_receipts::message_sid.eq(sid),
            inbound_receipts::created_at.eq(now),
        ))
        .on_conflict((inbound_receipts::tenant_id, inbound_receipts::message_sid))
        .do_nothing()
        .execute(c))?;
    Ok(inserted > 0)
}

/// Forgets the receipts taken before `before`; answers how many.
pub fn purge_receipts(conn: &mut DbConn, before: NaiveDateTime) -> Result<usize, StoreError> {
    db_run!(conn, |c| diesel::delete(inbound_receipts::table.filter(inbound_receipts::created_at.lt(before)))
        .execute(c))
    .map_err(StoreError::from)
}

/// An automatic answer to a keyword.
#[derive(Debug, Clone, Copy)]
pub struct Automatic<'a> {
    pub tenant_id: i64,
    /// The consumer's chat it appears in, if any.
    pub chat_id: Option<i64>,
    /// The number the consumer wrote to, which answers.
    pub from: &'a str,
    pub to: &'a str,
    pub body: &'a str,
    pub segments: i32,
    /// The keyword it answers: `help`, `opt_out` or `opt_in`.
    pub kind: &'a str,
}

/// Queues an automatic answer for delivery.
pub fn queue_automatic(conn: &mut DbConn, answer: &Automatic<'_>, now: NaiveDateTime) -> Result<Message, StoreError> {
    let new = NewMessage {
        chat_id: answer.chat_id,
        tenant_id: answer.tenant_id,
        direction: Direction::Outbound,
        body: answer.body,
        segments: answer.segments,
        delivery_status: DeliveryStatus::Queued,
        created_at: now,
        updated_at: now,
        from_number: answer.from,
        to_number: answer.to,
        provider_message_id: None,
        agent_id: None,
        media: None,
        automatic: Some(answer.kind),
    };
    db_run!(conn, |c| diesel::insert_into(messages::table).values(new).returning(Message::as_returning()).get_result(c))
        .map_err(StoreError::from)
}
