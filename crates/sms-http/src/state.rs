//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use sms_lock::{InProcessRateLimiter, RateLimiter, SessionLock};
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
    /// Checking provider callbacks.
    pub webhooks: Arc<WebhookSettings>,
    /// The tenants' request budgets.
    pub limiter: Arc<dyn RateLimiter>,
}

/// What the provider callbacks are checked against.
#[derive(Debug, Clone, Default)]
pub struct WebhookSettings {
    /// This service's public base URL (`SMS_PUBLIC_URL`): Twilio signs the URL it called.
    pub public_url: String,
    /// `TWILIO_AUTH_TOKEN`; without it no callback can be verified, so every one is refused.
    pub twilio_auth_token: Option<String>,
}

impl AppState {
    pub fn new(store: Store, lock: Arc<dyn SessionLock>, jwt: JwtKeys) -> Self {
        Self {
            store,
            lock,
            jwt: Arc::new(jwt),
            pending_ttl: crate::session::PENDING_TTL,
            webhooks: Arc::new(WebhookSettings::default()),
            limiter: Arc::new(InProcessRateLimiter::new()),
        }
    }

    pub fn with_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = limiter;
        self
    }

    pub fn with_webhooks(mut self, settings: WebhookSettings) -> Self {
        self.webhooks = Arc::new(settings);
        self
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
