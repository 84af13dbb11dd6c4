//! The consumers who opted out of a tenant's messages. Only the application's chat-life module
//! changes them, so an opt-out always comes with its rule (its event, the chat it ends).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sms_domain::{E164Number, TenantId};

use crate::schema::opt_outs;
use crate::{DbConn, OptOut, StoreError, Window};

/// Where an opt-out came from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    /// The keyword as the consumer wrote it.
    pub keyword: Option<&'a str>,
    /// The tenant's number involved.
    pub outbound_number: Option<&'a E164Number>,
    /// The inbound message that carried it.
    pub message_id: Option<i64>,
}

/// Records that the consumer opted out of the tenant's messages, and where from; `false` when
/// they had already (the first opt-out's origin stays).
pub fn record(
    conn: &mut DbConn,
    tenant_id: TenantId,
    number: &E164Number,
    origin: Origin<'_>,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let inserted = db_run!(conn, |c| diesel::insert_into(opt_outs::table)
        .values((
            opt_outs::tenant_id.eq(tenant_id.get()),
            opt_outs::number.eq(number.as_str()),
            opt_outs::created_at.eq(now),
            opt_outs::keyword.eq(origin.keyword),
            opt_outs::outbound_number.eq(origin.outbound_number.map(E164Number::as_str)),
            opt_outs::message_id.eq(origin.message_id),
        ))
        .on_conflict((opt_outs::tenant_id, opt_outs::number))
        .do_nothing()
        .execute(c))?;
    Ok(inserted > 0)
}

/// Up to `limit` of the tenant's opt-outs after the one with id `after`, oldest first: the
/// whole list, read a slice at a time (the CSV export).
pub fn after(conn: &mut DbConn, tenant_id: TenantId, after: i64, limit: i64) -> Result<Vec<OptOut>, StoreError> {
    db_run!(conn, |c| opt_outs::table
        .filter(opt_outs::tenant_id.eq(tenant_id.get()))
        .filter(opt_outs::id.gt(after))
        .order(opt_outs::id)
        .limit(limit)
        .select(OptOut::as_select())
        .load(c))
    .map_err(StoreError::from)
}

/// Lifts the consumer's opt-out; `false` when they were not opted out.
pub fn remove(conn: &mut DbConn, tenant_id: TenantId, number: &E164Number) -> Result<bool, StoreError> {
    let target =
        opt_outs::table.filter(opt_outs::tenant_id.eq(tenant_id.get())).filter(opt_outs::number.eq(number.as_str()));
    let deleted = db_run!(conn, |c| diesel::delete(target).execute(c))?;
    Ok(deleted > 0)
}

/// A page of the tenant's opt-outs, oldest first, and how many it has.
pub fn list(conn: &mut DbConn, tenant_id: TenantId, window: Window) -> Result<(Vec<OptOut>, i64), StoreError> {
    let owned = opt_outs::table.filter(opt_outs::tenant_id.eq(tenant_id.get()));
    db_run!(conn, |c| {
        let total: i64 = owned.count().get_result(c)?;
        let rows =
            owned.order(opt_outs::id).offset(window.offset).limit(window.limit).select(OptOut::as_select()).load(c)?;
        Ok((rows, total))
    })
}

/// Whether the consumer opted out of the tenant's messages.
pub fn contains(conn: &mut DbConn, tenant_id: TenantId, number: &E164Number) -> Result<bool, StoreError> {
    let found =
        opt_outs::table.filter(opt_outs::tenant_id.eq(tenant_id.get())).filter(opt_outs::number.eq(number.as_str()));
    db_run!(conn, |c| diesel::select(diesel::dsl::exists(found)).get_result(c)).map_err(StoreError::from)
}
