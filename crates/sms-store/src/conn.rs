//! The connection type, the pool and the migrations.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::StoreError;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

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
            Self::Postgres(url) => {
                let mut conn = PgConnection::establish(&with_connect_timeout(url))?;
                check_the_client(&mut conn);
                Ok(DbConn::Postgres(conn))
            }
            Self::Sqlite(path) => crate::sqlite::open(path).map(DbConn::Sqlite),
        }
    }
}

/// PostgreSQL runs a statement to its end even when the client that sent it is gone, and one
/// that commits on its own (a send or a reply written at once) then commits. Told to look for
/// its client every so often while it runs (PostgreSQL 14 and later), the server cancels the
/// statements of an instance that died (`kill -9`) while they waited, for a lock or for a core,
/// instead of committing what nobody was told of. An older server keeps its own behaviour.
fn check_the_client(conn: &mut PgConnection) {
    if let Err(e) = conn.batch_execute("SET client_connection_check_interval = '250ms'") {
        tracing::debug!(error = %e, "the database does not check for gone clients");
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

pub(crate) struct Manager(DbUrl);

/// A pooled connection with what the pool needs to decide whether to test it.
pub struct Pooled {
    conn: DbConn,
    /// When it last went back to the pool.
    returned_at: Instant,
    /// A statement on it failed: it may be dead (the server restarted, the network dropped).
    suspect: bool,
}

/// A connection that went back to the pool this recently, with nothing failing on it, is
/// handed out without a test; any other is tested with `SELECT 1` first. Under load that
/// saves a round trip per checkout (the profile: three of a request's eight); a connection the
/// server dropped while idle is still caught by the test, and one that fails in use is marked
/// suspect and tested before its next use.
const TRUST_RECENTLY_USED: Duration = Duration::from_secs(2);

impl r2d2::ManageConnection for Manager {
    type Connection = Pooled;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<Pooled, Self::Error> {
        Ok(Pooled { conn: self.0.connect()?, returned_at: Instant::now(), suspect: false })
    }

    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), Self::Error> {
        if !pooled.suspect && pooled.returned_at.elapsed() < TRUST_RECENTLY_USED {
            return Ok(());
        }
        db_run!(&mut pooled.conn, |c| c.batch_execute("SELECT 1"))
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
        pooled.suspect = false;
        Ok(())
    }

    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        pooled.returned_at = Instant::now();
        db_run!(&mut pooled.conn, |c| R2D2Connection::is_broken(c))
    }
}

/// Whether an error may mean the connection it happened on is dead.
pub trait Fault {
    fn connection_fault(&self) -> bool;
}

impl Fault for StoreError {
    fn connection_fault(&self) -> bool {
        self.may_be_connection_fault()
    }
}

/// A connection checked out of the pool; goes back when dropped.
pub struct PooledConn(r2d2::PooledConnection<Manager>);

impl PooledConn {
    /// Something failed on this connection: test it before it is used again.
    pub fn mark_suspect(&mut self) {
        self.0.suspect = true;
    }
}

impl std::ops::Deref for PooledConn {
    type Target = DbConn;

    fn deref(&self) -> &DbConn {
        &self.0.conn
    }
}

impl std::ops::DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.0.conn
    }
}

pub(crate) type Pool = r2d2::Pool<Manager>;

/// A connection of `pool`. The wait for it is recorded (`sms_db_wait_duration_seconds`): a
/// pool too small for the load shows there first.
pub(crate) fn checkout(pool: &Pool) -> Result<PooledConn, StoreError> {
    let started = Instant::now();
    let conn = pool.get();
    metrics::histogram!("sms_db_wait_duration_seconds", "for" => "connection").record(started.elapsed().as_secs_f64());
    Ok(PooledConn(conn?))
}

/// Builds a pool without connecting.
fn pool(url: &DbUrl, options: PoolOptions) -> Pool {
    r2d2::Pool::builder()
        .max_size(options.max_size)
        .min_idle(Some(1))
        .connection_timeout(options.connection_timeout)
        .error_handler(Box::new(r2d2::NopErrorHandler))
        .build_unchecked(Manager(url.clone()))
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
        Self { max_size: DEFAULT_POOL_SIZE, connection_timeout: Duration::from_secs(2) }
    }
}

