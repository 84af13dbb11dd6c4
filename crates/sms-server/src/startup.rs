//! Building and running the server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::HttpServer;
use sms_delivery::{DeliverySettings, EventWorker, LogProvider, Provider, TwilioProvider, WebhookProvider, Worker};
use sms_domain::E164Number;
use sms_http::client::HttpSettings;
use sms_lock::{
    InProcessLock, InProcessRateLimiter, LockError, RateLimiter, RedisChangeFeed, RedisChannel, RedisLock,
    RedisRateLimiter, SessionLock,
};
use sms_service::console::ConsoleSettings;
use sms_service::{CallbackSettings, JwtKeys, Service, ServiceParts};
use sms_store::{Backend, DbUrl, PoolOptions, Store, StoreError};

use crate::config::{Config, ProviderKind};

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
    /// A token asked for longer than the lifetime cap.
    #[error("{0}")]
    TokenTooLong(String),
}

/// A built server, bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on an address of its own (`SMS_METRICS_BIND`), and its port.
    metrics: Option<(Server, u16)>,
    state: Service,
    sweep_interval: Duration,
    /// `SMS_SHUTDOWN_GRACE_SECS`: from SIGTERM to exit, at most.
    grace: Duration,
    worker: Option<Worker>,
    events: Option<EventWorker>,
    /// A ready admin token when the embedded default generated its secret just now.
    pub first_start_admin_token: Option<String>,
}

/// Connections of each background worker's own pool: one for its batch, one for its backlog
/// gauge (the event worker, with two batches under way, has one more).
const WORKER_POOL_SIZE: u32 = 2;

/// HTTP workers on PostgreSQL unless `SMS_WORKERS` says otherwise: each waits for its requests'
/// database round trips on its own thread (`sms_service`'s `on_own_thread`), so there are more
/// of them than cores: at least [`POSTGRES_WORKERS`].
fn postgres_workers() -> usize {
    std::thread::available_parallelism().map_or(POSTGRES_WORKERS, |cores| cores.get().max(POSTGRES_WORKERS))
}

/// On 2 cores, 8 workers served 1.2 times the sends of one a core at less CPU each; 16 used
/// more CPU a send and took peak RSS to 112 MB, 4 left the database waiting (BENCHMARKS.md,
/// 2026-12-07, fourteenth session).
const POSTGRES_WORKERS: usize = 8;

/// How long the admin token printed at first start stays valid.
pub const FIRST_START_TOKEN_TTL: u64 = 24 * 3600;

