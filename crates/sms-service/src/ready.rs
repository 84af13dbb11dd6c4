//! Readiness: whether the dependencies answer.

use std::time::Duration;

use crate::Service;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Which dependencies answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    pub database: bool,
    pub session_lock: bool,
    /// The instance is shutting down: not ready whatever its dependencies say.
    pub shutting_down: bool,
}

impl Readiness {
    pub fn ready(self) -> bool {
        self.database && self.session_lock && !self.shutting_down
    }
}

impl Service {
    /// Asks the database and the session lock, each for at most two seconds. An instance that is
    /// shutting down is not ready at once.
    pub async fn readiness(&self) -> Readiness {
        if self.shutting_down() {
            return Readiness { database: true, session_lock: true, shutting_down: true };
        }
        let store = self.inner.store.clone();
        let database = tokio::time::timeout(CHECK_TIMEOUT, tokio::task::spawn_blocking(move || store.ping())).await;
        let lock = tokio::time::timeout(CHECK_TIMEOUT, self.inner.lock.ping()).await;
        Readiness {
            database: matches!(database, Ok(Ok(Ok(())))),
            session_lock: matches!(lock, Ok(Ok(()))),
            shutting_down: false,
        }
    }
}
