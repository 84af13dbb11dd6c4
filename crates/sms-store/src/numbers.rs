//! The tenants' outbound numbers, in E.164.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sms_domain::E164Number;

use crate::schema::outbound_numbers;
use crate::{DbConn, OutboundNumber, StoreError};

/// Registers a number; one registered by any tenant is [`StoreError::Conflict`].
pub fn create(
    conn: &mut DbConn,
    tenant_id: i64,
    number: &E164Number,
    now: NaiveDateTime,
) -> Result<OutboundNumber, StoreError> {
    db_run!(conn, |c| diesel::insert_into(outbound_numbers::table)
        .values((
            outbound_numbers::tenant_id.eq(tenant_id),
            outbound_numbers::number.eq(number.as_str()),
            outbound_numbers::created_at.eq(now),
        ))
        .returning(OutboundNumber::as_returning())
        .get_result(c))
    .map_err(StoreError::from)
}

pub fn list(conn: &mut DbConn, tenant_id: i64) -> Result<Vec<OutboundNumber>, StoreError> {
    db_run!(conn, |c| outbound_numbers::table
        .filter(outbound_numbers::tenant_id.eq(tenant_id))
        .order(outbound_numbers::id)
        .select(OutboundNumber::as_select())
        .load(c))
    .map_err(StoreError::from)
}

/// Whether `number` is one of the tenant's outbound numbers (row 10).
pub fn is_tenant_number(conn: &mut DbConn, tenant_id: i64, number: &E164Number) -> Result<bool, StoreError> {
    let query = outbound_numbers::table
        .filter(outbound_numbers::tenant_id.eq(tenant_id))
        .filter(outbound_numbers::number.eq(number.as_str()));
    let count: i64 = db_run!(conn, |c| query.count().get_result(c))?;
    Ok(count > 0)
}

/// Deletes a number of the tenant; `false` when the tenant has no such number.
pub fn delete(conn: &mut DbConn, tenant_id: i64, id: i64) -> Result<bool, StoreError> {
    let target =
        outbound_numbers::table.filter(outbound_numbers::id.eq(id)).filter(outbound_numbers::tenant_id.eq(tenant_id));
    let deleted = db_run!(conn, |c| diesel::delete(target).execute(c))?;
    Ok(deleted > 0)
}
