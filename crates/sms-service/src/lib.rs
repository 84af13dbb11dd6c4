//! The application: every workflow of the outbound SMS service, with its rules in their
//! documented order, whichever path calls it (the HTTP API, a provider callback, the sweeper).
//!
//! A [`Service`] is given what it works with as values (the store, the session lock, the rate
//! limiter, the clock), so tests drive it without HTTP. It answers records and
//! [`ServiceError`]s; the HTTP crate turns them into wire bodies and statuses.

pub mod admin;
mod auth;
mod auth_cache;
mod callbacks;
mod ccai;
mod chats;
mod clock;
pub mod console;
mod error;
mod events;
mod failures;
mod handoff;
mod idempotent;
mod life;
pub mod live;
mod manager;
mod outbox;
mod ready;
mod reply;
mod send;
mod session;
pub mod views;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sms_domain::MessageId;
use sms_lock::{InProcessRateLimiter, RateLimiter, RedisChangeFeed, SessionLock};
use sms_store::{DbConn, Store};

pub use auth::{
    hash_token, new_api_token, unix_now, Claims, Credentials, JwtKeys, TokenError, DEFAULT_JWT_MAX_TTL_SECS,
    DEFAULT_TENANT_JWT_TTL_SECS, ROLE_ADMIN, ROLE_TENANT,
};
pub use callbacks::{CallbackSettings, Form};
pub use chats::{ChatPage, PageQuery, MAX_PER_PAGE};
pub use clock::{Clock, SystemClock};
pub use error::{Realm, Result, ServiceError};
pub use events::{ChatEventData, ConsumerEventData, EventBody, EventData, MessageEventData};
pub use failures::DEFAULT_AUTH_FAILURES_PER_MINUTE;
pub use idempotent::{Remembered, Render, SendOutcome};
pub use manager::{AgentExport, AgentExportQuery, Asked, ChatExport, ChatExportQuery, Exported, Organization};
pub use outbox::OutboxOutcomes;
pub use ready::Readiness;
pub use session::{session_ttl, PENDING_TTL, TTL_MARGIN};

/// The records the workflows answer: read-only views of what is stored.
pub mod records {
    pub use sms_store::chats::ChatFilter;
    pub use sms_store::deliveries::DeliveryRow;
    pub use sms_store::{
        Agent, ApiToken, Chat, ChatBundle, Message, OptOut, OutboundNumber, Participant, Tenant, WebhookDelivery,
        WebhookEndpoint,
    };
}

/// How long an authenticated tenant is served from the cache, by default.
pub const AUTH_CACHE_TTL: Duration = Duration::from_secs(5);

/// The application's state and its workflows. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    lock: Arc<dyn SessionLock>,
    limiter: Arc<dyn RateLimiter>,
    jwt: JwtKeys,
    auth_cache: auth_cache::AuthCache,
    changes: Option<Arc<RedisChangeFeed>>,
    callbacks: CallbackSettings,
    pending_ttl: Duration,
    unrouted_retention: chrono::Duration,
    clock: Arc<dyn Clock>,
    failures: failures::FailureLimit,
    destinations: sms_domain::network::Destinations,
    live: live::LiveFeed,
    hub: live::Hub,
    console: console::ConsoleSettings,
    handoff: Option<sms_delivery::Handoff>,
    message_handoff: Option<sms_delivery::Handoff<MessageId>>,
    /// Turns true when the instance begins to shut down.
    shutdown: tokio::sync::watch::Sender<bool>,
}

/// How long an event delivery that ended (delivered or failed) is kept: 30 days.
pub const EVENT_RETENTION_DAYS: i64 = 30;

/// How long replies kept aside (no active chat) are kept, by default: 30 days.
pub const UNROUTED_RETENTION_DAYS: i64 = 30;

/// What a [`Service`] is built from; [`ServiceParts::new`] fills in the single-instance
/// defaults.
pub struct ServiceParts {
    pub store: Store,
    pub lock: Arc<dyn SessionLock>,
    pub jwt: JwtKeys,
    pub limiter: Arc<dyn RateLimiter>,
    /// With several instances, where they tell each other of changes to tenants.
    pub changes: Option<Arc<RedisChangeFeed>>,
    /// How long an authentication is cached (zero turns the cache off).
    pub auth_cache_ttl: Duration,
    pub callbacks: CallbackSettings,
    /// How long a session lock lives before its chat is committed.
    pub pending_ttl: Duration,
    /// How long replies that joined no chat are kept.
    pub unrouted_retention: chrono::Duration,
    pub clock: Arc<dyn Clock>,
    /// Failed authentications an address may have in a minute before it is refused.
    pub auth_failures_per_minute: u32,
    /// Where the service may connect on a tenant's behalf (webhook and media URLs).
    pub destinations: sms_domain::network::Destinations,
    /// With several instances, where they tell each other which chats changed (the console's
    /// live pages).
    pub live_channel: Option<sms_lock::RedisChannel>,
    pub console: console::ConsoleSettings,
    /// This instance's event worker, to which the hot writes hand their event deliveries.
    pub handoff: Option<sms_delivery::Handoff>,
    /// This instance's delivery worker, to which the usual send hands its message.
    pub message_handoff: Option<sms_delivery::Handoff<MessageId>>,
}

