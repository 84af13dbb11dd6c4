//! The session lock: the first layer of the one-active-session rule (at most one active chat
//! per tenant and consumer; the database's unique index is the second).
//!
//! A lock is held per (tenant, consumer number) from just before a chat is written until the
//! chat ends, and only its owner, who knows the random token it was acquired with, may release
//! or refresh it. [`InProcessLock`] serves a single instance; [`RedisLock`] serves many.

mod changes;
mod connect;
mod guard;
mod memory;
pub mod rate;
mod redis;

use std::time::Duration;

pub use changes::{Heard, Notice, RedisChangeFeed, RedisChannel};
pub use connect::RedisTarget;
pub use guard::LockGuard;
pub use memory::InProcessLock;
pub use rate::{Decision, InProcessRateLimiter, RateLimiter};
pub use redis::{RedisLock, RedisRateLimiter};

/// Identifies one consumer of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LockKey(String);

impl LockKey {
    /// `number` is the consumer's E.164 number. The Redis lock puts its key prefix in front.
    pub fn new(tenant_id: i64, number: &str) -> Self {
        Self(format!("session:{tenant_id}:{number}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The secret an acquisition answers; whoever holds it owns the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockToken(String);

impl LockToken {
    /// A fresh random token (128 bits).
    pub fn random() -> Self {
        Self(hex::encode(rand::random::<[u8; 16]>()))
    }

    /// A token read back from where its owner kept it (the chat row).
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The lock service cannot be reached; the request answers 503.
    #[error("session lock unavailable: {0}")]
    Unavailable(String),
    /// The lock cannot be set up as configured (a malformed `REDIS_URL`).
    #[error("session lock configuration: {0}")]
    Config(String),
}

/// A per-consumer lock with expiry and owner-only release.
#[async_trait::async_trait]
pub trait SessionLock: Send + Sync {
    /// Takes the lock for `ttl` if nobody holds it; `None` when it is held.
    async fn acquire(&self, key: &LockKey, ttl: Duration) -> Result<Option<LockToken>, LockError>;
    /// Releases the lock if `token` still owns it; `false` otherwise.
    async fn release(&self, key: &LockKey, token: &LockToken) -> Result<bool, LockError>;
    /// Extends the lock to `ttl` from now if `token` still owns it.
    async fn refresh(&self, key: &LockKey, token: &LockToken, ttl: Duration) -> Result<bool, LockError>;
    /// The token that holds the lock now, if any.
    async fn holder(&self, key: &LockKey) -> Result<Option<LockToken>, LockError>;
    /// Takes over a lock that `stale` holds (its owner is known to be gone), for `ttl`; `None`
    /// when the lock is no longer `stale`'s.
    async fn take_over(&self, key: &LockKey, stale: &LockToken, ttl: Duration) -> Result<Option<LockToken>, LockError>;
    /// Whether the lock service answers (for `/readyz`).
    async fn ping(&self) -> Result<(), LockError>;
    /// A short name for logs and readiness (`"in-process"`, `"redis"`).
    fn kind(&self) -> &'static str;
    /// Whether the lock stays held for a chat's whole life once the chat is committed. A lock
    /// that several instances share does: it is how they agree on the consumer without asking
    /// the database. The in-process lock of the single instance need not: there the one
    /// process reads the database's unique index for committed chats anyway, and the lock only
    /// keeps two requests for one consumer from writing at once. Held only while a request runs,
    /// its memory is bounded by the requests in flight, not by the active chats.
    fn held_for_the_chat(&self) -> bool {
        true
    }
}