/// Connections per instance by default on PostgreSQL. A request holds one for a few
/// milliseconds; when more requests run at once than the pool has connections, the rest queue
/// on r2d2, whose wake-up order is not first come first served, and that queue made the
/// benchmark's p99 (16 concurrent requests: 8 connections gave a p99 a third higher than 16;
/// BENCHMARKS.md).
pub const DEFAULT_POOL_SIZE: u32 = 16;

/// Connections per instance by default on SQLite: one writer at a time whatever the pool, and
/// more connections only meant more threads queueing for the writer, waking one another (the
/// same load's p99 was 62 to 74 ms with 16, 40 ms with 4; BENCHMARKS.md).
pub const DEFAULT_SQLITE_POOL_SIZE: u32 = 4;

/// The default pool size for a backend.
pub fn default_pool_size(backend: Backend) -> u32 {
    match backend {
        Backend::Postgres => DEFAULT_POOL_SIZE,
        Backend::Sqlite => DEFAULT_SQLITE_POOL_SIZE,
    }
}

/// The pool; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// SQLite's group commit ([`Store::write`]); none on PostgreSQL.
    pub(crate) writer: Option<crate::group::GroupWriter>,
    url: DbUrl,
    options: PoolOptions,
    /// Keeps the SQLite checkpointer running; it stops once every clone is gone.
    _alive: std::sync::Arc<()>,
}

impl Store {
    /// Builds the pool without connecting: the first use connects, so a server can start (and
    /// answer `/readyz` with "not ready") while its database is still coming up.
    pub fn new(url: &DbUrl, options: PoolOptions) -> Result<Self, StoreError> {
        if let DbUrl::Sqlite(path) = url {
            crate::sqlite::create_private_file(path)
                .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", path.display())))?;
        }
        let alive = std::sync::Arc::new(());
        let rewind = std::sync::Arc::new(crate::sqlite::Rewind::default());
        if let DbUrl::Sqlite(path) = url {
            crate::sqlite::spawn_checkpointer(path.clone(), rewind.clone(), std::sync::Arc::downgrade(&alive));
        }
        let pool = pool(url, options);
        let writer = match url {
            DbUrl::Sqlite(_) => Some(crate::group::GroupWriter::spawn(pool.clone(), rewind)?),
            DbUrl::Postgres(_) => None,
        };
        Ok(Self { pool, writer, url: url.clone(), options, _alive: alive })
    }

    /// Another pool of `max_size` connections on the same database, for work in the background:
    /// a worker that shares the requests' pool waits for a connection whenever every one serves
    /// a request, and r2d2 wakes waiters in no order, so under full load the outbox fell
    /// behind for as long as the load lasted (BENCHMARKS.md).
    pub fn sibling(&self, max_size: u32) -> Self {
        let options = PoolOptions { max_size: max_size.max(1), ..self.options };
        let (url, _alive, writer) = (self.url.clone(), self._alive.clone(), self.writer.clone());
        Self { pool: pool(&self.url, options), writer, url, options, _alive }
    }

    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    /// Whether [`crate::chats::reply_at_once`] writes here (PostgreSQL, where it saves round
    /// trips); on SQLite it never does, and a caller goes straight to its transaction.
    pub fn writes_at_once(&self) -> bool {
        self.backend() == Backend::Postgres
    }

    /// A pooled connection; waits at most the pool's connection timeout. Blocking. Call
    /// [`PooledConn::mark_suspect`] when a statement on it fails for a reason of the server's.
    pub fn conn(&self) -> Result<PooledConn, StoreError> {
        checkout(&self.pool)
    }

    /// Runs `f` with a pooled connection. Blocking: call it from a blocking thread. This is the
    /// one place that decides when a connection is suspect: after a fault of the database's
    /// ([`Fault::connection_fault`]), never after a refusal.
    pub fn with_conn<T, E>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError> + Fault,
    {
        let mut conn = self.conn().map_err(E::from)?;
        let result = f(&mut conn);
        if result.as_ref().is_err_and(Fault::connection_fault) {
            conn.mark_suspect();
        }
        result
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
