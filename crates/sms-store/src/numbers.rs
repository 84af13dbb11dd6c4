//! The tenants' outbound numbers, in E.164.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sms_domain::{E164Number, NumberId, TenantId};

use crate::schema::outbound_numbers;
use crate::{DbConn, OutboundNumber, StoreError, Window};

/// Registers a number; one registered by any tenant is [`StoreError::Conflict`].
pub fn create(
    conn: &mut DbConn,
    tenant_id: TenantId,
    number: &E164Number,
    now: NaiveDateTime,
) -> Result<OutboundNumber, StoreError> {
    db_run!(conn, |c| diesel::insert_into(outbound_numbers::table)
        .values((
            outbound_numbers::tenant_id.eq(tenant_id.get()),
            outbound_numbers::number.eq(number.as_str()),
            outbound_numbers::created_at.eq(now),
        ))
        .returning(OutboundNumber::as_returning())
        .get_result(c))
    .map_err(StoreError::from)
}

/// A page of the tenant's numbers, oldest first, and how many it has.
pub fn list(conn: &mut DbConn, tenant_id: TenantId, window: Window) -> Result<(Vec<OutboundNumber>, i64), StoreError> {
    let owned = outbound_numbers::table.filter(outbound_numbers::tenant_id.eq(tenant_id.get()));
    db_run!(conn, |c| {
        let total: i64 = owned.count().get_result(c)?;
        let rows = owned
            .order(outbound_numbers::id)
            .offset(window.offset)
            .limit(window.limit)
            .select(OutboundNumber::as_select())
            .load(c)?;
        Ok((rows, total))
    })
}

/// Deletes a number of the tenant and answers it; `None` when the tenant has no such number.
pub fn delete(conn: &mut DbConn, tenant_id: TenantId, id: NumberId) -> Result<Option<OutboundNumber>, StoreError> {
    let target = outbound_numbers::table
        .filter(outbound_numbers::id.eq(id.get()))
        .filter(outbound_numbers::tenant_id.eq(tenant_id.get()));
    db_run!(conn, |c| diesel::delete(target).returning(OutboundNumber::as_returning()).get_result(c).optional())
        .map_err(StoreError::from)
}

/// What a send needs to know of the tenant's tables, in one round trip: whether `outbound` is
/// one of the tenant's numbers and whether `end_user` has opted out of the tenant's
/// messages. The caller reports them in the documented order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendChecks {
    pub outbound_registered: bool,
    pub opted_out: bool,
}

pub fn send_checks(
    conn: &mut DbConn,
    tenant_id: TenantId,
    outbound: &E164Number,
    end_user: &E164Number,
) -> Result<SendChecks, StoreError> {
    use crate::schema::opt_outs;
    use diesel::dsl::exists;
    let registered = outbound_numbers::table
        .filter(outbound_numbers::tenant_id.eq(tenant_id.get()))
        .filter(outbound_numbers::number.eq(outbound.as_str()));
    let opted_out =
        opt_outs::table.filter(opt_outs::tenant_id.eq(tenant_id.get())).filter(opt_outs::number.eq(end_user.as_str()));
    let (outbound_registered, opted_out): (bool, bool) =
        db_run!(conn, |c| diesel::select((exists(registered), exists(opted_out))).get_result(c))?;
    Ok(SendChecks { outbound_registered, opted_out })
}

/// Whether `number` is one of the tenant's outbound numbers.
pub fn is_registered(conn: &mut DbConn, tenant_id: TenantId, number: &E164Number) -> Result<bool, StoreError> {
    let found = outbound_numbers::table
        .filter(outbound_numbers::tenant_id.eq(tenant_id.get()))
        .filter(outbound_numbers::number.eq(number.as_str()));
    db_run!(conn, |c| diesel::select(diesel::dsl::exists(found)).get_result(c)).map_err(StoreError::from)
}
