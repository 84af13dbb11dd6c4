//! What the test suites of the workspace share, as crates.io's `crates_io_test_db` does for its
//! own: a database that exists for one test ([`TestDb`]) on either [`Backend`], the Redis the
//! suites lock with ([`redis_url`]), and [`on_both_backends!`], which runs each test on both.
//!
//! A dev-dependency only; it may `unwrap`, since a failed setup is a failed test.

mod db;

pub use db::{postgres_admin_url, Backend, TestDb};

/// The Redis the suites use (the lock's conformance suite, the PostgreSQL variant of the API
/// suite): `SMS_TEST_REDIS_URL`, default the local one. Each test keys under a prefix of its own.
pub fn redis_url() -> String {
    std::env::var("SMS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Sixteen random hex digits: a name no other test picks (a database, a Redis key prefix).
pub fn hex_id() -> String {
    let bytes: [u8; 8] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Generates, for each named test, one test per backend: `sqlite::name` and `postgres::name`,
/// under the test attribute given (`test`, `tokio::test`, `actix_web::test`, …).
///
/// - `on_both_backends!(attr = actix_web::test; a, b)`: `a` and `b` are `async fn(Backend)`,
///   awaited;
/// - `on_both_backends!(attr = test, run = run; a, b)`: `a` and `b` are handed, with the
///   backend, to the caller's `run(Backend, a)`, which sets up what they take.
///
/// The names are looked up in the module that invokes the macro (`super::` of the generated
/// modules), so that module keeps them private.
#[macro_export]
macro_rules! on_both_backends {
    (attr = $attr:meta, run = $run:ident; $($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[$attr] fn $name() { super::$run($crate::Backend::Sqlite, super::$name) } )*
        }
        mod postgres {
            $( #[$attr] fn $name() { super::$run($crate::Backend::Postgres, super::$name) } )*
        }
    };
    (attr = $attr:meta; $($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[$attr] async fn $name() { super::$name($crate::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[$attr] async fn $name() { super::$name($crate::Backend::Postgres).await } )*
        }
    };
}
