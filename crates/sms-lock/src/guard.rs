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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::InProcessLock;

    async fn take(lock: &Arc<dyn SessionLock>, key: &LockKey) -> LockGuard {
        let token = lock.acquire(key, Duration::from_secs(60)).await.expect("acquire").expect("a free lock");
        LockGuard::new(Arc::clone(lock), key.clone(), token)
    }

    async fn is_free(lock: &Arc<dyn SessionLock>, key: &LockKey) -> bool {
        match lock.acquire(key, Duration::from_secs(60)).await {
            Ok(Some(token)) => {
                let _ = lock.release(key, &token).await;
                true
            }
            _ => false,
        }
    }

    #[tokio::test]
    async fn dropping_a_guard_releases_the_lock() {
        let lock: Arc<dyn SessionLock> = Arc::new(InProcessLock::new());
        let key = LockKey::new(1, "+14155550100");
        let guard = take(&lock, &key).await;
        assert!(!is_free(&lock, &key).await);
        drop(guard);
        tokio::task::yield_now().await;
        assert!(is_free(&lock, &key).await, "a dropped guard (error, panic, disconnect) frees the lock");
    }

    #[tokio::test]
    async fn a_panicking_task_releases_its_lock() {
        let lock: Arc<dyn SessionLock> = Arc::new(InProcessLock::new());
        let key = LockKey::new(1, "+14155550101");
        let guard = take(&lock, &key).await;
        let task = tokio::spawn(async move {
            let _guard = guard;
            panic!("handler panicked");
        });
        assert!(task.await.is_err());
        tokio::task::yield_now().await;
        assert!(is_free(&lock, &key).await);
    }

    #[tokio::test]
    async fn kept_and_released_guards() {
        let lock: Arc<dyn SessionLock> = Arc::new(InProcessLock::new());
        let key = LockKey::new(1, "+14155550102");
        let token = take(&lock, &key).await.keep();
        tokio::task::yield_now().await;
        assert!(!is_free(&lock, &key).await, "a kept lock stays held past the guard");
        assert!(token.is_some());
        let other = LockKey::new(1, "+14155550103");
        take(&lock, &other).await.release().await;
        assert!(is_free(&lock, &other).await);
    }
}
