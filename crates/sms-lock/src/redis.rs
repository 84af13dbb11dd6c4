//! The Redis lock: one session per consumer across every instance.
//!
//! `SET key token NX PX ttl` takes the lock; release and refresh are Lua scripts that act only
//! when the key still holds the caller's token, so an instance can never free or extend a lock
//! that expired and was taken by another.

use std::future::Future;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{RedisResult, Script};

use crate::connect::{is_stale_connection, Connector, Lease, RedisTarget, RESPONSE_TIMEOUT};
use crate::{LockError, LockKey, LockToken, SessionLock};

/// Compare-and-delete: frees the lock only for its owner.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
";

/// Compare-and-extend: refreshes the lock only for its owner.
const REFRESH: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Compare-and-set: moves a lock from a token whose owner is gone to a new one.
const TAKE_OVER: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
    return 1
end
return 0
";

/// How long, and how often, a request that gave up on Redis keeps trying to remove what its
/// unanswered command may still set (see [`RedisLock::forget`]).
const FORGET_FOR: Duration = Duration::from_secs(120);
const FORGET_EVERY: Duration = Duration::from_millis(250);
const FORGET_SETTLE: Duration = Duration::from_secs(1);

/// The most one lock operation may take, reconnect and retry included: past it the request
/// answers 503 rather than hang (a client sees an answer within 2 s).
const OPERATION_BUDGET: Duration = Duration::from_millis(1500);

/// A token bucket per tenant on Redis's clock; answers `{allowed, wait in ms}`.
const TOKEN_BUCKET: &str = r"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
    tokens = burst
    ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
local wait = 0
if tokens >= 1 then
    tokens = tokens - 1
    allowed = 1
else
    wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}
";

pub struct RedisLock {
    connector: std::sync::Arc<Connector>,
    pub(crate) prefix: String,
    release: Script,
    refresh: Script,
    take_over: Script,
}

impl RedisLock {
    /// Connects lazily: the server starts (and reports "not ready") while Redis is away, and
    /// reconnects by itself when it comes back, or, behind sentinels, to the master they name
    /// after a failover. `prefix` namespaces every key (`sms:`).
    pub fn new(target: &RedisTarget, prefix: &str) -> Result<Self, LockError> {
        Ok(Self {
            connector: std::sync::Arc::new(Connector::new(target)?),
            prefix: prefix.to_owned(),
            release: Script::new(RELEASE),
            refresh: Script::new(REFRESH),
            take_over: Script::new(TAKE_OVER),
        })
    }

    /// A client for connections of their own (a subscription), to the master as of now.
    pub(crate) async fn client(&self) -> RedisResult<redis::Client> {
        self.connector.client().await
    }

    fn key(&self, key: &LockKey) -> String {
        format!("{}{}", self.prefix, key.as_str())
    }

    /// Runs `op` within the budget. A connection that dropped since its last use fails its
    /// first command even though the manager reconnects behind it, so such a failure is tried
    /// once more on the fresh connection (behind sentinels, on the master they name now).
    pub(crate) async fn run<T, F, Fut>(&self, op: F) -> Result<T, LockError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        // The lease a command is waiting on, so that a timeout can tell the connector too.
        let in_use = std::sync::Mutex::new(None);
        let attempt = async {
            let mut retried = false;
            loop {
                let lease = self.connector.lease().await?;
                let conn = lease.conn.clone();
                *slot(&in_use) = Some(lease);
                let result = op(conn).await;
                let lease = slot(&in_use).take();
                match result {
                    Ok(value) => return Ok(value),
                    Err(e) => {
                        if let Some(lease) = &lease {
                            self.connector.failed(lease, Some(&e));
                        }
                        if retried || !is_stale_connection(&e) {
                            return Err(e);
                        }
                        retried = true;
                    }
                }
            }
        };
        match tokio::time::timeout(OPERATION_BUDGET, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(LockError::Unavailable(e.to_string())),
            Err(_) => {
                if let Some(lease) = slot(&in_use).take() {
                    self.connector.failed(&lease, None);
                }
                Err(LockError::Unavailable("redis did not answer in time".into()))
            }
        }
    }
}