impl ServiceParts {
    pub fn new(store: Store, lock: Arc<dyn SessionLock>, jwt: JwtKeys) -> Self {
        Self {
            store,
            lock,
            jwt,
            limiter: Arc::new(InProcessRateLimiter::new()),
            changes: None,
            auth_cache_ttl: AUTH_CACHE_TTL,
            callbacks: CallbackSettings::default(),
            pending_ttl: PENDING_TTL,
            unrouted_retention: chrono::Duration::days(UNROUTED_RETENTION_DAYS),
            clock: Arc::new(SystemClock),
            auth_failures_per_minute: DEFAULT_AUTH_FAILURES_PER_MINUTE,
            destinations: sms_domain::network::Destinations::default(),
            live_channel: None,
            console: console::ConsoleSettings::default(),
            handoff: None,
            message_handoff: None,
        }
    }

    pub fn build(self) -> Service {
        // Alone, an instance hears all its changes; with a feed its cache serves nothing until
        // the feed's listener is subscribed (see [`Service::listen_for_changes`]).
        let auth_cache = auth_cache::AuthCache::new(self.auth_cache_ttl, self.changes.is_none());
        Service {
            inner: Arc::new(Inner {
                store: self.store,
                lock: self.lock,
                limiter: self.limiter,
                jwt: self.jwt,
                auth_cache,
                changes: self.changes,
                callbacks: self.callbacks,
                pending_ttl: self.pending_ttl,
                unrouted_retention: self.unrouted_retention,
                clock: self.clock,
                failures: failures::FailureLimit::new(self.auth_failures_per_minute),
                destinations: self.destinations,
                live: live::LiveFeed::new(self.live_channel),
                hub: live::Hub::new(),
                console: self.console,
                handoff: self.handoff,
                message_handoff: self.message_handoff,
                shutdown: tokio::sync::watch::Sender::new(false),
            }),
        }
    }
}

impl Service {
    /// The JWT keys, to sign tokens (the server's `admin-token`, tests).
    pub fn jwt(&self) -> &JwtKeys {
        &self.inner.jwt
    }

