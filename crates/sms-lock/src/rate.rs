//! Per-tenant rate limits: a token bucket per tenant, `rate` tokens a second up to `burst`.
//! Shared by every instance through Redis (one Lua script per check, on Redis's clock), or kept
//! in the process when there is no Redis.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::LockError;

/// The answer to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Over the limit: a token is back after this long (the `Retry-After`).
    Limited {
        retry_after: Duration,
    },
}

#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync {
    /// Takes a token from the tenant's bucket. `rate` 0 means no limit.
    async fn check(&self, tenant_id: i64, rate: u32, burst: u32) -> Result<Decision, LockError>;
}

/// The bucket arithmetic, shared by the in-process limiter and its tests (the Redis script does
/// the same on the server). Answers the bucket after the request and the decision.
pub fn take(tokens: f64, elapsed: Duration, rate: u32, burst: u32) -> (f64, Decision) {
    let rate = f64::from(rate.max(1));
    let burst = f64::from(burst.max(1));
    let available = (tokens + elapsed.as_secs_f64() * rate).min(burst);
    if available >= 1.0 {
        (available - 1.0, Decision::Allowed)
    } else {
        let wait = (1.0 - available) / rate;
        (available, Decision::Limited { retry_after: Duration::from_secs_f64(wait) })
    }
}

/// Buckets in a map; for the single-instance default.
#[derive(Default)]
pub struct InProcessRateLimiter {
    buckets: Mutex<HashMap<i64, (f64, Instant)>>,
}

impl InProcessRateLimiter {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl RateLimiter for InProcessRateLimiter {
    async fn check(&self, tenant_id: i64, rate: u32, burst: u32) -> Result<Decision, LockError> {
        if rate == 0 {
            return Ok(Decision::Allowed);
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = buckets.get(&tenant_id).copied().unwrap_or((f64::from(burst.max(1)), now));
        let (left, decision) = take(tokens, now.saturating_duration_since(last), rate, burst);
        buckets.insert(tenant_id, (left, now));
        Ok(decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_allows_the_burst_then_refills_at_the_rate() {
        let mut tokens = 20.0;
        for _ in 0..20 {
            let (left, decision) = take(tokens, Duration::ZERO, 10, 20);
            assert_eq!(decision, Decision::Allowed);
            tokens = left;
        }
        let (left, decision) = take(tokens, Duration::ZERO, 10, 20);
        assert_eq!(decision, Decision::Limited { retry_after: Duration::from_millis(100) });
        let (_, decision) = take(left, Duration::from_millis(100), 10, 20);
        assert_eq!(decision, Decision::Allowed, "one token is back after 1/rate seconds");
        let (refilled, _) = take(0.0, Duration::from_secs(60), 10, 20);
        assert_eq!(refilled, 19.0, "never more than the burst");
    }
}
