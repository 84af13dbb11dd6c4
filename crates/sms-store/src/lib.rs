//! Persistence of the outbound SMS service: one diesel connection type over PostgreSQL and
//! SQLite, an r2d2 pool, the embedded migrations and the queries.
//!
//! Every function that writes takes `&mut DbConn`, so a caller can compose several inside one
//! transaction. The functions are blocking; the HTTP layer runs them on actix's blocking pool.

#[macro_use]
mod conn;
pub mod agents;
pub mod chats;
pub mod delivery;
mod error;
pub mod idempotency;
pub mod models;
pub mod numbers;
pub mod schema;
pub mod tenants;
pub mod tokens;
mod tx;

pub use conn::{Backend, DbConn, DbUrl, Fault, PoolOptions, PooledConn, Store, DEFAULT_POOL_SIZE};
pub use error::StoreError;
pub use models::*;
pub use tx::transaction;
