//! Tenants.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use sms_domain::TenantId;

use crate::schema::tenants;
use crate::tx::transaction;
use crate::{DbConn, NewTenant, StoreError, Tenant, TenantChanges, Window};

/// Creates a tenant; a taken subdomain is [`StoreError::Conflict`].
pub fn create(conn: &mut DbConn, new: &NewTenant) -> Result<Tenant, StoreError> {
    db_run!(conn, |c| diesel::insert_into(tenants::table).values(new).returning(Tenant::as_returning()).get_result(c))
        .map_err(StoreError::from)
}

/// A page of the tenants, oldest first, and how many there are.
pub fn list(conn: &mut DbConn, window: Window) -> Result<(Vec<Tenant>, i64), StoreError> {
    db_run!(conn, |c| {
        let total: i64 = tenants::table.count().get_result(c)?;
        let rows = tenants::table
            .order(tenants::id)
            .offset(window.offset)
            .limit(window.limit)
            .select(Tenant::as_select())
            .load(c)?;
        Ok((rows, total))
    })
}

/// The tenant with this subdomain. A subdomain no tenant can have (one with a NUL character,
/// which PostgreSQL refuses to compare) names none.
pub fn find_by_subdomain(conn: &mut DbConn, subdomain: &str) -> Result<Option<Tenant>, StoreError> {
    if subdomain.contains('\0') {
        return Ok(None);
    }
    db_run!(conn, |c| tenants::table
        .filter(tenants::subdomain.eq(subdomain))
        .select(Tenant::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// Refuses, from `at` on, every tenant JWT of the tenant issued up to `at`.
pub fn revoke_jwts(conn: &mut DbConn, id: TenantId, at: NaiveDateTime) -> Result<bool, StoreError> {
    let changed = db_run!(conn, |c| diesel::update(tenants::table.find(id.get()))
        .set(tenants::jwt_revoked_at.eq(Some(at)))
        .execute(c))?;
    Ok(changed > 0)
}

/// Applies `changes` and answers the tenant as it is afterwards, or `None` when it is missing.
pub fn update(conn: &mut DbConn, id: TenantId, changes: &TenantChanges) -> Result<Option<Tenant>, StoreError> {
    transaction(conn, |conn| {
        if !changes.is_empty() {
            db_run!(conn, |c| diesel::update(tenants::table.find(id.get())).set(changes).execute(c))?;
        }
        db_run!(conn, |c| tenants::table.find(id.get()).select(Tenant::as_select()).first(c).optional())
            .map_err(StoreError::from)
    })
}