    /// The session lock's kind, for the start-up log.
    pub fn lock_kind(&self) -> &'static str {
        self.inner.lock.kind()
    }

    /// Connections in use and the pool's size, for metrics.
    pub fn pool_state(&self) -> (u32, u32) {
        self.inner.store.pool_state()
    }

    fn now(&self) -> chrono::NaiveDateTime {
        self.inner.clock.now()
    }

    /// Runs blocking database work with a pooled connection (which the store marks suspect
    /// after a database fault): on an HTTP worker's own thread where [`on_own_thread`] says so,
    /// otherwise on the runtime's blocking pool.
    pub(crate) async fn db<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.inner.store.clone();
        let (result, changes) = database_work(on_own_thread(&store), move || {
            // Whatever an earlier task on this thread left is not this work's.
            let _stale = live::take();
            let result = store.with_conn(f);
            (result, live::take())
        })
        .await?;
        // After the work returned, its transaction is over: a change that did not commit is
        // told too, harmlessly (a page reads again what is there).
        self.inner.live.publish(changes);
        result
    }

    /// Runs `f` in a write transaction: on SQLite queued for the store's writer and committed
    /// with the writes queued meanwhile, one commit for many requests
    /// ([`sms_store::Store::queue_write`]); elsewhere on the runtime's blocking pool.
    /// For the hot writes (a send, a reply); `f` may call [`sms_store::transaction`]. The event
    /// deliveries it writes go straight to this instance's event worker when it has room
    /// ([`sms_delivery::Handoff`]).
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.write_in(f, true).await
    }

    /// [`Service::write`] for work that runs outside any transaction: statements that commit on
    /// their own (where [`sms_store::Store::writes_at_once`]).
    pub(crate) async fn write_at_once<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.write_in(f, false).await
    }

    async fn write_in<T, F>(&self, f: F, in_transaction: bool) -> Result<T>
    where
        F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.inner.store.clone();
        let now = sms_domain::time::now_millis();
        let reservation = self.inner.handoff.as_ref().and_then(|h| h.reserve(now));
        // Only the usual send's statement, which commits on its own, writes its message leased.
        let messages =
            if in_transaction { None } else { self.inner.message_handoff.as_ref().and_then(|h| h.reserve(now)) };
        let leases = sms_store::chats::Leases {
            deliveries: reservation.as_ref().map(sms_delivery::Reservation::lease_until),
            message: messages.as_ref().map(sms_delivery::Reservation::lease_until),
        };
        // The changes and leases are noted on the thread that runs the work: the store's
        // writer, on SQLite. Those of a write that failed did not commit and are not told.
        let work = move |conn: &mut DbConn| {
            let _stale = live::take();
            handoff::begin(leases);
            let written = if in_transaction { sms_store::transaction(conn, f) } else { f(conn) };
            let leased = handoff::take();
            written.map(|value| (value, live::take(), leased))
        };
        // On SQLite the writer is handed the work and this task awaits its commit; elsewhere
        // it runs on this thread or a blocking one, as [`Service::db`] runs work. A panic in
        // the work fails the request, not the writer nor the HTTP worker.
        let written = match store.queue_write(work) {
            Ok(answer) => answer.await.map_err(|_| ServiceError::Internal("a write panicked".into()))?,
            Err(work) => database_work(on_own_thread(&store), move || store.write(work)).await?,
        };
        let (value, changes, leased) = written?;
        if let Some(reservation) = reservation {
            reservation.hand(leased.deliveries);
        }
        if let Some(reservation) = messages {
            reservation.hand(leased.messages);
        }
        self.inner.live.publish(changes);
        Ok(value)
    }

    /// Publishes the console's live changes and tells this instance's viewers, for as long as
    /// the future runs (spawn it once per instance).
    pub async fn run_live(&self) {
        let (feed, hub, store) = (&self.inner.live, &self.inner.hub, self.inner.store.clone());
        tokio::join!(feed.run(), hub.run(feed, store));
    }

    /// A viewer's subscription to live changes; it closes when the instance shuts down.
    pub fn watch_live(&self) -> live::Viewing {
        self.inner.hub.watch(self.inner.shutdown.subscribe())
    }

    /// The instance is shutting down (SIGTERM): from now on it is not ready, and live pages and
    /// the background workers are told to end (section 15).
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Whether [`Service::begin_shutdown`] was called.
    pub fn shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// Turns true when the instance begins to shut down (for the background workers).
    pub fn on_shutdown(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// The delivery worker's outcomes, which tell the console's pages what they changed.
    pub fn outbox_outcomes(&self) -> OutboxOutcomes {
        OutboxOutcomes::new(self.inner.live.clone())
    }
}

/// Runs blocking database work `here`, on the calling thread ([`on_own_thread`]), or else on the
/// runtime's blocking pool; either way a panic in it fails the call, not the thread.
async fn database_work<R: Send + 'static>(here: bool, work: impl FnOnce() -> R + Send + 'static) -> Result<R> {
    let queued = Instant::now();
    let timed = move || {
        thread_waited(queued);
        work()
    };
    if here {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(timed))
            .map_err(|_| ServiceError::Internal("database work panicked".into()))
    } else {
        tokio::task::spawn_blocking(timed)
            .await
            .map_err(|e| ServiceError::Internal(format!("blocking task failed: {e}")))
    }
}

thread_local! {
    static WAITS_FOR_THE_DATABASE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the calling thread as an HTTP worker's: a thread of its own with a runtime of its own,
/// serving requests, on which the database work of the requests it serves is done on
/// PostgreSQL (`sms-server` runs 8 or more of them there). Call it where the worker builds its
/// app (`sms_http::app`).
pub fn serve_database_work_here() {
    WAITS_FOR_THE_DATABASE.with(|here| here.set(true));
}

/// Whether database work is done on the calling thread ([`serve_database_work_here`]). Handed
/// to a blocking thread, every call cost two wake-ups, the blocking thread's and the worker's
/// once it was done: most of a request's hand-offs between threads, which on a small machine
/// cost more CPU than the work (BENCHMARKS.md, 2026-12-07, fourteenth session). On SQLite, whose
/// writes go to the store's writer whatever the thread, the reads keep the blocking pool (not
/// measured otherwise). Any other thread (the process's main runtime drives the background
/// workers, the Redis connections and the HTTP client) never waits for a database.
fn on_own_thread(store: &Store) -> bool {
    store.backend() == sms_store::Backend::Postgres && WAITS_FOR_THE_DATABASE.with(std::cell::Cell::get)
}

/// Records how long work waited for a blocking thread (`sms_db_wait_duration_seconds`): on a
/// machine short of cores, or with every thread busy, a request's database work queues here
/// (done on the request's own thread, it waits for none).
fn thread_waited(queued: Instant) {
    metrics::histogram!("sms_db_wait_duration_seconds", "for" => "thread").record(queued.elapsed().as_secs_f64());
}
