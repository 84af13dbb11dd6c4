//! Idempotency keys: a request retried with the same key and body replays the first answer.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::idempotency_keys as keys;
use crate::tx::transaction;
use crate::{DbConn, StoreError};

const RUNNING: &str = "running";
const DONE: &str = "done";

/// What a request with a key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// First use (or the earlier request's lease ran out): the key's lease is the caller's,
    /// under the token it passed; process the request, then [`finish`] or [`abandon`] with it.
    Started,
    /// Answered before: replay this.
    Replay { status: i32, body: String },
    /// The key was used with another request body.
    Mismatch,
    /// The first request with this key is still running.
    Running,
}

#[derive(Queryable)]
struct Row {
    id: i64,
    request_hash: String,
    state: String,
    response_status: Option<i32>,
    response_body: Option<String>,
    locked_until: NaiveDateTime,
    expires_at: NaiveDateTime,
}

/// A request's claim on a key: which key, and the lease token only that request knows.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub tenant_id: sms_domain::TenantId,
    pub key: &'a str,
    pub token: &'a str,
}

/// Claims `lease.key` for a request whose body hashes to `hash`, under `lease.token`.
pub fn begin(
    conn: &mut DbConn,
    lease: Lease<'_>,
    hash: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> Result<Begin, StoreError> {
    let Lease { tenant_id, key, token } = lease;
    let outcome = transaction(conn, |conn| {
        let row: Option<Row> = db_run!(conn, |c| keys::table
            .filter(keys::tenant_id.eq(tenant_id.get()))
            .filter(keys::key.eq(key))
            .select((
                keys::id,
                keys::request_hash,
                keys::state,
                keys::response_status,
                keys::response_body,
                keys::locked_until,
                keys::expires_at,
            ))
            .first(c)
            .optional())?;
        match row {
            Some(row) if row.expires_at > now => {
                if row.request_hash != hash {
                    return Ok(Begin::Mismatch);
                }
                if row.state == DONE {
                    return Ok(Begin::Replay {
                        status: row.response_status.unwrap_or(200),
                        body: row.response_body.unwrap_or_default(),
                    });
                }
                if row.locked_until > now {
                    return Ok(Begin::Running);
                }
                // The first request's lease ran out (it died, or is very slow): take it over.
                // From now on only this request may record an answer.
                db_run!(conn, |c| diesel::update(keys::table.find(row.id))
                    .set((keys::locked_until.eq(lease_until), keys::lease_token.eq(token)))
                    .execute(c))?;
                Ok(Begin::Started)
            }
            expired => {
                if let Some(row) = expired {
                    db_run!(conn, |c| diesel::delete(keys::table.find(row.id)).execute(c))?;
                }
                db_run!(conn, |c| diesel::insert_into(keys::table)
                    .values((
                        keys::tenant_id.eq(tenant_id.get()),
                        keys::key.eq(key),
                        keys::request_hash.eq(hash),
                        keys::state.eq(RUNNING),
                        keys::created_at.eq(now),
                        keys::locked_until.eq(lease_until),
                        keys::expires_at.eq(expires_at),
                        keys::lease_token.eq(token),
                    ))
                    .execute(c))?;
                Ok(Begin::Started)
            }
        }
    });
    match outcome {
        // Another request inserted the key between our read and our insert: it runs first.
        Err(StoreError::Conflict) => Ok(Begin::Running),
        other => other,
    }
}

/// Stores the answer of the request that holds the lease; `false` when the lease is no longer
/// its own (another request took the key over), and then nothing changes. Call it in the
/// transaction of what the request created, so the answer commits with it.
pub fn finish(conn: &mut DbConn, lease: Lease<'_>, status: i32, body: &str) -> Result<bool, StoreError> {
    let target = keys::table
        .filter(keys::tenant_id.eq(lease.tenant_id.get()))
        .filter(keys::key.eq(lease.key))
        .filter(keys::state.eq(RUNNING))
        .filter(keys::lease_token.eq(lease.token));
    let updated = db_run!(conn, |c| diesel::update(target)
        .set((keys::state.eq(DONE), keys::response_status.eq(Some(status)), keys::response_body.eq(Some(body))))
        .execute(c))?;
    Ok(updated == 1)
}

/// Gives up the key of a request whose answer is not to be remembered (a server fault, a
/// retryable conflict), so a retry runs afresh; only the lease's holder can.
pub fn abandon(conn: &mut DbConn, lease: Lease<'_>) -> Result<bool, StoreError> {
    let target = keys::table
        .filter(keys::tenant_id.eq(lease.tenant_id.get()))
        .filter(keys::key.eq(lease.key))
        .filter(keys::state.eq(RUNNING))
        .filter(keys::lease_token.eq(lease.token));
    let deleted = db_run!(conn, |c| diesel::delete(target).execute(c))?;
    Ok(deleted == 1)
}

/// Deletes expired keys; answers how many.
pub fn purge_expired(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, StoreError> {
    db_run!(conn, |c| diesel::delete(keys::table.filter(keys::expires_at.le(now))).execute(c)).map_err(StoreError::from)
}
