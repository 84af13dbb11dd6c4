//! What every handler shares.

use std::sync::Arc;

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
}

impl AppState {
    pub fn new(store: Store, lock: Arc<dyn SessionLock>, jwt: JwtKeys) -> Self {
        Self { store, lock, jwt: Arc::new(jwt) }
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
