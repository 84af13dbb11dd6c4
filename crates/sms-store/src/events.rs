//! Event webhooks: the tenant's endpoints, the events that happened, and their deliveries (the
//! events' outbox, claimed with a lease like the SMS outbox).
//!
//! [`record_many`] writes events and one pending delivery per endpoint that receives each, in
//! the caller's transaction: the change that caused the event and the event commit together.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp};

use crate::schema::{events, webhook_deliveries, webhook_endpoints};
use crate::{DbConn, StoreError, WebhookDelivery, WebhookEndpoint, Window};

/// A delivery's states, as stored and answered.
pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

/// A new endpoint.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_endpoints)]
pub struct NewEndpoint {
    pub tenant_id: i64,
    pub url: String,
    pub events: String,
    pub description: Option<String>,
    pub disabled: bool,
    pub secret: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A partial update of an endpoint; `None` leaves a field as it is (for `description`, the
/// inner `None` clears it).
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub events: Option<String>,
    pub description: Option<Option<String>>,
    pub disabled: Option<bool>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn create_endpoint(conn: &mut DbConn, new: &NewEndpoint) -> Result<WebhookEndpoint, StoreError> {
    db_run!(conn, |c| diesel::insert_into(webhook_endpoints::table)
        .values(new)
        .returning(WebhookEndpoint::as_returning())
        .get_result(c))
    .map_err(StoreError::from)
}

/// A page of the tenant's endpoints, oldest first, and how many it has.
pub fn list_endpoints(
    conn: &mut DbConn,
    tenant_id: i64,
    window: Window,
) -> Result<(Vec<WebhookEndpoint>, i64), StoreError> {
    let owned = webhook_endpoints::table.filter(webhook_endpoints::tenant_id.eq(tenant_id));
    db_run!(conn, |c| {
        let total: i64 = owned.count().get_result(c)?;
        let rows = owned
            .order(webhook_endpoints::id)
            .offset(window.offset)
            .limit(window.limit)
            .select(WebhookEndpoint::as_select())
            .load(c)?;
        Ok((rows, total))
    })
}

/// An endpoint of the tenant; another tenant's is `None` exactly like a missing one.
pub fn find_endpoint(conn: &mut DbConn, tenant_id: i64, id: i64) -> Result<Option<WebhookEndpoint>, StoreError> {
    db_run!(conn, |c| webhook_endpoints::table
        .filter(webhook_endpoints::tenant_id.eq(tenant_id))
        .filter(webhook_endpoints::id.eq(id))
        .select(WebhookEndpoint::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

pub fn update_endpoint(
    conn: &mut DbConn,
    tenant_id: i64,
    id: i64,
    changes: &EndpointChanges,
) -> Result<Option<WebhookEndpoint>, StoreError> {
    let target = webhook_endpoints::table
        .filter(webhook_endpoints::tenant_id.eq(tenant_id))
        .filter(webhook_endpoints::id.eq(id));
    db_run!(conn, |c| diesel::update(target)
        .set(changes)
        .returning(WebhookEndpoint::as_returning())
        .get_result(c)
        .optional())
    .map_err(StoreError::from)
}

/// Deletes an endpoint and, with it, its deliveries; `false` when there was none.
pub fn delete_endpoint(conn: &mut DbConn, tenant_id: i64, id: i64) -> Result<bool, StoreError> {
    crate::transaction(conn, |conn| {
        let owned = find_endpoint(conn, tenant_id, id)?.is_some();
        if owned {
            db_run!(conn, |c| diesel::delete(
                webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id))
            )
            .execute(c))?;
            db_run!(conn, |c| diesel::delete(webhook_endpoints::table.filter(webhook_endpoints::id.eq(id)))
                .execute(c))?;
        }
        Ok(owned)
    })
}

/// Replaces the endpoint's secret; the one it replaces keeps signing until `previous_until`.
pub fn rotate_secret(
    conn: &mut DbConn,
    tenant_id: i64,
    id: i64,
    secret: &str,
    previous_until: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Option<WebhookEndpoint>, StoreError> {
    crate::transaction(conn, |conn| {
        let Some(current) = find_endpoint(conn, tenant_id, id)? else { return Ok(None) };
        db_run!(conn, |c| diesel::update(webhook_endpoints::table.filter(webhook_endpoints::id.eq(id)))
            .set((
                webhook_endpoints::secret.eq(secret),
                webhook_endpoints::previous_secret.eq(Some(&current.secret)),
                webhook_endpoints::previous_secret_until.eq(Some(previous_until)),
                webhook_endpoints::updated_at.eq(now),
            ))
            .returning(WebhookEndpoint::as_returning())
            .get_result(c)
            .optional())
        .map_err(StoreError::from)
    })
}

/// An event as it happened: its public id, its type and the body every delivery posts.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub tenant_id: i64,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub payload: &'a str,
    pub at: NaiveDateTime,
}

/// The tenant's endpoints, with the event types each receives (separated by spaces), enabled
/// or not.
pub fn endpoints_by_type(conn: &mut DbConn, tenant_id: i64) -> Result<Vec<(i64, String)>, StoreError> {
    db_run!(conn, |c| webhook_endpoints::table
        .filter(webhook_endpoints::tenant_id.eq(tenant_id))
        .select((webhook_endpoints::id, webhook_endpoints::events))
        .load(c))
    .map_err(StoreError::from)
}

/// Writes the events, each with a pending delivery to each of its endpoints, due at once: two
/// statements in all, whatever their number.
pub fn record_many(conn: &mut DbConn, batch: &[(NewEvent<'_>, Vec<i64>)]) -> Result<(), StoreError> {
    let batch: Vec<_> = batch.iter().filter(|(_, endpoints)| !endpoints.is_empty()).collect();
    if batch.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = batch
        .iter()
        .map(|(event, _)| {
            (
                events::tenant_id.eq(event.tenant_id),
                events::event_id.eq(event.event_id),
                events::event_type.eq(event.event_type),
                events::payload.eq(event.payload),
                events::created_at.eq(event.at),
            )
        })
        .collect();
    // Matched back by the public id, which is unique: RETURNING promises no order.
    let ids: Vec<(i64, String)> = db_run!(conn, |c| diesel::insert_into(events::table)
        .values(&rows)
        .returning((events::id, events::event_id))
        .get_results(c))?;
    let mut deliveries = Vec::new();
    for (event, endpoints) in &batch {
        let Some((id, _)) = ids.iter().find(|(_, public)| public == event.event_id) else { continue };
        for endpoint in endpoints {
            deliveries.push((
                webhook_deliveries::tenant_id.eq(event.tenant_id),
                webhook_deliveries::endpoint_id.eq(*endpoint),
                webhook_deliveries::event_id.eq(*id),
                webhook_deliveries::status.eq(PENDING),
                webhook_deliveries::attempts.eq(0),
                webhook_deliveries::next_attempt_at.eq(Some(event.at)),
                webhook_deliveries::created_at.eq(event.at),
            ));
        }
    }
    db_run!(conn, |c| diesel::insert_into(webhook_deliveries::table).values(&deliveries).execute(c))?;
    Ok(())
}

/// Writes the event with a pending delivery to each of the tenant's endpoints that receives its
/// type, if any does (none: nothing is written). Answers how many deliveries were written. On
/// PostgreSQL one prepared statement, so an event costs the change that causes it one round
/// trip; on SQLite, in the process, the lookup and the two inserts.
pub fn record_for_subscribers(conn: &mut DbConn, event: &NewEvent<'_>) -> Result<usize, StoreError> {
    match conn {
        DbConn::Postgres(c) => Ok(RecordEvent(event).execute(c)?),
        DbConn::Sqlite(_) => {
            let endpoints: Vec<i64> = endpoints_by_type(conn, event.tenant_id)?
                .into_iter()
                .filter(|(_, types)| types.split(' ').any(|t| t == event.event_type))
                .map(|(id, _)| id)
                .collect();
            let count = endpoints.len();
            record_many(conn, &[(event.clone(), endpoints)])?;
            Ok(count)
        }
    }
}

/// [`record_for_subscribers`] on PostgreSQL: the endpoints that receive the type, the event if
/// there is one, and a delivery for each, in one statement of CTEs. `strpos` over the
/// space-separated list: `LIKE` would read `_` as a wildcard.
struct RecordEvent<'a, 'b>(&'a NewEvent<'b>);

const RECORD_EVENT_SQL: &str = "SELECT webhook_endpoints.id FROM webhook_endpoints, p \
     WHERE webhook_endpoints.tenant_id = p.tenant \
       AND strpos(' ' || webhook_endpoints.events || ' ', ' ' || p.kind || ' ') > 0), \
   e AS (INSERT INTO events (tenant_id, event_id, event_type, payload, created_at) \
     SELECT p.tenant, p.event_id, p.kind, p.payload, p.at FROM p WHERE EXISTS (SELECT 1 FROM w) RETURNING id) \
 INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, status, attempts, next_attempt_at, created_at) \
 SELECT p.tenant, w.id, e.id, 'pending', 0, p.at, p.at FROM p, w, e";

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for RecordEvent<'_, '_> {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        use diesel::sql_types::Text;
        let event = self.0;
        out.push_sql("WITH p AS (SELECT ");
        out.push_bind_param::<BigInt, _>(&event.tenant_id)?;
        out.push_sql(" AS tenant, ");
        out.push_bind_param::<Text, _>(event.event_id)?;
        out.push_sql(" AS event_id, ");
        out.push_bind_param::<Text, _>(event.event_type)?;
        out.push_sql(" AS kind, ");
        out.push_bind_param::<Text, _>(event.payload)?;
        out.push_sql(" AS payload, ");
        out.push_bind_param::<Timestamp, _>(&event.at)?;
        out.push_sql(" AS at), w AS (");
        out.push_sql(RECORD_EVENT_SQL);
        Ok(())
    }
}

/// One statement whatever its values: diesel keeps it prepared on each connection.
struct RecordEventId;

impl diesel::query_builder::QueryId for RecordEvent<'_, '_> {
    type QueryId = RecordEventId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl RunQueryDsl<diesel::PgConnection> for RecordEvent<'_, '_> {}

/// A delivery with its event's type and public id, as the admin API lists it.
pub type DeliveryRow = (WebhookDelivery, String, String);

/// A page of an endpoint's deliveries, newest first, optionally of one status, and how many.
pub fn list_deliveries(
    conn: &mut DbConn,
    endpoint_id: i64,
    status: Option<&str>,
    window: Window,
) -> Result<(Vec<DeliveryRow>, i64), StoreError> {
    macro_rules! filtered {
        () => {{
            let mut query = webhook_deliveries::table
                .inner_join(events::table)
                .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
                .into_boxed();
            if let Some(status) = status {
                query = query.filter(webhook_deliveries::status.eq(status.to_owned()));
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
pub fn find_delivery(conn: &mut DbConn, endpoint_id: i64, id: i64) -> Result<Option<DeliveryRow>, StoreError> {
    db_run!(conn, |c| webhook_deliveries::table
        .inner_join(events::table)
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .filter(webhook_deliveries::id.eq(id))
        .select((WebhookDelivery::as_select(), events::event_id, events::event_type))
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// Makes a delivery pending again, due at once, its attempts starting over.
pub fn retry_delivery(
    conn: &mut DbConn,
    endpoint_id: i64,
    id: i64,
    now: NaiveDateTime,
) -> Result<Option<DeliveryRow>, StoreError> {
    crate::transaction(conn, |conn| {
        let target = webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .filter(webhook_deliveries::id.eq(id));
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
        find_delivery(conn, endpoint_id, id)
    })
}

/// A delivery claimed for one attempt, with what the attempt needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub tenant_id: i64,
    pub endpoint_id: i64,
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
}

const CLAIM_PG: &str = "UPDATE webhook_deliveries SET next_attempt_at = $1, attempts = attempts + 1 \
     WHERE id IN (SELECT d.id FROM webhook_deliveries d \
       JOIN webhook_endpoints w ON w.id = d.endpoint_id JOIN tenants t ON t.id = d.tenant_id \
       WHERE d.status = 'pending' AND d.next_attempt_at <= $2 AND NOT w.disabled AND t.active \
       ORDER BY d.next_attempt_at LIMIT $3 FOR UPDATE OF d SKIP LOCKED) \
     RETURNING id";

// SQLite has one writer at a time: the statement itself is the claim.
const CLAIM_SQLITE: &str = "UPDATE webhook_deliveries SET next_attempt_at = ?1, attempts = attempts + 1 \
     WHERE id IN (SELECT d.id FROM webhook_deliveries d \
       JOIN webhook_endpoints w ON w.id = d.endpoint_id JOIN tenants t ON t.id = d.tenant_id \
       WHERE d.status = 'pending' AND d.next_attempt_at <= ?2 AND NOT w.disabled AND t.active \
       ORDER BY d.next_attempt_at LIMIT ?3) \
     RETURNING id";

/// Claims up to `limit` due deliveries of enabled endpoints of active tenants. A claimed
/// delivery is next due when the lease ends (`lease_until`): if its claimer dies, another
/// instance posts it then. Two instances never claim the same delivery at once.
pub fn claim(
    conn: &mut DbConn,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Claimed>, StoreError> {
    let ids = crate::tx::claim_ids(conn, (CLAIM_PG, CLAIM_SQLITE), now, lease_until, limit)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    type Row = (WebhookDelivery, (String, String, String), WebhookEndpoint);
    let rows: Vec<Row> = db_run!(conn, |c| webhook_deliveries::table
        .inner_join(events::table)
        .inner_join(webhook_endpoints::table)
        .filter(webhook_deliveries::id.eq_any(&ids))
        .order(webhook_deliveries::id)
        .select((
            WebhookDelivery::as_select(),
            (events::event_id, events::event_type, events::payload),
            WebhookEndpoint::as_select(),
        ))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(d, (event_id, event_type, payload), endpoint)| Claimed {
            id: d.id,
            tenant_id: d.tenant_id,
            endpoint_id: d.endpoint_id,
            attempts: d.attempts,
            event_id,
            event_type,
            payload,
            url: endpoint.url,
            previous_secret: endpoint
                .previous_secret
                .filter(|_| endpoint.previous_secret_until.is_some_and(|t| t > now)),
            secret: endpoint.secret,
        })
        .collect())
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The endpoint answered 2xx.
    Delivered { status_code: i32 },
    /// To be tried again at `next`.
    Retry { status_code: Option<i32>, error: String, next: NaiveDateTime },
    /// The last attempt failed.
    Failed { status_code: Option<i32>, error: String },
    /// The endpoint answered 410 Gone: it is disabled, and the delivery waits for it (this
    /// attempt does not count).
    Gone,
}

/// Records an attempt on a delivery claimed with `claimed.attempts`; a delivery claimed again
/// since (this claimer's lease ran out) is left alone. Answers whether it took effect.
pub fn settle(conn: &mut DbConn, claimed: &Claimed, attempt: &Attempt, now: NaiveDateTime) -> Result<bool, StoreError> {
    let target = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(claimed.id))
        .filter(webhook_deliveries::status.eq(PENDING))
        .filter(webhook_deliveries::attempts.eq(claimed.attempts));
    let changed = match attempt {
        Attempt::Delivered { status_code } => db_run!(conn, |c| diesel::update(target)
            .set((
                webhook_deliveries::status.eq(DELIVERED),
                webhook_deliveries::last_status_code.eq(Some(*status_code)),
                webhook_deliveries::last_error.eq(None::<String>),
                webhook_deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
                webhook_deliveries::delivered_at.eq(Some(now)),
            ))
            .execute(c))?,
        Attempt::Retry { status_code, error, next } => db_run!(conn, |c| diesel::update(target)
            .set((
                webhook_deliveries::last_status_code.eq(*status_code),
                webhook_deliveries::last_error.eq(Some(error)),
                webhook_deliveries::next_attempt_at.eq(Some(*next)),
            ))
            .execute(c))?,
        Attempt::Failed { status_code, error } => db_run!(conn, |c| diesel::update(target)
            .set((
                webhook_deliveries::status.eq(FAILED),
                webhook_deliveries::last_status_code.eq(*status_code),
                webhook_deliveries::last_error.eq(Some(error)),
                webhook_deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
            ))
            .execute(c))?,
        Attempt::Gone => crate::transaction(conn, |conn| {
            let changed = db_run!(conn, |c| diesel::update(target)
                .set((
                    webhook_deliveries::attempts.eq(claimed.attempts - 1),
                    webhook_deliveries::last_status_code.eq(Some(410)),
                    webhook_deliveries::last_error.eq(Some("410 Gone: the endpoint is disabled")),
                    webhook_deliveries::next_attempt_at.eq(Some(now)),
                ))
                .execute(c))?;
            db_run!(conn, |c| diesel::update(
                webhook_endpoints::table.filter(webhook_endpoints::id.eq(claimed.endpoint_id))
            )
            .set((webhook_endpoints::disabled.eq(true), webhook_endpoints::updated_at.eq(now)))
            .execute(c))?;
            Ok::<_, StoreError>(changed)
        })?,
    };
    Ok(changed > 0)
}

/// Records a batch of attempts in one transaction; the deliveries that succeeded with the same
/// status, the usual case, in one statement. A delivery claimed again since (its claimer's
/// lease ran out) and delivered is delivered all the same; its other outcomes are left to its
/// newer claimer.
pub fn settle_all(conn: &mut DbConn, batch: &[(Claimed, Attempt)], now: NaiveDateTime) -> Result<(), StoreError> {
    crate::transaction(conn, |conn| {
        let mut delivered: Vec<(i32, Vec<i64>)> = Vec::new();
        for (claimed, attempt) in batch {
            match attempt {
                Attempt::Delivered { status_code } => {
                    match delivered.iter_mut().find(|(code, _)| code == status_code) {
                        Some((_, ids)) => ids.push(claimed.id),
                        None => delivered.push((*status_code, vec![claimed.id])),
                    }
                }
                other => {
                    settle(conn, claimed, other, now)?;
                }
            }
        }
        for (status_code, ids) in delivered {
            let target = webhook_deliveries::table
                .filter(webhook_deliveries::id.eq_any(ids))
                .filter(webhook_deliveries::status.eq(PENDING));
            db_run!(conn, |c| diesel::update(target)
                .set((
                    webhook_deliveries::status.eq(DELIVERED),
                    webhook_deliveries::last_status_code.eq(Some(status_code)),
                    webhook_deliveries::last_error.eq(None::<String>),
                    webhook_deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
                    webhook_deliveries::delivered_at.eq(Some(now)),
                ))
                .execute(c))?;
        }
        Ok(())
    })
}

/// Pending deliveries, for the backlog gauge.
pub fn backlog(conn: &mut DbConn) -> Result<i64, StoreError> {
    db_run!(conn, |c| webhook_deliveries::table.filter(webhook_deliveries::status.eq(PENDING)).count().get_result(c))
        .map_err(StoreError::from)
}

/// Deletes deliveries that ended (delivered or failed) before `before`, and events left with no
/// delivery; answers how many deliveries went.
pub fn purge_finished(conn: &mut DbConn, before: NaiveDateTime) -> Result<usize, StoreError> {
    let finished = webhook_deliveries::table
        .filter(webhook_deliveries::status.ne(PENDING))
        .filter(webhook_deliveries::created_at.lt(before));
    let purged = db_run!(conn, |c| diesel::delete(finished).execute(c))?;
    let orphans = events::table.filter(events::created_at.lt(before)).filter(diesel::dsl::not(diesel::dsl::exists(
        webhook_deliveries::table.filter(webhook_deliveries::event_id.eq(events::id)),
    )));
    db_run!(conn, |c| diesel::delete(orphans).execute(c))?;
    Ok(purged)
}
