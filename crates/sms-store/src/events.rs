//! The events that happened, written with a pending delivery to each endpoint that receives
//! their type, in the caller's transaction: the change that caused an event and the event commit
//! together.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp};
use sms_domain::{EndpointId, TenantId};

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

/// Writes the events, each with a pending delivery to each of its endpoints, due at once: two
/// statements in all, whatever their number.
pub fn record_many(conn: &mut DbConn, batch: &[(NewEvent<'_>, Vec<EndpointId>)]) -> Result<(), StoreError> {
    let batch: Vec<_> = batch.iter().filter(|(_, endpoints)| !endpoints.is_empty()).collect();
    if batch.is_empty() {
        return Ok(());
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
                webhook_deliveries::tenant_id.eq(event.tenant_id.get()),
                webhook_deliveries::endpoint_id.eq(endpoint.get()),
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

/// Writes the event with a pending delivery to each of the tenant's endpoints that receives its
/// type, if any does (none: nothing is written). Answers how many deliveries were written. On
/// PostgreSQL one prepared statement, so an event costs the change that causes it one round
/// trip; on SQLite, in the process, the lookup and the two inserts.
pub fn record_for_subscribers(conn: &mut DbConn, event: &NewEvent<'_>) -> Result<usize, StoreError> {
    match conn {
        DbConn::Postgres(c) => Ok(RecordEvent(event).execute(c)?),
        DbConn::Sqlite(_) => {
            let endpoints: Vec<EndpointId> = crate::endpoints::by_type(conn, event.tenant_id)?
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
        out.push_bind_param::<BigInt, _>(event.tenant_id.as_ref())?;
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
