//! Building and running the server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::HttpServer;
use sms_domain::E164Number;
use sms_http::{AppState, JwtKeys};
use sms_lock::{InProcessLock, LockError, RedisLock, SessionLock};
use sms_store::{DbUrl, PoolOptions, Store, StoreError};

use crate::config::{self, Config};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("cannot listen on the configured address: {0}")]
    Bind(#[from] std::io::Error),
}

/// A built server, bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    sweep_interval: Duration,
    /// A ready admin token when the embedded default generated its secret just now.
    pub first_start_admin_token: Option<String>,
}

/// How long the admin token printed at first start stays valid.
pub const FIRST_START_TOKEN_TTL: u64 = 24 * 3600;

impl Application {
    /// Connects the database, applies migrations, binds the listener.
    pub fn build(config: &Config) -> Result<Self, StartupError> {
        let url = DbUrl::parse(&config.database_url)?;
        let secret = config::jwt_secret(config)?;
        let store = Store::new(&url, PoolOptions { max_size: config.db_pool_size, ..PoolOptions::default() })?;
        store.migrate()?;
        E164Number::warm_up();
        let lock: Arc<dyn SessionLock> = match &config.redis_url {
            Some(url) => Arc::new(RedisLock::new(url, &config.redis_key_prefix)?),
            None => Arc::new(InProcessLock::new()),
        };
        let jwt = JwtKeys::new(&secret.secret);
        let first_start_admin_token = if secret.generated {
            Some(jwt.admin_token(FIRST_START_TOKEN_TTL).map_err(|e| StartupError::Config(e.to_string()))?)
        } else {
            None
        };
        let state = AppState::new(store, lock, jwt).with_pending_ttl(config.lock_pending_ttl);
        let listener = TcpListener::bind(&config.bind)?;
        let port = listener.local_addr()?.port();
        let app_state = state.clone();
        let mut server = HttpServer::new(move || sms_http::app(app_state.clone())).listen(listener)?;
        if let Some(workers) = config.workers {
            server = server.workers(workers.max(1));
        }
        tracing::info!(port, backend = ?url.backend(), lock = state.lock.kind(), "listening");
        Ok(Self { port, server: server.run(), state, sweep_interval: config.sweep_interval, first_start_admin_token })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped, ending idle chats in the background.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let sweeper = actix_web::rt::spawn(sweep_forever(self.state.clone(), self.sweep_interval));
        let result = self.server.await;
        sweeper.abort();
        result
    }
}

async fn sweep_forever(state: AppState, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        if let Err(e) = sms_http::session::sweep_once(&state).await {
            tracing::warn!(error = %e, "idle chat sweep failed; retrying next tick");
        }
    }
}
