//! The events' outbox: each event's delivery to each endpoint, claimed with a lease like the SMS
//! outbox, its attempts recorded, listed and retried for the admin API, and purged when done.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sms_domain::{DeliveryId, DeliveryState, EndpointId, TenantId};

use crate::schema::{events, webhook_deliveries, webhook_endpoints};
use crate::{DbConn, StoreError, WebhookDelivery, WebhookEndpoint, Window};

/// A delivery's states, as stored.
pub(crate) const PENDING: &str = DeliveryState::Pending.as_str();
const DELIVERED: &str = DeliveryState::Delivered.as_str();
const FAILED: &str = DeliveryState::Failed.as_str();

/// A delivery with its event's type and public id, as the admin API lists it.
pub type DeliveryRow = (WebhookDelivery, String, String);

/// A page of an endpoint's deliveries, newest first, optionally of one status, and how many.
pub fn list(
    conn: &mut DbConn,
    endpoint_id: EndpointId,
    status: Option<DeliveryState>,
    window: Window,
) -> Result<(Vec<DeliveryRow>, i64), StoreError> {
    macro_rules! filtered {
        () => {{
            let mut query = webhook_deliveries::table
                .inner_join(events::table)
                .filter(webhook_deliveries::endpoint_id.eq(endpoint_id.get()))
                .into_boxed();
            if let Some(status) = status {
                query = query.filter(webhook_deliveries::status.eq(status.as_str()));
            }
            query
        }};
    }
    db_run!(conn, |c| {
        let total: i64 = filtered!().count().get_result(c)?;
        let rows = filtered!()
            .order(webhook_deliveries::id.desc())
            .offset(window.offset)
            .limit(window.limit)
            .select((WebhookDelivery::as_select(), events::event_id, events::event_type))
            .load(c)?;
        Ok((rows, total))
    })
}

/// One delivery of an endpoint.
pub fn find(conn: &mut DbConn, endpoint_id: EndpointId, id: DeliveryId) -> Result<Option<DeliveryRow>, StoreError> {
    db_run!(conn, |c| webhook_deliveries::table
        .inner_join(events::table)
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id.get()))
        .filter(webhook_deliveries::id.eq(id.get()))
        .select((WebhookDelivery::as_select(), events::event_id, events::event_type))
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// Makes a delivery pending again, due at once, its attempts starting over.
pub fn retry(
    conn: &mut DbConn,
    endpoint_id: EndpointId,
    id: DeliveryId,
    now: NaiveDateTime,
) -> Result<Option<DeliveryRow>, StoreError> {
    crate::transaction(conn, |conn| {
        let target = webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id.get()))
            .filter(webhook_deliveries::id.eq(id.get()));
        let changed = db_run!(conn, |c| diesel::update(target)
            .set((
                webhook_deliveries::status.eq(PENDING),
                webhook_deliveries::attempts.eq(0),
                webhook_deliveries::next_attempt_at.eq(Some(now)),
                webhook_deliveries::delivered_at.eq(None::<NaiveDateTime>),
            ))
            .execute(c))?;
        if changed == 0 {
            return Ok(None);
        }
        find(conn, endpoint_id, id)
    })
}

/// A delivery claimed for one attempt, with what the attempt needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: DeliveryId,
    pub tenant_id: TenantId,
    pub endpoint_id: EndpointId,
    /// Attempts so far, this one included; also the claim's mark: only a settle with the same
    /// count takes effect, so a claimer whose lease ran out cannot overwrite a later attempt.
    pub attempts: i32,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    pub url: String,
    pub secret: String,
    /// The secret before the last rotation, while it still signs.
    pub previous_secret: Option<String>,
    /// How the endpoint is posted to and signed for.
    pub format: sms_domain::EndpointFormat,
}

/// The enabled endpoints of active tenants that have a due delivery, none of those listed in
/// `$2` (a JSON array of ids: those this instance has as many requests in flight to as it may).
/// Each probe of the deliveries is one lookup in `webhook_deliveries_endpoint_due`.
const DUE_ENDPOINTS: &str = "SELECT w.id FROM webhook_endpoints w JOIN tenants t ON t.id = w.tenant_id \
   WHERE NOT w.disabled AND t.active AND w.id NOT IN (SELECT CAST(value AS BIGINT) FROM BUSY) \
     AND EXISTS (SELECT 1 FROM webhook_deliveries d \
       WHERE d.endpoint_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= $1)";

