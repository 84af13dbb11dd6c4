//! A database that exists for one test: a temporary SQLite file, or a fresh PostgreSQL database
//! dropped afterwards.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server the suite uses: `SMS_TEST_POSTGRES_URL`, default the local one.
pub fn postgres_admin_url() -> String {
    std::env::var("SMS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database that exists for one test and is dropped after it.
pub enum TestDb {
    Sqlite { _dir: tempfile::TempDir, url: String },
    Postgres { name: String, url: String },
}

impl TestDb {
    pub fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("test.sqlite3").display());
                Self::Sqlite { _dir: dir, url }
            }
            Backend::Postgres => {
                let name = format!("sms_test_{}", crate::hex_id());
                let admin = postgres_admin_url();
                let mut conn = PgConnection::establish(&admin)
                    .unwrap_or_else(|e| panic!("PostgreSQL must be running at {admin} for the PostgreSQL suite: {e}"));
                conn.batch_execute(&format!("CREATE DATABASE {name}")).expect("create database");
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_owned();
                Self::Postgres { url: format!("{base}/{name}"), name }
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url, .. } => url,
        }
    }

    /// Runs SQL against the test's database directly (to arrange a state or check one).
    pub fn execute(&self, sql: &str) {
        self.try_execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Like [`TestDb::execute`], answering the database's error.
    pub fn try_execute(&self, sql: &str) -> Result<(), String> {
        let result = match self {
            Self::Sqlite { url, .. } => sqlite(url).map_err(|e| e.to_string())?.batch_execute(sql),
            Self::Postgres { url, .. } => PgConnection::establish(url).map_err(|e| e.to_string())?.batch_execute(sql),
        };
        result.map_err(|e| e.to_string())
    }

    /// The one text value `sql` selects (cast it to text), as `value`.
    pub fn text(&self, sql: &str) -> String {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Text {
            #[diesel(sql_type = diesel::sql_types::Text)]
            value: String,
        }
        let sql = format!("SELECT ({sql}) AS value");
        let rows: Vec<Text> = match self {
            Self::Sqlite { url, .. } => diesel::sql_query(&sql).load(&mut sqlite(url).unwrap()).unwrap(),
            Self::Postgres { url, .. } => {
                let mut conn = PgConnection::establish(url).unwrap();
                diesel::sql_query(&sql).load(&mut conn).unwrap()
            }
        };
        rows.into_iter().next().map(|r| r.value).unwrap_or_else(|| panic!("no row for {sql}"))
    }

    /// `SELECT COUNT(*) FROM table` (`table` may carry a `WHERE`).
    pub fn count(&self, table: &str) -> i64 {
        let n = self.text(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"));
        n.parse().unwrap_or_else(|e| panic!("count of {table}: {n:?}: {e}"))
    }

    pub fn drop_now(&self) {
        if let Self::Postgres { name, .. } = self {
            if let Ok(mut conn) = PgConnection::establish(&postgres_admin_url()) {
                let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// A connection to the test's SQLite file that waits, as the server's do, while the server
/// writes (its workers write at any moment), instead of failing at once with "database is locked".
fn sqlite(url: &str) -> diesel::ConnectionResult<diesel::SqliteConnection> {
    let mut conn = diesel::SqliteConnection::establish(url.trim_start_matches("sqlite://"))?;
    conn.batch_execute("PRAGMA busy_timeout = 5000")
        .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
    Ok(conn)
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.drop_now();
    }
}
