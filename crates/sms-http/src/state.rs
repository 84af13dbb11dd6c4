//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use sms_lock::{InProcessRateLimiter, RateLimiter, RedisChangeFeed, SessionLock};
use sms_store::{DbConn, Store};

use crate::auth::JwtKeys;
use crate::auth_cache::AuthCache;
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
    /// Recently authenticated tenants.
    pub auth_cache: Arc<AuthCache>,
    /// Where changes to tenants are announced to the other instances (with Redis).
    pub changes: Option<Arc<RedisChangeFeed>>,
}

/// How long an authenticated tenant is served from the cache, by default.
pub const AUTH_CACHE_TTL: Duration = Duration::from_secs(5);

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
            auth_cache: Arc::new(AuthCache::new(AUTH_CACHE_TTL, true)),
            changes: None,
        }
    }

    /// The authentication cache's TTL (zero turns it off) and, with several instances, the feed
    /// that tells them of each other's changes. With a feed the cache serves nothing until the
    /// feed's listener (see [`AppState::listen_for_changes`]) is subscribed.
    pub fn with_auth_cache(mut self, ttl: Duration, changes: Option<Arc<RedisChangeFeed>>) -> Self {
        self.auth_cache = Arc::new(AuthCache::new(ttl, changes.is_none()));
        self.changes = changes;
        self
    }

    /// Hears the other instances' changes for as long as it runs (spawn it); nothing to do
    /// without a feed.
    pub async fn listen_for_changes(&self) {
        let Some(feed) = self.changes.clone() else { return };
        let cache = self.auth_cache.clone();
        feed.listen(move |notice| match notice {
            sms_lock::Notice::Listening => cache.set_listening(true),
            sms_lock::Notice::Changed => cache.invalidate(),
            sms_lock::Notice::Lost => cache.set_listening(false),
        })
        .await;
    }

    /// A tenant or its tokens changed (committed or not): forget cached authentications here
    /// and tell the other instances to.
    pub async fn tenants_changed(&self) {
        self.auth_cache.invalidate();
        if let Some(feed) = &self.changes {
            if let Err(e) = feed.publish().await {
                tracing::warn!(error = %e, "could not announce a tenant change; other instances forget it within the cache TTL");
            }
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
            let result = f(&mut conn);
            // A fault of the server's (not a client's 4xx) may mean the connection is dead.
            if result.as_ref().is_err_and(|e| e.status().is_server_error()) {
                conn.mark_suspect();
            }
            result
        })
        .await
        .map_err(|e| ApiError::internal(&e))?
    }
}
