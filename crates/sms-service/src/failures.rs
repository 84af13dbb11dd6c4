//! Failed authentication, bounded per client address (SPEC 9, version 3): once an address has
//! failed more than `SMS_AUTH_FAILURES_PER_MINUTE` times within a minute, its requests are
//! refused for the rest of that minute before any database query, unless their credential
//! succeeded on this instance within the last minute (a tenant behind the same address as an
//! attacker keeps working). Per instance, in memory, bounded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The window failures are counted in.
const WINDOW: Duration = Duration::from_secs(60);
/// At most this many addresses and credentials are remembered; past it, stale ones are dropped,
/// and if that is not enough, all (an attacker spreading over many addresses gains nothing
/// from the limit anyway).
const MAX_ENTRIES: usize = 100_000;

/// The default of `SMS_AUTH_FAILURES_PER_MINUTE`.
pub const DEFAULT_AUTH_FAILURES_PER_MINUTE: u32 = 60;

/// A credential as presented, kept only as its SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn of(presented: &[u8]) -> Self {
        Self(Sha256::digest(presented).into())
    }
}

#[derive(Default)]
struct State {
    /// Per address: when its window started, and its failures in it.
    failures: HashMap<IpAddr, (Instant, u32)>,
    /// Credentials that succeeded, and when.
    succeeded: HashMap<Fingerprint, Instant>,
}

pub struct FailureLimit {
    per_minute: u32,
    state: Mutex<State>,
}

impl FailureLimit {
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute, state: Mutex::new(State::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Err(retry_after)` when `client` failed too often this minute and `credential` did not
    /// succeed on this instance within the last minute.
    pub fn admit(&self, client: IpAddr, credential: Option<Fingerprint>) -> Result<(), Duration> {
        let now = Instant::now();
        let state = self.state();
        let Some((started, count)) = state.failures.get(&client).copied() else { return Ok(()) };
        let elapsed = now.saturating_duration_since(started);
        if elapsed >= WINDOW || count <= self.per_minute {
            return Ok(());
        }
        let known = credential
            .and_then(|c| state.succeeded.get(&c))
            .is_some_and(|at| now.saturating_duration_since(*at) < WINDOW);
        if known {
            return Ok(());
        }
        Err(WINDOW - elapsed)
    }

    /// `client` failed to authenticate.
    pub fn failed(&self, client: IpAddr) {
        let now = Instant::now();
        let mut state = self.state();
        if state.failures.len() >= MAX_ENTRIES {
            state.failures.retain(|_, (started, _)| now.saturating_duration_since(*started) < WINDOW);
            if state.failures.len() >= MAX_ENTRIES {
                state.failures.clear();
            }
        }
        let entry = state.failures.entry(client).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// `credential` authenticated.
    pub fn succeeded(&self, credential: Fingerprint) {
        let now = Instant::now();
        let mut state = self.state();
        if state.succeeded.len() >= MAX_ENTRIES {
            state.succeeded.retain(|_, at| now.saturating_duration_since(*at) < WINDOW);
            if state.succeeded.len() >= MAX_ENTRIES {
                state.succeeded.clear();
            }
        }
        state.succeeded.insert(credential, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_more_than_the_limit_unless_its_credential_worked() {
        let limit = FailureLimit::new(3);
        let (attacker, other) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let tenant = Fingerprint::of(b"Basic acme:token");
        limit.succeeded(tenant);
        for _ in 0..3 {
            limit.failed(attacker);
            assert!(limit.admit(attacker, None).is_ok(), "up to the limit");
        }
        limit.failed(attacker);
        let retry = limit.admit(attacker, Some(Fingerprint::of(b"Basic acme:guess"))).unwrap_err();
        assert!(retry > Duration::from_secs(58) && retry <= WINDOW, "the rest of the minute: {retry:?}");
        assert!(limit.admit(attacker, Some(tenant)).is_ok(), "a credential that worked still works");
        assert!(limit.admit(other, None).is_ok(), "another address is not refused");
    }
}