impl RedisLock {
    /// A command that set `token` timed out: the request answers 503, but Redis may run the
    /// command later (a Redis that was only slow, or paused, runs what was queued when it
    /// resumes). Until Redis has answered twice, a moment apart, keep asking it to delete the
    /// key if it still holds `token`: the command may sit on a connection the manager has
    /// since replaced, whose bytes Redis reads in no fixed order with the new one's, and by
    /// the second answer it has read them all. Only `token`'s owner could delete, so this
    /// never frees a lock somebody else holds.
    fn forget(&self, key: String, token: LockToken) {
        let (connector, release) = (self.connector.clone(), self.release.clone());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            let deadline = tokio::time::Instant::now() + FORGET_FOR;
            let mut answers = 0;
            while answers < 2 && tokio::time::Instant::now() < deadline {
                let mut call = release.key(&key);
                call.arg(token.as_str());
                let answered = tokio::time::timeout(RESPONSE_TIMEOUT, async {
                    let lease = connector.lease().await?;
                    let mut conn = lease.conn.clone();
                    let answer = call.invoke_async::<i64>(&mut conn).await;
                    if let Err(e) = &answer {
                        connector.failed(&lease, Some(e));
                    }
                    answer
                })
                .await;
                if let Ok(Ok(_)) = answered {
                    answers += 1;
                    tokio::time::sleep(FORGET_SETTLE).await;
                } else {
                    tokio::time::sleep(FORGET_EVERY).await;
                }
            }
            if answers < 2 {
                tracing::warn!("redis did not answer a lock clean-up; the lock expires with its TTL");
            }
        });
    }

    /// Runs a command that sets `token` on `key`; on a timeout, [`RedisLock::forget`]s it.
    async fn setting<T, F, Fut>(&self, key: &str, token: &LockToken, op: F) -> Result<T, LockError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let result = self.run(op).await;
        if result.is_err() {
            self.forget(key.to_owned(), token.clone());
        }
        result
    }
}

fn slot(lease: &std::sync::Mutex<Option<Lease>>) -> std::sync::MutexGuard<'_, Option<Lease>> {
    lease.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait::async_trait]
impl SessionLock for RedisLock {
    async fn acquire(&self, key: &LockKey, ttl: Duration) -> Result<Option<LockToken>, LockError> {
        let token = LockToken::random();
        let key = self.key(key);
        let set: Option<String> = self
            .setting(&key, &token, |mut conn| {
                let mut cmd = redis::cmd("SET");
                cmd.arg(&key).arg(token.as_str()).arg("NX").arg("PX").arg(millis(ttl));
                async move { cmd.query_async(&mut conn).await }
            })
            .await?;
        Ok(set.map(|_| token))
    }

    async fn release(&self, key: &LockKey, token: &LockToken) -> Result<bool, LockError> {
        let key = self.key(key);
        let deleted: i64 = self
            .run(|mut conn| {
                let mut call = self.release.key(&key);
                call.arg(token.as_str());
                async move { call.invoke_async(&mut conn).await }
            })
            .await?;
        Ok(deleted == 1)
    }

    async fn refresh(&self, key: &LockKey, token: &LockToken, ttl: Duration) -> Result<bool, LockError> {
        let key = self.key(key);
        let extended: i64 = self
            .run(|mut conn| {
                let mut call = self.refresh.key(&key);
                call.arg(token.as_str()).arg(millis(ttl));
                async move { call.invoke_async(&mut conn).await }
            })
            .await?;
        Ok(extended == 1)
    }

    async fn holder(&self, key: &LockKey) -> Result<Option<LockToken>, LockError> {
        let key = self.key(key);
        let value: Option<String> = self
            .run(|mut conn| {
                let mut cmd = redis::cmd("GET");
                cmd.arg(&key);
                async move { cmd.query_async(&mut conn).await }
            })
            .await?;
        Ok(value.map(LockToken::from_stored))
    }

    async fn take_over(&self, key: &LockKey, stale: &LockToken, ttl: Duration) -> Result<Option<LockToken>, LockError> {
        let token = LockToken::random();
        let key = self.key(key);
        let moved: i64 = self
            .setting(&key, &token, |mut conn| {
                let mut call = self.take_over.key(&key);
                call.arg(stale.as_str()).arg(token.as_str()).arg(millis(ttl));
                async move { call.invoke_async(&mut conn).await }
            })
            .await?;
        Ok((moved == 1).then_some(token))
    }

    async fn ping(&self) -> Result<(), LockError> {
        let _: String = self.run(|mut conn| async move { redis::cmd("PING").query_async(&mut conn).await }).await?;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}

/// The rate limiter on the same Redis as the lock, shared by all instances.
pub struct RedisRateLimiter {
    redis: RedisLock,
    script: Script,
}

impl RedisRateLimiter {
    pub fn new(target: &RedisTarget, prefix: &str) -> Result<Self, LockError> {
        Ok(Self { redis: RedisLock::new(target, prefix)?, script: Script::new(TOKEN_BUCKET) })
    }
}

#[async_trait::async_trait]
impl crate::RateLimiter for RedisRateLimiter {
    async fn check(&self, tenant_id: i64, rate: u32, burst: u32) -> Result<crate::Decision, LockError> {
        if rate == 0 {
            return Ok(crate::Decision::Allowed);
        }
        let key = format!("{}rate:{tenant_id}", self.redis.prefix);
        let (allowed, wait): (i64, i64) = self
            .redis
            .run(|mut conn| {
                let mut call = self.script.key(&key);
                call.arg(rate).arg(burst.max(1));
                async move { call.invoke_async(&mut conn).await }
            })
            .await?;
        Ok(if allowed == 1 {
            crate::Decision::Allowed
        } else {
            crate::Decision::Limited { retry_after: Duration::from_millis(u64::try_from(wait).unwrap_or(1000)) }
        })
    }
}
