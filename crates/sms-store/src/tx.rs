//! Transactions that compose: a unit of work runs several store functions and commits them
//! together.

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use crate::{DbConn, StoreError};

/// SQLite admits one writer at a time, and a writer that finds the lock taken sleeps in the busy
/// handler in growing steps of up to 100 ms: under 16 concurrent requests that made the p99
/// 1.3 s. This process's write transactions queue here instead and each is woken the moment
/// the previous one ends; the busy timeout still covers writers of other processes.
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` in a write transaction: PostgreSQL's ordinary one, SQLite's `BEGIN IMMEDIATE`,
/// which takes the write lock up front so concurrent writers wait on the busy timeout instead
/// of failing when a read transaction tries to upgrade. Called inside a transaction, `f` joins
/// it: one unit of work composes several store functions and commits them together. A panic
/// inside `f` leaves the inner connection marked as in a transaction, so the pool discards it
/// rather than reuse it.
pub fn transaction<T, E>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
where
    E: From<StoreError>,
{
    if in_transaction(conn) {
        return f(conn);
    }
    if let DbConn::Postgres(_) = conn {
        return conn.transaction(|conn| f(conn).map_err(Deferred::Inner)).map_err(Deferred::into_inner);
    }
    let _writer = SQLITE_WRITER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    sqlite_tm(conn, |c| AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"))
        .map_err(|e| E::from(e.into()))?;
    let rollback = |conn: &mut DbConn| {
        let _ = sqlite_tm(conn, <AnsiTransactionManager as TransactionManager<SqliteConnection>>::rollback_transaction);
    };
    match f(conn) {
        Ok(value) => {
            match sqlite_tm(conn, <AnsiTransactionManager as TransactionManager<SqliteConnection>>::commit_transaction)
            {
                Ok(()) => Ok(value),
                Err(e) => {
                    rollback(conn);
                    Err(E::from(e.into()))
                }
            }
        }
        Err(e) => {
            rollback(conn);
            Err(e)
        }
    }
}

/// Whether `conn` is inside a transaction already.
fn in_transaction(conn: &mut DbConn) -> bool {
    let depth = match conn {
        DbConn::Postgres(c) => {
            <AnsiTransactionManager as TransactionManager<PgConnection>>::transaction_manager_status_mut(c)
                .transaction_depth()
        }
        DbConn::Sqlite(c) => {
            <AnsiTransactionManager as TransactionManager<SqliteConnection>>::transaction_manager_status_mut(c)
                .transaction_depth()
        }
    };
    matches!(depth, Ok(Some(_)))
}

/// diesel's `transaction` wants an error it can build from its own; the caller's error travels
/// through it unchanged.
enum Deferred<E> {
    Inner(E),
    Diesel(diesel::result::Error),
}

impl<E> From<diesel::result::Error> for Deferred<E> {
    fn from(e: diesel::result::Error) -> Self {
        Self::Diesel(e)
    }
}

impl<E: From<StoreError>> Deferred<E> {
    fn into_inner(self) -> E {
        match self {
            Self::Inner(e) => e,
            Self::Diesel(e) => E::from(StoreError::from(e)),
        }
    }
}

fn sqlite_tm(
    conn: &mut DbConn,
    op: impl FnOnce(&mut SqliteConnection) -> diesel::QueryResult<()>,
) -> diesel::QueryResult<()> {
    match conn {
        DbConn::Sqlite(c) => op(c),
        DbConn::Postgres(_) => Ok(()),
    }
}

/// Runs a queue's claim (the outbox's, the events') in a transaction in which PostgreSQL's
/// planner walks indexes in order instead of building bitmaps or scanning tables. A queue's
/// partial index keeps the entries of the rows that left the queue until a vacuum; a bitmap
/// scan visits every one of them on every claim (118,629 index entries and 2,354 heap pages to
/// claim 24 messages: BENCHMARKS.md), where an index scan marks the dead ones as it passes, so
/// the next claim steps over them, and stops at its limit. The planner took the bitmap
/// whenever its statistics lagged behind the queue, which autovacuum analyzes once a minute at
/// most. Index-only scans never mark dead entries either, so they are off too. Inside a
/// transaction already, `f` joins it and the settings last until its end.
///
/// On SQLite the claim is a write transaction like any other, queued with the process's
/// writers: run on its own, a claim took the write lock behind their backs, and a request's
/// `BEGIN IMMEDIATE` that met it slept in the busy handler, steps of up to 100 ms, with every
/// writer queued behind it (p50 of 180 ms at half the capacity, in an open loop: BENCHMARKS.md).
pub(crate) fn walking_indexes<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    transaction(conn, |conn| {
        if let DbConn::Postgres(c) = conn {
            diesel::connection::SimpleConnection::batch_execute(
                c,
                "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off; \
                 SET LOCAL enable_indexonlyscan = off",
            )?;
        }
        f(conn)
    })
}

/// A read of a queue (its backlog), as [`walking_indexes`] runs a claim; on SQLite as it comes,
/// without taking the write lock.
pub(crate) fn reading_indexes<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    match conn {
        DbConn::Postgres(_) => walking_indexes(conn, f),
        DbConn::Sqlite(_) => f(conn),
    }
}

#[derive(QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// Runs an outbox's claim, one statement per backend (PostgreSQL's, SQLite's), bound as
/// `(lease_until, now, limit)`, and answers the ids it claimed. Run it inside
/// [`walking_indexes`], which gives it its plan and, on SQLite, its place among the writers.
pub(crate) fn claim_ids(
    conn: &mut DbConn,
    (postgres, sqlite): (&str, &str),
    now: chrono::NaiveDateTime,
    lease_until: chrono::NaiveDateTime,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    use diesel::sql_types::{BigInt, Timestamp};
    let sql = match conn {
        DbConn::Postgres(_) => postgres,
        DbConn::Sqlite(_) => sqlite,
    };
    let claimed: Vec<ClaimedId> = db_run!(conn, |c| diesel::sql_query(sql)
        .bind::<Timestamp, _>(lease_until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(c))?;
    Ok(claimed.into_iter().map(|c| c.id).collect())
}
