//! Readiness: whether the dependencies answer.

use std::time::Duration;

use crate::Service;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Which dependencies answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    pub database: bool,
    pub session_lock: bool,
}

impl Readiness {
    pub fn ready(self) -> bool {
        self.database && self.session_lock
    }
}

impl Service {
    /// Asks the database and the session lock, each for at most two seconds.
    pub async fn readiness(&self) -> Readiness {
        let store = self.inner.store.clone();
        let database = tokio::time::timeout(CHECK_TIMEOUT, tokio::task::spawn_blocking(move || store.ping())).await;
        let lock = tokio::time::timeout(CHECK_TIMEOUT, self.inner.lock.ping()).await;
        Readiness { database: matches!(database, Ok(Ok(Ok(())))), session_lock: matches!(lock, Ok(Ok(()))) }
    }
}
