//! Persistence of the outbound SMS service: one diesel connection type over PostgreSQL and
//! SQLite, an r2d2 pool, the embedded migrations and the queries.
//!
//! Every function that writes takes `&mut DbConn`, so a caller can compose several inside one
//! transaction. The functions are blocking; the HTTP layer runs them on actix's blocking pool.

#[macro_use]
mod conn;
pub mod agents;
pub mod chats;
pub mod console;
pub mod deliveries;
pub mod endpoints;
mod error;
pub mod events;
pub mod exports;
mod group;
pub mod idempotency;
mod ids;
pub mod inbound;
mod kept;
mod lease;
pub mod models;
pub mod numbers;
pub mod opt_outs;
pub mod outbox;
#[cfg(test)]
mod plans;
pub mod receipts;
pub mod schema;
mod sqlite;
pub mod tenants;
pub mod tokens;
mod tx;

pub use conn::{
    default_pool_size, Backend, DbConn, DbUrl, Fault, PoolOptions, PooledConn, Store, DEFAULT_POOL_SIZE,
    DEFAULT_SQLITE_POOL_SIZE,
};
pub use error::StoreError;
pub use group::WriteAnswer;
pub use sqlite::configure_sqlite;

/// A page of a list: how many rows to skip and how many to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub offset: i64,
    pub limit: i64,
}

impl Default for Window {
    /// Everything, for callers that page themselves.
    fn default() -> Self {
        Self { offset: 0, limit: i64::MAX }
    }
}
pub use models::*;
pub use tx::transaction;