/// PostgreSQL: the oldest due deliveries of each such endpoint, at most `$4` of one (each
/// endpoint's read from the index in order, so the cost does not grow with the backlog), up to
/// `$3` in all, locked, skipping those another instance is claiming.
fn claim_sql_pg() -> String {
    let endpoints = DUE_ENDPOINTS.replace("BUSY", "json_array_elements_text(CAST($5 AS json))").replace("$1", "$2");
    format!(
        "UPDATE webhook_deliveries SET next_attempt_at = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT d.id FROM ({endpoints}) w CROSS JOIN LATERAL \
           (SELECT id, next_attempt_at FROM webhook_deliveries \
             WHERE endpoint_id = w.id AND status = 'pending' AND next_attempt_at <= $2 \
             ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) d \
           ORDER BY d.next_attempt_at, d.id LIMIT $3) \
         RETURNING id"
    )
}

/// SQLite (no `LATERAL`): the endpoints, then each one's oldest due deliveries, then the claim,
/// in one transaction of the single writer.
fn claim_ids_sqlite(
    conn: &mut DbConn,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limits: ClaimLimits<'_>,
    busy: &str,
) -> Result<Vec<i64>, StoreError> {
    use diesel::sql_types::{Text, Timestamp};
    #[derive(QueryableByName)]
    struct EndpointRow {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let endpoints_sql = DUE_ENDPOINTS.replace("BUSY", "json_each(?2)").replace("$1", "?1");
    crate::transaction(conn, |conn| {
        let DbConn::Sqlite(c) = conn else { return Err(StoreError::Config("not SQLite".into())) };
        let endpoints: Vec<EndpointRow> =
            diesel::sql_query(&endpoints_sql).bind::<Timestamp, _>(now).bind::<Text, _>(busy).load(c)?;
        let mut due: Vec<(NaiveDateTime, i64)> = Vec::new();
        for endpoint in endpoints {
            let oldest: Vec<(NaiveDateTime, i64)> = webhook_deliveries::table
                .filter(webhook_deliveries::endpoint_id.eq(endpoint.id))
                .filter(webhook_deliveries::status.eq(PENDING))
                .filter(webhook_deliveries::next_attempt_at.le(now))
                .order((webhook_deliveries::next_attempt_at, webhook_deliveries::id))
                .limit(limits.per_endpoint)
                .select((webhook_deliveries::next_attempt_at.assume_not_null(), webhook_deliveries::id))
                .load(c)?;
            due.extend(oldest);
        }
        due.sort_unstable();
        due.truncate(usize::try_from(limits.limit).unwrap_or(0));
        let ids: Vec<i64> = due.into_iter().map(|(_, id)| id).collect();
        diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids)))
            .set((
                webhook_deliveries::next_attempt_at.eq(Some(lease_until)),
                webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
            ))
            .execute(c)?;
        Ok(ids)
    })
}

#[derive(QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// How much to claim: up to `limit` deliveries, at most `per_endpoint` of any one endpoint, none
/// of the `busy` endpoints.
#[derive(Debug, Clone, Copy)]
pub struct ClaimLimits<'a> {
    pub limit: i64,
    pub per_endpoint: i64,
    pub busy: &'a [EndpointId],
}

/// Claims due deliveries of enabled endpoints of active tenants. A claimed delivery is next due
/// when the lease ends (`lease_until`): if its claimer dies, another instance posts it then. Two
/// instances never claim the same delivery at once. Answers their ids, for [`claimed`] to read
/// after the claim's commit ([`crate::Store::claim_then_read`]): on SQLite the claim is a write,
/// run by the store's one writer between everyone's writes, and the read of the deliveries with
/// their events and endpoints runs beside the writer, on a connection of the worker's own
/// (BENCHMARKS.md).
pub fn claim_ids(
    conn: &mut DbConn,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limits: ClaimLimits<'_>,
) -> Result<Vec<DeliveryId>, StoreError> {
    let ids = crate::tx::walking_indexes(conn, |conn| claimed_ids(conn, now, lease_until, limits))?;
    Ok(ids.into_iter().map(DeliveryId::new).collect())
}

