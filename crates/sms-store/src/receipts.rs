//! Receipts of inbound callbacks, by `MessageSid`: a callback taken once is never taken again.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sms_domain::TenantId;

use crate::schema::inbound_receipts;
use crate::{DbConn, StoreError};

/// Takes note of an inbound callback's `MessageSid`; `false` when the tenant had taken it
/// already (a replay). The receipt of a `keyword` message is kept for as long as the tenant
/// exists: a replayed `START` must never lift a later `STOP`.
pub fn first(
    conn: &mut DbConn,
    tenant_id: TenantId,
    sid: &str,
    keyword: bool,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let inserted = db_run!(conn, |c| diesel::insert_into(inbound_receipts::table)
        .values((
            inbound_receipts::tenant_id.eq(tenant_id.get()),
            inbound_receipts::message_sid.eq(sid),
            inbound_receipts::created_at.eq(now),
            inbound_receipts::keyword.eq(keyword),
        ))
        .on_conflict((inbound_receipts::tenant_id, inbound_receipts::message_sid))
        .do_nothing()
        .execute(c))?;
    Ok(inserted > 0)
}

/// Forgets the receipts of ordinary messages taken before `before` (never a keyword's); answers
/// how many.
pub fn purge(conn: &mut DbConn, before: NaiveDateTime) -> Result<usize, StoreError> {
    let old = inbound_receipts::table
        .filter(inbound_receipts::created_at.lt(before))
        .filter(inbound_receipts::keyword.eq(false));
    db_run!(conn, |c| diesel::delete(old).execute(c)).map_err(StoreError::from)
}
