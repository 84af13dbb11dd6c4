//! The connection type, the pool and the migrations.

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::StoreError;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// One connection to either backend. Queries that read the same on both are written once and
/// compiled for each through [`db_run!`].
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection of either backend, so the same diesel
/// code is compiled for PostgreSQL and for SQLite.
macro_rules! db_run {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::DbConn::Postgres($c) => $body,
            $crate::DbConn::Sqlite($c) => $body,
        }
    };
}

/// Runs `f` in a write transaction: PostgreSQL's ordinary one, SQLite's `BEGIN IMMEDIATE`,
/// which takes the write lock up front so concurrent writers wait on the busy timeout instead
/// of failing when a read transaction tries to upgrade. A panic inside `f` leaves the inner
/// connection marked as in a transaction, so the pool discards it rather than reuse it.
pub(crate) fn write_tx<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    if let DbConn::Postgres(_) = conn {
        return conn.transaction(f);
    }
    sqlite_tm(conn, |c| AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"))?;
    match f(conn) {
        Ok(value) => {
            match sqlite_tm(conn, <AnsiTransactionManager as TransactionManager<SqliteConnection>>::commit_transaction)
            {
                Ok(()) => Ok(value),
                Err(e) => {
                    let _ = sqlite_tm(
                        conn,
                        <AnsiTransactionManager as TransactionManager<SqliteConnection>>::rollback_transaction,
                    );
                    Err(e.into())
                }
            }
        }
        Err(e) => {
            let _ =
                sqlite_tm(conn, <AnsiTransactionManager as TransactionManager<SqliteConnection>>::rollback_transaction);
            Err(e)
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A parsed `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    Postgres(String),
    Sqlite(PathBuf),
}

impl DbUrl {
    /// `postgres://…`/`postgresql://…`, or `sqlite://PATH` (also `sqlite:PATH`).
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err(StoreError::Config("DATABASE_URL names no SQLite file".into()));
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else {
            Err(StoreError::Config("DATABASE_URL must start with postgres://, postgresql:// or sqlite://".into()))
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    fn connect(&self) -> Result<DbConn, diesel::ConnectionError> {
        match self {
            Self::Postgres(url) => PgConnection::establish(&with_connect_timeout(url)).map(DbConn::Postgres),
            Self::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

/// libpq waits for the operating system's TCP timeout unless told otherwise; an unreachable
/// database must answer 503 in seconds, not minutes.
fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&connect_timeout=2")
    } else {
        format!("{url}?connect_timeout=2")
    }
}

struct Manager(DbUrl);

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        self.0.connect()
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        db_run!(conn, |c| c.batch_execute("SELECT 1")).map_err(diesel::ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        db_run!(conn, |c| R2D2Connection::is_broken(c))
    }
}

/// Pool sizing.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub max_size: u32,
    /// How long a request waits for a connection before answering 503.
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self { max_size: 16, connection_timeout: Duration::from_secs(2) }
    }
}

/// The pool; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
}

impl Store {
    /// Builds the pool without connecting: the first use connects, so a server can start (and
    /// answer `/readyz` with "not ready") while its database is still coming up.
    pub fn new(url: &DbUrl, options: PoolOptions) -> Result<Self, StoreError> {
        if let DbUrl::Sqlite(path) = url {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(1))
            .connection_timeout(options.connection_timeout)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(Manager(url.clone()));
        Ok(Self { pool, backend: url.backend() })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection; waits at most the pool's connection timeout. Blocking.
    pub fn conn(&self) -> Result<impl std::ops::DerefMut<Target = DbConn>, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` with a pooled connection. Blocking: call it from a blocking thread.
    pub fn with_conn<T>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut conn = self.pool.get()?;
        f(&mut conn)
    }

    /// Applies the pending migrations. On PostgreSQL an advisory lock serialises instances
    /// that start together.
    pub fn migrate(&self) -> Result<(), StoreError> {
        self.with_conn(|conn| match conn {
            DbConn::Postgres(c) => {
                c.batch_execute("SELECT pg_advisory_lock(727274)")?;
                let result = c.run_pending_migrations(PG_MIGRATIONS).map(|_| ());
                let unlocked = c.batch_execute("SELECT pg_advisory_unlock(727274)");
                result.map_err(|e| StoreError::Migration(e.to_string()))?;
                unlocked?;
                Ok(())
            }
            DbConn::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|_| ())
                .map_err(|e| StoreError::Migration(e.to_string())),
        })
    }

    /// Whether the database answers a trivial query.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.with_conn(|conn| db_run!(conn, |c| c.batch_execute("SELECT 1")).map_err(StoreError::from))
    }

    /// Connections in use and the pool's size, for metrics and readiness.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections - state.idle_connections, self.pool.max_size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_database_urls() {
        assert_eq!(DbUrl::parse("sqlite://data/sms.sqlite3").ok(), Some(DbUrl::Sqlite("data/sms.sqlite3".into())));
        assert_eq!(DbUrl::parse("sqlite:///tmp/x.db").ok(), Some(DbUrl::Sqlite("/tmp/x.db".into())));
        assert!(matches!(DbUrl::parse("postgres://u@h/db"), Ok(DbUrl::Postgres(_))));
        assert!(DbUrl::parse("mysql://x").is_err());
        assert!(DbUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn adds_a_connect_timeout() {
        assert_eq!(with_connect_timeout("postgres://h/db"), "postgres://h/db?connect_timeout=2");
        assert_eq!(
            with_connect_timeout("postgres://h/db?sslmode=disable"),
            "postgres://h/db?sslmode=disable&connect_timeout=2"
        );
        assert_eq!(with_connect_timeout("postgres://h/db?connect_timeout=9"), "postgres://h/db?connect_timeout=9");
    }
}
