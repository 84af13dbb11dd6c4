//! API tokens, stored as the hex SHA-256 of the token.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use sms_domain::{TenantId, TokenId};

use crate::schema::{api_tokens, tenants};
use crate::{ApiToken, DbConn, StoreError, Tenant, Window};

pub fn create(
    conn: &mut DbConn,
    tenant_id: TenantId,
    token_hash: &str,
    now: NaiveDateTime,
) -> Result<ApiToken, StoreError> {
    db_run!(conn, |c| diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::tenant_id.eq(tenant_id.get()),
            api_tokens::token_hash.eq(token_hash),
            api_tokens::created_at.eq(now),
        ))
        .returning(ApiToken::as_returning())
        .get_result(c))
    .map_err(StoreError::from)
}

/// A page of the tenant's tokens, oldest first, and how many it has.
pub fn list(conn: &mut DbConn, tenant_id: TenantId, window: Window) -> Result<(Vec<ApiToken>, i64), StoreError> {
    let owned = api_tokens::table.filter(api_tokens::tenant_id.eq(tenant_id.get()));
    db_run!(conn, |c| {
        let total: i64 = owned.count().get_result(c)?;
        let rows = owned
            .order(api_tokens::id)
            .offset(window.offset)
            .limit(window.limit)
            .select(ApiToken::as_select())
            .load(c)?;
        Ok((rows, total))
    })
}

/// The tenant whose subdomain is `subdomain` and who has a live token hashing to `token_hash`:
/// one probe of the hash index, whatever the tenant's number of tokens, so a wrong token costs
/// one indexed query.
pub fn authenticate(conn: &mut DbConn, subdomain: &str, token_hash: &str) -> Result<Option<Tenant>, StoreError> {
    if subdomain.contains('\0') {
        return Ok(None);
    }
    db_run!(conn, |c| api_tokens::table
        .inner_join(tenants::table)
        .filter(api_tokens::token_hash.eq(token_hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(tenants::subdomain.eq(subdomain))
        .select(Tenant::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// The hashes of the tenant's tokens that are not revoked.
pub fn active_hashes(conn: &mut DbConn, tenant_id: TenantId) -> Result<Vec<String>, StoreError> {
    db_run!(conn, |c| api_tokens::table
        .filter(api_tokens::tenant_id.eq(tenant_id.get()))
        .filter(api_tokens::revoked_at.is_null())
        .select(api_tokens::token_hash)
        .load(c))
    .map_err(StoreError::from)
}

/// Revokes a token of the tenant. `false` when the tenant has no such token; revoking twice
/// keeps the first revocation time.
pub fn revoke(conn: &mut DbConn, tenant_id: TenantId, id: TokenId, now: NaiveDateTime) -> Result<bool, StoreError> {
    let owned = api_tokens::table.filter(api_tokens::id.eq(id.get())).filter(api_tokens::tenant_id.eq(tenant_id.get()));
    db_run!(conn, |c| {
        let exists: i64 = owned.count().get_result(c)?;
        if exists == 0 {
            return Ok(false);
        }
        diesel::update(owned.filter(api_tokens::revoked_at.is_null()))
            .set(api_tokens::revoked_at.eq(now))
            .execute(c)?;
        Ok(true)
    })
}
