//! Releases a lock on every path that does not hand it over to a created chat.

use std::sync::Arc;

use crate::{LockKey, LockToken, SessionLock};

/// Owns an acquired lock until [`LockGuard::keep`] hands its token to the chat that now
/// holds the session. Dropped without `keep` (an error, a panic, a client that disconnected and
/// so dropped the request's future), it releases the lock in the background.
pub struct LockGuard {
    lock: Arc<dyn SessionLock>,
    key: LockKey,
    token: Option<LockToken>,
}

impl LockGuard {
    pub fn new(lock: Arc<dyn SessionLock>, key: LockKey, token: LockToken) -> Self {
        Self { lock, key, token: Some(token) }
    }

    pub fn token(&self) -> Option<&LockToken> {
        self.token.as_ref()
    }

    /// Keeps the lock held past the guard: the session now belongs to a chat.
    pub fn keep(mut self) -> Option<LockToken> {
        self.token.take()
    }

    /// Releases the lock now and waits for it.
    pub async fn release(mut self) {
        if let Some(token) = self.token.take() {
            if let Err(e) = self.lock.release(&self.key, &token).await {
                tracing::warn!(error = %e, "could not release a session lock; it will expire");
            }
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let Some(token) = self.token.take() else { return };
        let lock = Arc::clone(&self.lock);
        let key = self.key.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if let Err(e) = lock.release(&key, &token).await {
                        tracing::warn!(error = %e, "could not release a session lock; it will expire");
                    }
                });
            }
            Err(_) => tracing::warn!("session lock dropped outside a runtime; it will expire"),
        }
    }
}
