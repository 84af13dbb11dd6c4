//! The events that happened, written with a pending delivery to each endpoint that receives
//! their type, in the caller's transaction: the change that caused an event and the event commit
//! together.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp};
use sms_domain::{DeliveryId, EndpointFormat, EndpointId, TenantId};

use crate::deliveries::PENDING;
use crate::schema::{events, webhook_deliveries};
use crate::{DbConn, StoreError};

/// An event as it happened: its public id, its type and the body every delivery posts.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub tenant_id: TenantId,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub payload: &'a str,
    pub at: NaiveDateTime,
}

/// Writes the events, each with a pending delivery to each of its endpoints: two statements in
/// all, whatever their number. The deliveries are due at once or, with a `lease`, already claimed
/// until then (their first attempt counted) for this instance's event worker, which is handed
/// them once the transaction commits; answers the leased ones.
pub fn record_many(
    conn: &mut DbConn,
    batch: &[(NewEvent<'_>, Vec<EndpointId>)],
    lease: Option<NaiveDateTime>,
) -> Result<Vec<DeliveryId>, StoreError> {
    let batch: Vec<_> = batch.iter().filter(|(_, endpoints)| !endpoints.is_empty()).collect();
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<_> = batch
        .iter()
        .map(|(event, _)| {
            (
                events::tenant_id.eq(event.tenant_id.get()),
                events::event_id.eq(event.event_id),
                events::event_type.eq(event.event_type),
                events::payload.eq(event.payload),
                events::created_at.eq(event.at),
            )
        })
        .collect();
    // Matched back by the public id, which is unique: RETURNING promises no order. SQLite, in
    // process, has no round trip to save, and diesel prepares a statement of many rows anew on
    // every call (its text depends on their number: these two statements were parsed on every
    // send, a tenth of the writer's time); a row at a time, each statement stays prepared.
    let ids: Vec<(i64, String)> = match conn {
        DbConn::Sqlite(c) => rows
            .iter()
            .map(|row| {
                diesel::insert_into(events::table).values(row).returning((events::id, events::event_id)).get_result(c)
            })
            .collect::<QueryResult<_>>()?,
        DbConn::Postgres(c) => {
            diesel::insert_into(events::table).values(&rows).returning((events::id, events::event_id)).get_results(c)?
        }
    };
    let mut deliveries = Vec::new();
    for (event, endpoints) in &batch {
        let Some((id, _)) = ids.iter().find(|(_, public)| public == event.event_id) else { continue };
        for endpoint in endpoints {
            deliveries.push((
                webhook_deliveries::tenant_id.eq(event.tenant_id.get()),
                webhook_deliveries::endpoint_id.eq(endpoint.get()),
                webhook_deliveries::event_id.eq(*id),
                webhook_deliveries::status.eq(PENDING),
                webhook_deliveries::attempts.eq(i32::from(lease.is_some())),
                webhook_deliveries::next_attempt_at.eq(Some(lease.unwrap_or(event.at))),
                webhook_deliveries::created_at.eq(event.at),
            ));
        }
    }
    let ids: Vec<i64> = match conn {
        DbConn::Sqlite(c) => deliveries
            .iter()
            .map(|row| {
                diesel::insert_into(webhook_deliveries::table)
                    .values(row)
                    .returning(webhook_deliveries::id)
                    .get_result(c)
            })
            .collect::<QueryResult<_>>()?,
        DbConn::Postgres(c) => diesel::insert_into(webhook_deliveries::table)
            .values(&deliveries)
            .returning(webhook_deliveries::id)
            .get_results(c)?,
    };
    Ok(if lease.is_some() { ids.into_iter().map(DeliveryId::new).collect() } else { Vec::new() })
}

/// Writes the event with one pending delivery, to `endpoint`; answers the delivery's id.
pub fn record_for(
    conn: &mut DbConn,
    event: &NewEvent<'_>,
    endpoint: EndpointId,
) -> Result<sms_domain::DeliveryId, StoreError> {
    crate::transaction(conn, |conn| {
        let event_row: i64 = db_run!(conn, |c| diesel::insert_into(events::table)
            .values((
                events::tenant_id.eq(event.tenant_id.get()),
                events::event_id.eq(event.event_id),
                events::event_type.eq(event.event_type),
                events::payload.eq(event.payload),
                events::created_at.eq(event.at),
            ))
            .returning(events::id)
            .get_result(c))?;
        let delivery: i64 = db_run!(conn, |c| diesel::insert_into(webhook_deliveries::table)
            .values((
                webhook_deliveries::tenant_id.eq(event.tenant_id.get()),
                webhook_deliveries::endpoint_id.eq(endpoint.get()),
                webhook_deliveries::event_id.eq(event_row),
                webhook_deliveries::status.eq(PENDING),
                webhook_deliveries::attempts.eq(0),
                webhook_deliveries::next_attempt_at.eq(Some(event.at)),
                webhook_deliveries::created_at.eq(event.at),
            ))
            .returning(webhook_deliveries::id)
            .get_result(c))?;
        Ok(sms_domain::DeliveryId::new(delivery))
    })
}

/// What [`record_for_subscribers`] wrote, and what the tenant's endpoints of the platform's
/// format (`ccai`) receive: their events are written apart ([`record_platform`]), in their own
/// shape, only when one of them receives the type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Deliveries written to the tenant's standard endpoints.
    pub deliveries: usize,
    /// The types the tenant's `ccai` endpoints receive, separated by spaces.
    pub ccai_types: String,
    /// The deliveries written already leased, to be handed to this instance's event worker.
    pub leased: Vec<DeliveryId>,
}

impl Recorded {
    /// Whether one of the tenant's `ccai` endpoints receives `kind`.
    pub fn ccai_receives(&self, kind: &str) -> bool {
        self.ccai_types.split(' ').any(|t| t == kind)
    }
}

/// Writes the event with a pending delivery to each of the tenant's standard endpoints that
/// receives its type, if any does (none: nothing is written), and tells what its `ccai`
/// endpoints receive. The deliveries are due at once, or leased until `lease` (as
/// [`record_many`] writes them). On PostgreSQL one prepared statement, so an event costs the
/// change that causes it one round trip; on SQLite, in the process, the lookup and the two
/// inserts.
pub fn record_for_subscribers(
    conn: &mut DbConn,
    event: &NewEvent<'_>,
    lease: Option<NaiveDateTime>,
) -> Result<Recorded, StoreError> {
    match conn {
        DbConn::Postgres(c) => {
            let row: RecordedRow = RecordEvent(event, lease).get_result(c)?;
            let leased = match lease {
                Some(_) => row.ids.unwrap_or_default().into_iter().map(DeliveryId::new).collect(),
                None => Vec::new(),
            };
            Ok(Recorded {
                deliveries: usize::try_from(row.deliveries).unwrap_or_default(),
                ccai_types: row.ccai_types.unwrap_or_default(),
                leased,
            })
        }
        DbConn::Sqlite(_) => {
            let subscribers = crate::endpoints::subscribers(conn, event.tenant_id)?;
            let endpoints: Vec<EndpointId> = subscribers
                .iter()
                .filter(|s| s.receives(event.event_type, EndpointFormat::Standard))
                .map(|s| s.id)
                .collect();
            let deliveries = endpoints.len();
            let leased = record_many(conn, &[(event.clone(), endpoints)], lease)?;
            Ok(Recorded { deliveries, ccai_types: ccai_types_of(&subscribers), leased })
        }
    }
}

/// The types the tenant's `ccai` endpoints receive, separated by spaces (for a change that has
/// no event of its own in the standard format: an outbound message).
pub fn ccai_types(conn: &mut DbConn, tenant_id: TenantId) -> Result<String, StoreError> {
    let types: Vec<String> = db_run!(conn, |c| crate::schema::webhook_endpoints::table
        .filter(crate::schema::webhook_endpoints::tenant_id.eq(tenant_id.get()))
        .filter(crate::schema::webhook_endpoints::format.eq(EndpointFormat::Ccai.as_str()))
        .select(crate::schema::webhook_endpoints::events)
        .load(c))?;
    Ok(types.join(" "))
}

fn ccai_types_of(subscribers: &[crate::endpoints::Subscriber]) -> String {
    let types: Vec<&str> =
        subscribers.iter().filter(|s| s.format == EndpointFormat::Ccai).map(|s| s.types.as_str()).collect();
    types.join(" ")
}

/// Writes the platform's events that stand for one event of type `via` (each with its own id,
/// type and body), each with a pending delivery to every `ccai` endpoint of the tenant that
/// receives `via`, due at once or leased until `lease` (as [`record_many`] writes them). Answers
/// how many deliveries were written, and the leased ones.
pub fn record_platform(
    conn: &mut DbConn,
    via: &str,
    events: &[NewEvent<'_>],
    lease: Option<NaiveDateTime>,
) -> Result<(usize, Vec<DeliveryId>), StoreError> {
    let Some(first) = events.first() else { return Ok((0, Vec::new())) };
    let endpoints: Vec<EndpointId> = crate::endpoints::subscribers(conn, first.tenant_id)?
        .into_iter()
        .filter(|s| s.receives(via, EndpointFormat::Ccai))
        .map(|s| s.id)
        .collect();
    let batch: Vec<(NewEvent<'_>, Vec<EndpointId>)> =
        events.iter().map(|event| (event.clone(), endpoints.clone())).collect();
    let leased = record_many(conn, &batch, lease)?;
    Ok((endpoints.len() * events.len(), leased))
}

#[derive(QueryableByName)]
struct RecordedRow {
    #[diesel(sql_type = BigInt)]
    deliveries: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    ccai_types: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<BigInt>>)]
    ids: Option<Vec<i64>>,
}

/// [`record_for_subscribers`] on PostgreSQL: the standard endpoints that receive the type, the
/// event if there is one, a delivery for each, and the types the `ccai` endpoints receive, in
/// one statement of CTEs. `strpos` over the space-separated list: `LIKE` would read `_` as a
/// wildcard. With a lease the deliveries are written claimed until then, their first attempt
/// counted, and their ids answered.
struct RecordEvent<'a, 'b>(&'a NewEvent<'b>, Option<NaiveDateTime>);

/// The tenant's standard endpoints that receive the event's type, in a statement whose CTE `p`
/// holds `tenant` and `kind` (the body of its CTE `w`).
pub(crate) const STANDARD_RECEIVERS_SQL: &str = "SELECT webhook_endpoints.id FROM webhook_endpoints, p \
     WHERE webhook_endpoints.tenant_id = p.tenant AND webhook_endpoints.format = 'standard' \
       AND strpos(' ' || webhook_endpoints.events || ' ', ' ' || p.kind || ' ') > 0";

/// The event of `p` (`tenant`, `event_id`, `kind`, `payload`, `at`) when `w` names an endpoint,
/// and a delivery to each of `w`, due at once or leased until `p.lease`: the CTEs `e` and `d`.
pub(crate) const EVENT_AND_DELIVERIES_SQL: &str = "e AS (INSERT INTO events (tenant_id, event_id, event_type, payload, created_at) \
     SELECT p.tenant, p.event_id, p.kind, p.payload, p.at FROM p WHERE EXISTS (SELECT 1 FROM w) RETURNING id), \
   d AS (INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, status, attempts, next_attempt_at, created_at) \
     SELECT p.tenant, w.id, e.id, 'pending', CASE WHEN p.lease IS NULL THEN 0 ELSE 1 END, coalesce(p.lease, p.at), p.at \
     FROM p, w, e RETURNING id)";

const RECORDED_SQL: &str = " SELECT (SELECT count(*) FROM d) AS deliveries, (SELECT array_agg(id) FROM d) AS ids, \
   (SELECT string_agg(webhook_endpoints.events, ' ') FROM webhook_endpoints, p \
     WHERE webhook_endpoints.tenant_id = p.tenant AND webhook_endpoints.format = 'ccai') AS ccai_types";

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for RecordEvent<'_, '_> {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        use diesel::sql_types::Text;
        let event = self.0;
        out.push_sql("WITH p AS (SELECT ");
        out.push_bind_param::<BigInt, _>(event.tenant_id.as_ref())?;
        out.push_sql(" AS tenant, ");
        out.push_bind_param::<Text, _>(event.event_id)?;
        out.push_sql(" AS event_id, ");
        out.push_bind_param::<Text, _>(event.event_type)?;
        out.push_sql(" AS kind, ");
        out.push_bind_param::<Text, _>(event.payload)?;
        out.push_sql(" AS payload, ");
        out.push_bind_param::<Timestamp, _>(&event.at)?;
        out.push_sql(" AS at, CAST(");
        out.push_bind_param::<diesel::sql_types::Nullable<Timestamp>, _>(&self.1)?;
        out.push_sql(" AS timestamp) AS lease), w AS (");
        out.push_sql(STANDARD_RECEIVERS_SQL);
        out.push_sql("), ");
        out.push_sql(EVENT_AND_DELIVERIES_SQL);
        out.push_sql(RECORDED_SQL);
        Ok(())
    }
}

/// One statement whatever its values: diesel keeps it prepared on each connection.
struct RecordEventId;

impl diesel::query_builder::QueryId for RecordEvent<'_, '_> {
    type QueryId = RecordEventId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for RecordEvent<'_, '_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl RunQueryDsl<diesel::PgConnection> for RecordEvent<'_, '_> {}
