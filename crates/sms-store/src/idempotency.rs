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
    /// First use (or the earlier request died): process it, then [`finish`] or [`abandon`].
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

/// Claims `key` for a request whose body hashes to `hash`.
pub fn begin(
    conn: &mut DbConn,
    tenant_id: i64,
    key: &str,
    hash: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> Result<Begin, StoreError> {
    let outcome = transaction(conn, |conn| {
        let row: Option<Row> = db_run!(conn, |c| keys::table
            .filter(keys::tenant_id.eq(tenant_id))
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
                // The first request died holding the key: take it over.
                db_run!(conn, |c| diesel::update(keys::table.find(row.id))
                    .set(keys::locked_until.eq(lease_until))
                    .execute(c))?;
                Ok(Begin::Started)
            }
            expired => {
                if let Some(row) = expired {
                    db_run!(conn, |c| diesel::delete(keys::table.find(row.id)).execute(c))?;
                }
                db_run!(conn, |c| diesel::insert_into(keys::table)
                    .values((
                        keys::tenant_id.eq(tenant_id),
                        keys::key.eq(key),
                        keys::request_hash.eq(hash),
                        keys::state.eq(RUNNING),
                        keys::created_at.eq(now),
                        keys::locked_until.eq(lease_until),
                        keys::expires_at.eq(expires_at),
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

/// Stores the answer of a request that finished without a server fault.
pub fn finish(conn: &mut DbConn, tenant_id: i64, key: &str, status: i32, body: &str) -> Result<(), StoreError> {
    let target = keys::table.filter(keys::tenant_id.eq(tenant_id)).filter(keys::key.eq(key));
    db_run!(conn, |c| diesel::update(target)
        .set((keys::state.eq(DONE), keys::response_status.eq(Some(status)), keys::response_body.eq(Some(body))))
        .execute(c))?;
    Ok(())
}

/// Forgets a key whose request ended in a server fault, so a retry runs afresh.
pub fn abandon(conn: &mut DbConn, tenant_id: i64, key: &str) -> Result<(), StoreError> {
    let target = keys::table.filter(keys::tenant_id.eq(tenant_id)).filter(keys::key.eq(key));
    db_run!(conn, |c| diesel::delete(target).execute(c))?;
    Ok(())
}

/// Deletes expired keys; answers how many.
pub fn purge_expired(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, StoreError> {
    db_run!(conn, |c| diesel::delete(keys::table.filter(keys::expires_at.le(now))).execute(c)).map_err(StoreError::from)
}