/// The deliveries `ids`, claimed by this worker ([`claim_ids`]), with what an attempt needs,
/// read at `now`, in the order they were written.
pub fn claimed(conn: &mut DbConn, ids: &[DeliveryId], now: NaiveDateTime) -> Result<Vec<Claimed>, StoreError> {
    let ids: Vec<i64> = ids.iter().map(|id| id.get()).collect();
    let read = crate::tx::reading_indexes(conn, |conn| read_claimed(conn, &ids, now))?;
    Ok(read.into_iter().map(|(claimed, _)| claimed).collect())
}

fn claimed_ids(
    conn: &mut DbConn,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limits: ClaimLimits<'_>,
) -> Result<Vec<i64>, StoreError> {
    use diesel::sql_types::{BigInt, Text, Timestamp};
    let busy = format!("[{}]", limits.busy.iter().map(|id| id.get().to_string()).collect::<Vec<_>>().join(","));
    let ids: Vec<i64> = match conn {
        DbConn::Postgres(c) => {
            let claimed: Vec<ClaimedId> = diesel::sql_query(claim_sql_pg())
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limits.limit)
                .bind::<BigInt, _>(limits.per_endpoint)
                .bind::<Text, _>(&busy)
                .load(c)?;
            claimed.into_iter().map(|c| c.id).collect()
        }
        DbConn::Sqlite(_) => claim_ids_sqlite(conn, now, lease_until, limits, &busy)?,
    };
    Ok(ids)
}

/// The deliveries written leased to this instance's event worker ([`crate::events::record_many`]),
/// read for their attempt: those it may post now, and those it may not (their endpoint is
/// disabled or their tenant deactivated), which it hands back to wait like any other.
pub fn handed(
    conn: &mut DbConn,
    ids: &[DeliveryId],
    now: NaiveDateTime,
) -> Result<(Vec<Claimed>, Vec<Claimed>), StoreError> {
    let ids: Vec<i64> = ids.iter().map(|id| id.get()).collect();
    // Through the indexes, as a claim reads its rows: on statistics that lag behind the queue,
    // PostgreSQL joined these few rows to the events by a scan (7 ms a read; BENCHMARKS.md).
    let read = crate::tx::reading_indexes(conn, |conn| read_claimed(conn, &ids, now))?;
    let tenant_ids: Vec<i64> = read.iter().map(|(claimed, _)| claimed.tenant_id.get()).collect();
    let active: Vec<i64> = db_run!(conn, |c| crate::schema::tenants::table
        .filter(crate::schema::tenants::id.eq_any(&tenant_ids))
        .filter(crate::schema::tenants::active.eq(true))
        .select(crate::schema::tenants::id)
        .load(c))?;
    let (ready, waiting): (Vec<_>, Vec<_>) =
        read.into_iter().partition(|(claimed, enabled)| *enabled && active.contains(&claimed.tenant_id.get()));
    let strip = |rows: Vec<(Claimed, bool)>| rows.into_iter().map(|(claimed, _)| claimed).collect();
    Ok((strip(ready), strip(waiting)))
}

/// Hands back deliveries written leased to this instance's event worker that it never
/// attempted (it is shutting down, or their endpoint is disabled): due at once again, their
/// attempt not counted. Answers how many.
pub fn hand_back(conn: &mut DbConn, ids: &[DeliveryId], now: NaiveDateTime) -> Result<usize, StoreError> {
    let ids: Vec<i64> = ids.iter().map(|id| id.get()).collect();
    let target = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq_any(&ids))
        .filter(settle::still_pending())
        .filter(webhook_deliveries::attempts.gt(0));
    db_run!(conn, |c| diesel::update(target)
        .set((
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts - 1),
            webhook_deliveries::next_attempt_at.eq(Some(now)),
        ))
        .execute(c))
    .map_err(StoreError::from)
}

