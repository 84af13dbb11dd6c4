//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use sms_lock::SessionLock;
use sms_store::{DbConn, Store};

use crate::auth::JwtKeys;
use crate::error::ApiError;

/// Shared state: the database pool, the session lock and the JWT keys. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub lock: Arc<dyn SessionLock>,
    pub jwt: Arc<JwtKeys>,
    /// How long a session lock lives before its chat is committed.
    pub pending_ttl: Duration,
}

impl AppState {
    pub fn new(store: Store, lock: Arc<dyn SessionLock>, jwt: JwtKeys) -> Self {
        Self { store, lock, jwt: Arc::new(jwt), pending_ttl: crate::session::PENDING_TTL }
    }

    pub fn with_pending_ttl(mut self, ttl: Duration) -> Self {
        self.pending_ttl = ttl;
        self
    }

    /// Runs blocking database work on actix's blocking pool, never on a worker thread.
    pub async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.store.clone();
        web::block(move || {
            let mut conn = store.conn()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| ApiError::internal(&e))?
    }
}