impl Application {
    /// Connects the database, applies migrations, binds the listener.
    pub fn build(config: &Config) -> Result<Self, StartupError> {
        crate::secret::refuse_placeholders(config)?;
        let url = DbUrl::parse(&config.database_url)?;
        let secret = crate::secret::jwt_secret(config)?;
        let max_size = config.db_pool_size.unwrap_or_else(|| sms_store::default_pool_size(url.backend()));
        let store = Store::new(&url, PoolOptions { max_size, ..PoolOptions::default() })?;
        store.migrate()?;
        E164Number::warm_up();
        type Coordination =
            (Arc<dyn SessionLock>, Arc<dyn RateLimiter>, Option<Arc<RedisChangeFeed>>, Option<RedisChannel>);
        let (lock, limiter, changes, live_channel): Coordination = match config.redis_target() {
            Some(redis) => (
                Arc::new(RedisLock::new(&redis, &config.redis_key_prefix)?),
                Arc::new(RedisRateLimiter::new(&redis, &config.redis_key_prefix)?),
                Some(Arc::new(RedisChangeFeed::new(&redis, &config.redis_key_prefix)?)),
                Some(sms_service::live::redis_channel(&redis, &config.redis_key_prefix)?),
            ),
            None => (Arc::new(InProcessLock::new()), Arc::new(InProcessRateLimiter::new()), None, None),
        };
        let jwt = JwtKeys::new(&secret.secret).with_max_ttl(config.jwt_max_ttl_secs);
        let first_start_admin_token = if secret.generated {
            Some(jwt.admin_token(FIRST_START_TOKEN_TTL).map_err(|e| StartupError::Config(e.to_string()))?)
        } else {
            None
        };
        let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{}", config.bind));
        config.delivery.check(&public_url)?;
        let worker_store = store.sibling(WORKER_POOL_SIZE);
        let events = match config.events_worker {
            true => Some(
                EventWorker::new(store.sibling(WORKER_POOL_SIZE + 1), config.events.clone())
                    .map_err(|e| StartupError::Config(e.to_string()))?,
            ),
            false => None,
        };
        // On PostgreSQL the writes hand their event deliveries to this instance's worker, which
        // saves each one the claim's search and rewrite and their round trips. SQLite's claims run
        // in the process, in its writer: there the hand-off only added work beside the writer, and
        // cost throughput and the open loop's tail (BENCHMARKS.md).
        let handoff = events.as_ref().filter(|_| url.backend() == Backend::Postgres).map(EventWorker::handoff);
        // Likewise the usual send's message, to this instance's delivery worker: written leased
        // to it, the message needs no claim (BENCHMARKS.md, 2026-12-07, fifteenth session).
        let (message_handoff, handed) = match config.delivery.worker && url.backend() == Backend::Postgres {
            true => {
                let (handoff, handed) =
                    Worker::messages_handoff(DeliverySettings::default().batch, delivery_lease(&config.delivery));
                (Some(handoff), Some(handed))
            }
            false => (None, None),
        };
        let console = ConsoleSettings {
            idle: chrono::Duration::minutes(config.console_idle_minutes),
            public_url: public_url.clone(),
        };
        let callbacks = CallbackSettings {
            public_url: public_url.clone(),
            twilio_auth_token: config.delivery.twilio_auth_token.clone(),
            twilio_account_sid: config.delivery.twilio_account_sid.clone(),
        };
        let state = ServiceParts {
            limiter,
            changes,
            auth_cache_ttl: config.auth_cache_ttl,
            callbacks,
            pending_ttl: config.lock_pending_ttl,
            unrouted_retention: chrono::Duration::days(config.unrouted_retention_days),
            auth_failures_per_minute: config.edge.auth_failures_per_minute,
            destinations: config.events.destinations.clone(),
            live_channel,
            console,
            handoff: handoff.clone(),
            message_handoff: message_handoff.clone(),
            ..ServiceParts::new(store, lock, jwt)
        }
        .build();
        let worker =
            delivery_worker(config, worker_store, &public_url, Arc::new(state.outbox_outcomes()))?.map(|worker| {
                let worker = match handoff {
                    Some(handoff) => worker.with_handoff(handoff),
                    None => worker,
                };
                match (message_handoff, handed) {
                    (Some(handoff), Some(handed)) => worker.with_handed_messages(handoff, handed),
                    _ => worker,
                }
            });
        let listener = TcpListener::bind(&config.bind)?;
        let port = listener.local_addr()?.port();
        let (app_state, edge) = (state.clone(), config.edge.clone());
        let http = HttpSettings {
            trusted_proxies: edge.trusted_proxies.clone(),
            body_timeout: edge.body_timeout,
            metrics_here: edge.metrics_bind.is_none(),
        };
        let mut server =
            HttpServer::new(move || sms_http::app(app_state.clone(), http.clone()).configure(sms_console::routes))
                .shutdown_timeout(config.shutdown_grace.as_secs())
                .keep_alive(config.keep_alive)
                // SIGTERM and SIGINT are handled in `run_until_stopped`: the instance turns
                // unready and tells its workers before the server stops.
                .disable_signals()
                .listen(listener)?;
        match (config.workers, url.backend()) {
            (Some(workers), _) => server = server.workers(workers.max(1)),
            (None, sms_store::Backend::Postgres) => server = server.workers(postgres_workers()),
            (None, sms_store::Backend::Sqlite) => {}
        }
        let metrics = match &edge.metrics_bind {
            Some(address) => {
                let metrics_state = state.clone();
                let listener = TcpListener::bind(address)?;
                let metrics_port = listener.local_addr()?.port();
                let server = HttpServer::new(move || sms_http::metrics_app(metrics_state.clone()))
                    .workers(1)
                    .disable_signals()
                    .listen(listener)?;
                tracing::info!(port = metrics_port, "metrics served on an address of their own");
                Some((server.run(), metrics_port))
            }
            None => None,
        };
        tracing::info!(port, backend = ?url.backend(), lock = state.lock_kind(), "listening");
        Ok(Self {
            port,
            server: server.run(),
            metrics,
            state,
            sweep_interval: config.sweep_interval,
            grace: config.shutdown_grace,
            worker,
            events,
            first_start_admin_token,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on when it has an address of its own.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
    }

    /// The application, for tests that look inside a running instance.
    pub fn state(&self) -> &Service {
        &self.state
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped, ending idle chats and delivering messages in the background.
    ///
    /// On SIGTERM or SIGINT (section 15 of the SPEC): the instance is not ready at once
    /// (`/readyz` answers 503 "shutting down"), stops accepting connections, finishes the
    /// requests it has and ends the console's live streams; its workers finish what they are
    /// sending and hand back, one second before the grace ends, what they could not. All within
    /// `SMS_SHUTDOWN_GRACE_SECS`; a request still running then is abandoned (its transaction,
    /// never committed, is rolled back when the process exits).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let sweeper = actix_web::rt::spawn(sweep_forever(self.state.clone(), self.sweep_interval));
        let listener_state = self.state.clone();
        let changes = actix_web::rt::spawn(async move { listener_state.listen_for_changes().await });
        let live_state = self.state.clone();
        let live = actix_web::rt::spawn(async move { live_state.run_live().await });
        let drain = self.grace.saturating_sub(HAND_BACK_MARGIN);
        let worker = self.worker.map(|w| actix_web::rt::spawn(w.run(self.state.on_shutdown(), drain)));
        let events = self.events.map(|w| actix_web::rt::spawn(w.run(self.state.on_shutdown(), drain)));
        let metrics = self.metrics.map(|(server, _)| {
            let handle = server.handle();
            actix_web::rt::spawn(server);
            handle
        });
        let (state, server) = (self.state.clone(), self.server.handle());
        let signalled = Arc::new(std::sync::OnceLock::new());
        let at = signalled.clone();
        let signals = actix_web::rt::spawn(async move {
            let signal = stop_signal().await;
            at.get_or_init(std::time::Instant::now);
            tracing::info!(signal, "shutting down: not ready; finishing the requests and sends under way");
            state.begin_shutdown();
            server.stop(true).await;
        });
        let result = self.server.await;
        let since = *signalled.get_or_init(std::time::Instant::now);
        signals.abort();
        self.state.begin_shutdown();
        if let Some(metrics) = metrics {
            metrics.stop(false).await;
        }
        sweeper.abort();
        changes.abort();
        live.abort();
        let workers = async {
            if let Some(worker) = worker {
                let _ = worker.await;
            }
            if let Some(events) = events {
                let _ = events.await;
            }
        };
        let left = self.grace.saturating_sub(since.elapsed()).max(HAND_BACK_MARGIN);
        if tokio::time::timeout(left, workers).await.is_err() {
            tracing::warn!(
                "workers still busy at the end of the grace; their leases will run out and another instance retries"
            );
        }
        tracing::info!("stopped");
        result
    }
}

/// How long before the end of the grace the workers hand back what they are still sending.
const HAND_BACK_MARGIN: Duration = Duration::from_secs(1);

/// Waits for SIGTERM or SIGINT (Ctrl-C); answers its name.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => {
                tracing::warn!("cannot listen for SIGTERM; stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

fn delivery_worker(
    config: &Config,
    store: Store,
    public_url: &str,
    outcomes: Arc<dyn sms_delivery::Outcomes>,
) -> Result<Option<Worker>, StartupError> {
    let d = &config.delivery;
    if !d.worker {
        return Ok(None);
    }
    let client =
        sms_delivery::http_client(d.connect_timeout, d.timeout).map_err(|e| StartupError::Config(e.to_string()))?;
    // `check` made sure the chosen provider's settings are there.
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let secret = |v: &Option<sms_domain::Secret>| v.as_ref().map(|s| s.expose().to_owned()).unwrap_or_default();
    let provider: Arc<dyn Provider> = match d.provider {
        ProviderKind::Twilio => Arc::new(TwilioProvider::new(
            client,
            &d.twilio_base_url,
            &text(&d.twilio_account_sid),
            &secret(&d.twilio_auth_token),
        )),
        ProviderKind::Webhook => {
            Arc::new(WebhookProvider::new(client, &text(&d.webhook_url), &secret(&d.webhook_secret)))
        }
        ProviderKind::Log => Arc::new(LogProvider),
    };
    let settings = DeliverySettings {
        max_attempts: d.max_attempts,
        retry_base: d.retry_base,
        retry_max: d.retry_max,
        lease: delivery_lease(d),
        poll: d.poll,
        public_url: public_url.to_owned(),
        ..DeliverySettings::default()
    };
    Ok(Some(Worker::new(store, provider, outcomes, settings)))
}

/// How long a message is its sender's: longer than any one provider call, so a live sender
/// never loses its lease.
fn delivery_lease(d: &crate::config::DeliveryConfig) -> Duration {
    d.timeout + d.connect_timeout + Duration::from_secs(30)
}

async fn sweep_forever(state: Service, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        if let Err(e) = state.sweep_once().await {
            tracing::warn!(error = %e, "idle chat sweep failed; retrying next tick");
        }
    }
}