/// Claimed deliveries with what an attempt needs, and whether their endpoint is enabled.
fn read_claimed(conn: &mut DbConn, ids: &[i64], now: NaiveDateTime) -> Result<Vec<(Claimed, bool)>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    type Row = (WebhookDelivery, (String, String, String), WebhookEndpoint);
    let rows: Vec<Row> = db_run!(conn, |c| webhook_deliveries::table
        .inner_join(events::table)
        .inner_join(webhook_endpoints::table)
        .filter(webhook_deliveries::id.eq_any(ids))
        .order(webhook_deliveries::id)
        .select((
            WebhookDelivery::as_select(),
            (events::event_id, events::event_type, events::payload),
            WebhookEndpoint::as_select(),
        ))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(d, (event_id, event_type, payload), endpoint)| {
            let enabled = !endpoint.disabled;
            let claimed = Claimed {
                id: d.id,
                tenant_id: d.tenant_id,
                endpoint_id: d.endpoint_id,
                attempts: d.attempts,
                event_id,
                event_type,
                payload,
                url: endpoint.url,
                format: endpoint.format,
                previous_secret: endpoint
                    .previous_secret
                    .filter(|_| endpoint.previous_secret_until.is_some_and(|t| t > now)),
                secret: endpoint.secret,
            };
            (claimed, enabled)
        })
        .collect())
}

/// Fails the deliveries that have waited for a disabled endpoint since `cutoff` (both the
/// delivery and the endpoint's disabling at or before it), with error `endpoint disabled`; an
/// admin's retry sends one again. Answers how many.
pub fn expire_disabled(conn: &mut DbConn, cutoff: NaiveDateTime) -> Result<usize, StoreError> {
    let disabled_since = webhook_endpoints::table
        .filter(webhook_endpoints::disabled.eq(true))
        .filter(webhook_endpoints::disabled_at.le(cutoff))
        .select(webhook_endpoints::id);
    let waiting = webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(PENDING))
        .filter(webhook_deliveries::created_at.le(cutoff))
        .filter(webhook_deliveries::endpoint_id.eq_any(disabled_since));
    db_run!(conn, |c| diesel::update(waiting)
        .set((
            webhook_deliveries::status.eq(FAILED),
            webhook_deliveries::last_error.eq(Some("endpoint disabled")),
            webhook_deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
        ))
        .execute(c))
    .map_err(StoreError::from)
}

mod settle;

pub use settle::{settle, settle_all, Attempt};

/// Pending deliveries, for the backlog gauge.
pub fn backlog(conn: &mut DbConn) -> Result<i64, StoreError> {
    crate::tx::reading_indexes(conn, |conn| {
        db_run!(conn, |c| webhook_deliveries::table
            .filter(webhook_deliveries::status.eq(PENDING))
            .count()
            .get_result(c))
        .map_err(StoreError::from)
    })
}

/// Deletes at most `at_most` deliveries that ended (delivered or failed) before `before`, or were
/// left pending for an endpoint deleted as they were written (PostgreSQL keeps no key from a
/// delivery to its endpoint: migration `hot_parent_keys`; no claim ever takes them), and
/// at most `at_most` events of that time left with no delivery; answers how many of each went.
/// Bounded so that a purge is one short write among the requests' (call it again while either
/// count reaches `at_most`). Both are found from the events' `created_at` index, an event's
/// deliveries being made with it: when nothing is that old the purge reads one index entry,
/// where filtering the deliveries on their own columns read the whole table every sweep.
pub fn purge_finished(conn: &mut DbConn, before: NaiveDateTime, at_most: usize) -> Result<(usize, usize), StoreError> {
    let limit = i64::try_from(at_most).unwrap_or(i64::MAX);
    let finished: Vec<i64> = db_run!(conn, |c| webhook_deliveries::table
        .inner_join(events::table)
        .filter(events::created_at.lt(before))
        .filter(webhook_deliveries::status.ne(PENDING).or(diesel::dsl::not(diesel::dsl::exists(
            webhook_endpoints::table.filter(webhook_endpoints::id.eq(webhook_deliveries::endpoint_id)),
        ))))
        .filter(webhook_deliveries::created_at.lt(before))
        .select(webhook_deliveries::id)
        .limit(limit)
        .load(c))?;
    let purged =
        db_run!(conn, |c| diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&finished)))
            .execute(c))?;
    let orphans: Vec<i64> = db_run!(conn, |c| events::table
        .select(events::id)
        .filter(events::created_at.lt(before))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            webhook_deliveries::table.filter(webhook_deliveries::event_id.eq(events::id)),
        )))
        .limit(limit)
        .load(c))?;
    let orphaned = db_run!(conn, |c| diesel::delete(events::table.filter(events::id.eq_any(&orphans))).execute(c))?;
    Ok((purged, orphaned))
}
