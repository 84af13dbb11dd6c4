//! The in-process lock of the embedded single-instance default.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{LockError, LockKey, LockToken, SessionLock};

/// A map of key → (token, deadline) behind a mutex. Expired entries count as free and are
/// swept from time to time so the map does not grow with consumers long gone.
#[derive(Default)]
pub struct InProcessLock {
    entries: Mutex<HashMap<String, (String, Instant)>>,
    acquisitions: AtomicU64,
}

impl InProcessLock {
    pub fn new() -> Self {
        Self::default()
    }

    fn with_entries<T>(&self, f: impl FnOnce(&mut HashMap<String, (String, Instant)>) -> T) -> T {
        // A panic while holding the mutex cannot leave the map inconsistent (every operation is
        // a single insert or remove), so a poisoned lock is still safe to use.
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

const SWEEP_EVERY: u64 = 1024;

#[async_trait::async_trait]
impl SessionLock for InProcessLock {
    async fn acquire(&self, key: &LockKey, ttl: Duration) -> Result<Option<LockToken>, LockError> {
        let now = Instant::now();
        let sweep = self.acquisitions.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1;
        Ok(self.with_entries(|entries| {
            if sweep {
                entries.retain(|_, (_, deadline)| *deadline > now);
            }
            match entries.get(key.as_str()) {
                Some((_, deadline)) if *deadline > now => None,
                _ => {
                    let token = LockToken::random();
                    entries.insert(key.as_str().to_owned(), (token.as_str().to_owned(), now + ttl));
                    Some(token)
                }
            }
        }))
    }

    async fn release(&self, key: &LockKey, token: &LockToken) -> Result<bool, LockError> {
        Ok(self.with_entries(|entries| match entries.get(key.as_str()) {
            Some((owner, _)) if owner == token.as_str() => {
                entries.remove(key.as_str());
                true
            }
            _ => false,
        }))
    }

    async fn refresh(&self, key: &LockKey, token: &LockToken, ttl: Duration) -> Result<bool, LockError> {
        let now = Instant::now();
        Ok(self.with_entries(|entries| match entries.get_mut(key.as_str()) {
            Some((owner, deadline)) if owner == token.as_str() && *deadline > now => {
                *deadline = now + ttl;
                true
            }
            _ => false,
        }))
    }

    async fn holder(&self, key: &LockKey) -> Result<Option<LockToken>, LockError> {
        let now = Instant::now();
        Ok(self.with_entries(|entries| match entries.get(key.as_str()) {
            Some((owner, deadline)) if *deadline > now => Some(LockToken::from_stored(owner.clone())),
            _ => None,
        }))
    }

    async fn take_over(&self, key: &LockKey, stale: &LockToken, ttl: Duration) -> Result<Option<LockToken>, LockError> {
        let now = Instant::now();
        Ok(self.with_entries(|entries| match entries.get_mut(key.as_str()) {
            Some((owner, deadline)) if owner == stale.as_str() && *deadline > now => {
                let token = LockToken::random();
                *owner = token.as_str().to_owned();
                *deadline = now + ttl;
                Some(token)
            }
            _ => None,
        }))
    }

    async fn ping(&self) -> Result<(), LockError> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "in-process"
    }

    fn held_for_the_chat(&self) -> bool {
        false
    }
}
