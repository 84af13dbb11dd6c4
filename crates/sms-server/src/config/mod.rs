//! Configuration from the environment; the README's table lists every variable.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sms_delivery::{DeliverySettings, EventSettings};
use sms_domain::network::{Destinations, Networks};
use sms_domain::Secret;

use crate::StartupError;

mod redis;
pub use redis::SentinelConfig;

/// Everything the server reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `SMS_BIND`, default `127.0.0.1:8080`.
    pub bind: String,
    /// `DATABASE_URL`, default `sqlite://data/sms.sqlite3` (under `SMS_DATA_DIR`).
    pub database_url: String,
    /// `REDIS_URL`; unset (and no sentinels) means the in-process lock (one instance only).
    pub redis_url: Option<String>,
    /// `REDIS_SENTINELS`, `REDIS_SENTINEL_MASTER`, `REDIS_PASSWORD`, `REDIS_SENTINEL_PASSWORD`:
    /// the Redis master found through Redis Sentinel, in place of `REDIS_URL`.
    pub redis_sentinel: Option<SentinelConfig>,
    /// `REDIS_KEY_PREFIX`, default `sms:`: namespaces this deployment's keys.
    pub redis_key_prefix: String,
    /// `SMS_LOCK_PENDING_TTL_SECS`, default 30: how long a session lock taken by a request
    /// lives before the request's chat is committed (what a crashed instance leaves behind).
    pub lock_pending_ttl: Duration,
    /// `SMS_AUTH_CACHE_TTL_SECS`, default 5, 0 turns it off: how long an authenticated tenant
    /// is served from memory. Revocations and tenant changes empty the cache at once.
    pub auth_cache_ttl: Duration,
    /// `SMS_JWT_SECRET`; generated in the data directory when unset on SQLite.
    pub jwt_secret: Option<Secret>,
    /// `SMS_JWT_MAX_TTL_SECS`, default 2,592,000 (30 days): the longest a JWT may live.
    pub jwt_max_ttl_secs: u64,
    /// `SMS_DATA_DIR`, default `data`.
    pub data_dir: PathBuf,
    /// `SMS_WORKERS`: HTTP worker threads; default one per core, and at least 8 on PostgreSQL.
    pub workers: Option<usize>,
    /// `SMS_DB_POOL_SIZE`: database connections per instance; unset, 16 on PostgreSQL and 4 on
    /// SQLite ([`sms_store::default_pool_size`]).
    pub db_pool_size: Option<u32>,
    /// `SMS_SWEEP_INTERVAL_SECS`: how often idle chats are ended, default 30.
    pub sweep_interval: Duration,
    /// `SMS_UNROUTED_RETENTION_DAYS`, default 30: how long replies that joined no chat are kept.
    pub unrouted_retention_days: i64,
    /// `SMS_PUBLIC_URL`: this service as providers reach it; default `http://` + `SMS_BIND`.
    pub public_url: Option<String>,
    /// `SMS_SHUTDOWN_GRACE_SECS` (20): on SIGTERM or SIGINT, how long the requests under way may
    /// take to finish before the server stops anyway.
    pub shutdown_grace: Duration,
    /// `SMS_KEEP_ALIVE_SECS` (75): how long an idle client connection is kept open. Longer than
    /// the idle timeout of the proxies in front (nginx's upstream connections and most load
    /// balancers keep theirs 60 s), so that a proxy never sends a request on a connection this
    /// server is closing at that moment.
    pub keep_alive: Duration,
    /// `SMS_CONSOLE_IDLE_MINUTES` (480): a console session unused this long ends.
    pub console_idle_minutes: i64,
    /// The SMS provider and the delivery worker.
    pub delivery: DeliveryConfig,
    /// `SMS_EVENTS_WORKER`: `on` (default) or `off` (this instance posts no event webhooks).
    pub events_worker: bool,
    /// `SMS_EVENTS_TIMEOUT_SECS` (10), `SMS_EVENTS_RETRY_BASE_MS` (5000),
    /// `SMS_EVENTS_RETRY_MAX_SECS` (3600), `SMS_EVENTS_MAX_ATTEMPTS` (12), `SMS_EVENTS_POLL_MS`
    /// (500), `SMS_EVENTS_ENDPOINT_CONCURRENCY` (4), `SMS_EVENTS_DISABLED_RETENTION_HOURS` (72),
    /// `SMS_EVENTS_ALLOWED_NETWORKS` (none): how event webhooks are posted and retried, and where.
    pub events: EventSettings,
    /// How the service meets the network: who is a trusted proxy, how long a body may take,
    /// where `/metrics` is, how many failed authentications an address may have.
    pub edge: EdgeConfig,
}

/// How the service meets the network.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// `SMS_TRUSTED_PROXIES` (CIDRs, default none): whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Networks,
    /// `SMS_BODY_TIMEOUT_SECS`, default 10: a body that has not arrived by then answers 408.
    pub body_timeout: Duration,
    /// `SMS_METRICS_BIND`, default unset: when set, `/metrics` is served there only.
    pub metrics_bind: Option<String>,
    /// `SMS_AUTH_FAILURES_PER_MINUTE`, default 60.
    pub auth_failures_per_minute: u32,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Networks::default(),
            body_timeout: sms_http::client::DEFAULT_BODY_TIMEOUT,
            metrics_bind: None,
            auth_failures_per_minute: sms_service::DEFAULT_AUTH_FAILURES_PER_MINUTE,
        }
    }
}

/// `SMS_PROVIDER`: who delivers the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProviderKind {
    /// Records each message as sent and logs it (no number, no body): for development.
    #[default]
    Log,
    /// Twilio's Messages REST API.
    Twilio,
    /// A signed JSON POST to the operator's own gateway.
    Webhook,
}

impl std::str::FromStr for ProviderKind {
    type Err = StartupError;

    fn from_str(value: &str) -> Result<Self, StartupError> {
        match value {
            "log" => Ok(Self::Log),
            "twilio" => Ok(Self::Twilio),
            "webhook" => Ok(Self::Webhook),
            other => Err(StartupError::Config(format!("SMS_PROVIDER must be log, twilio or webhook, not {other}"))),
        }
    }
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Twilio => "twilio",
            Self::Webhook => "webhook",
        }
    }
}

/// Which provider delivers, and how.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// `SMS_PROVIDER`: `log` (default), `twilio` or `webhook`.
    pub provider: ProviderKind,
    /// `TWILIO_ACCOUNT_SID`.
    pub twilio_account_sid: Option<String>,
    /// `TWILIO_AUTH_TOKEN`: sends, and checks Twilio's callbacks.
    pub twilio_auth_token: Option<Secret>,
    /// `TWILIO_BASE_URL`, default `https://api.twilio.com`.
    pub twilio_base_url: String,
    /// `SMS_WEBHOOK_URL` and `SMS_WEBHOOK_SECRET`.
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<Secret>,
    /// `SMS_DELIVERY_WORKER`: `on` (default) or `off` (this instance only serves the API).
    pub worker: bool,
    /// `SMS_DELIVERY_MAX_ATTEMPTS`, default 8.
    pub max_attempts: u32,
    /// `SMS_DELIVERY_RETRY_BASE_MS`, default 1000.
    pub retry_base: Duration,
    /// `SMS_DELIVERY_RETRY_MAX_SECS`, default 300.
    pub retry_max: Duration,
    /// `SMS_DELIVERY_CONNECT_TIMEOUT_SECS`, default 3, and `SMS_DELIVERY_TIMEOUT_SECS`, default 10.
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// `SMS_DELIVERY_POLL_MS`, default 500.
    pub poll: Duration,
}

/// The defaults live with what they configure: the worker's in [`DeliverySettings`], the
/// session lock's and the authentication cache's in `sms-service`, the pool's in `sms-store`.
impl Default for DeliveryConfig {
    fn default() -> Self {
        let worker = DeliverySettings::default();
        Self {
            provider: ProviderKind::default(),
            twilio_account_sid: None,
            twilio_auth_token: None,
            twilio_base_url: sms_delivery::twilio::DEFAULT_BASE_URL.into(),
            webhook_url: None,
            webhook_secret: None,
            worker: true,
            max_attempts: worker.max_attempts,
            retry_base: worker.retry_base,
            retry_max: worker.retry_max,
            connect_timeout: sms_delivery::DEFAULT_CONNECT_TIMEOUT,
            timeout: sms_delivery::DEFAULT_TIMEOUT,
            poll: worker.poll,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite://data/sms.sqlite3".into(),
            redis_url: None,
            redis_sentinel: None,
            redis_key_prefix: "sms:".into(),
            lock_pending_ttl: sms_service::PENDING_TTL,
            auth_cache_ttl: sms_service::AUTH_CACHE_TTL,
            jwt_secret: None,
            jwt_max_ttl_secs: sms_service::DEFAULT_JWT_MAX_TTL_SECS,
            data_dir: PathBuf::from("data"),
            workers: None,
            db_pool_size: None,
            sweep_interval: Duration::from_secs(30),
            unrouted_retention_days: sms_service::UNROUTED_RETENTION_DAYS,
            public_url: None,
            shutdown_grace: Duration::from_secs(20),
            keep_alive: Duration::from_secs(75),
            console_idle_minutes: sms_service::console::DEFAULT_IDLE_MINUTES,
            delivery: DeliveryConfig::default(),
            events_worker: true,
            events: EventSettings::default(),
            edge: EdgeConfig::default(),
        }
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn parsed<T: std::str::FromStr>(name: &str) -> Result<Option<T>, StartupError> {
    var(name)
        .map(|v| v.parse::<T>().map_err(|_| StartupError::Config(format!("{name} is not a valid number"))))
        .transpose()
}

impl Config {
    pub fn from_env() -> Result<Self, StartupError> {
        let defaults = Self::default();
        let data_dir = var("SMS_DATA_DIR").map_or(defaults.data_dir, PathBuf::from);
        let database_url = var("DATABASE_URL").unwrap_or_else(|| default_sqlite_url(&data_dir));
        Ok(Self {
            bind: var("SMS_BIND").unwrap_or(defaults.bind),
            database_url,
            redis_url: var("REDIS_URL"),
            redis_sentinel: SentinelConfig::from_env()?,
            redis_key_prefix: var("REDIS_KEY_PREFIX").unwrap_or(defaults.redis_key_prefix),
            lock_pending_ttl: parsed::<u64>("SMS_LOCK_PENDING_TTL_SECS")?
                .map_or(defaults.lock_pending_ttl, |s| Duration::from_secs(s.max(1))),
            auth_cache_ttl: parsed::<u64>("SMS_AUTH_CACHE_TTL_SECS")?
                .map_or(defaults.auth_cache_ttl, Duration::from_secs),
            jwt_secret: var("SMS_JWT_SECRET").map(Secret::from),
            jwt_max_ttl_secs: parsed::<u64>("SMS_JWT_MAX_TTL_SECS")?.unwrap_or(defaults.jwt_max_ttl_secs).max(1),
            data_dir,
            workers: parsed("SMS_WORKERS")?,
            db_pool_size: parsed::<u32>("SMS_DB_POOL_SIZE")?.map(|n| n.max(1)).or(defaults.db_pool_size),
            sweep_interval: parsed::<u64>("SMS_SWEEP_INTERVAL_SECS")?
                .map_or(defaults.sweep_interval, |s| Duration::from_secs(s.max(1))),
            unrouted_retention_days: parsed::<i64>("SMS_UNROUTED_RETENTION_DAYS")?
                .unwrap_or(defaults.unrouted_retention_days)
                .max(1),
            public_url: var("SMS_PUBLIC_URL"),
            shutdown_grace: parsed::<u64>("SMS_SHUTDOWN_GRACE_SECS")?
                .map_or(defaults.shutdown_grace, Duration::from_secs),
            keep_alive: parsed::<u64>("SMS_KEEP_ALIVE_SECS")?.map_or(defaults.keep_alive, Duration::from_secs),
            console_idle_minutes: match parsed::<i64>("SMS_CONSOLE_IDLE_MINUTES")? {
                None => defaults.console_idle_minutes,
                Some(m) if (1..=525_600).contains(&m) => m,
                Some(_) => return Err(StartupError::Config("SMS_CONSOLE_IDLE_MINUTES must be 1 to 525600".into())),
            },
            delivery: DeliveryConfig::from_env()?,
            events_worker: switch("SMS_EVENTS_WORKER")?,
            events: events_from_env(defaults.events)?,
            edge: EdgeConfig {
                trusted_proxies: networks("SMS_TRUSTED_PROXIES")?,
                body_timeout: parsed::<u64>("SMS_BODY_TIMEOUT_SECS")?
                    .map_or(defaults.edge.body_timeout, |s| Duration::from_secs(s.max(1))),
                metrics_bind: var("SMS_METRICS_BIND"),
                auth_failures_per_minute: parsed::<u32>("SMS_AUTH_FAILURES_PER_MINUTE")?
                    .unwrap_or(defaults.edge.auth_failures_per_minute),
            },
        })
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres://") || self.database_url.starts_with("postgresql://")
    }
}

impl DeliveryConfig {
    fn from_env() -> Result<Self, StartupError> {
        let d = Self::default();
        let worker = switch("SMS_DELIVERY_WORKER")?;
        let config = Self {
            provider: var("SMS_PROVIDER").map_or(Ok(d.provider), |v| v.parse())?,
            twilio_account_sid: var("TWILIO_ACCOUNT_SID"),
            twilio_auth_token: var("TWILIO_AUTH_TOKEN").map(Secret::from),
            twilio_base_url: var("TWILIO_BASE_URL").unwrap_or(d.twilio_base_url),
            webhook_url: var("SMS_WEBHOOK_URL"),
            webhook_secret: var("SMS_WEBHOOK_SECRET").map(Secret::from),
            worker,
            max_attempts: parsed::<u32>("SMS_DELIVERY_MAX_ATTEMPTS")?.unwrap_or(d.max_attempts).max(1),
            retry_base: parsed::<u64>("SMS_DELIVERY_RETRY_BASE_MS")?.map_or(d.retry_base, Duration::from_millis),
            retry_max: parsed::<u64>("SMS_DELIVERY_RETRY_MAX_SECS")?.map_or(d.retry_max, Duration::from_secs),
            connect_timeout: parsed::<u64>("SMS_DELIVERY_CONNECT_TIMEOUT_SECS")?
                .map_or(d.connect_timeout, Duration::from_secs),
            timeout: parsed::<u64>("SMS_DELIVERY_TIMEOUT_SECS")?.map_or(d.timeout, Duration::from_secs),
            poll: parsed::<u64>("SMS_DELIVERY_POLL_MS")?.map_or(d.poll, Duration::from_millis),
        };
        Ok(config)
    }

    /// Refuses a provider whose settings are missing, at start rather than at the first send,
    /// and, with Twilio, a public URL in clear text on a host that is not this machine: Twilio's
    /// callbacks and their signatures would cross the internet readable by anyone.
    pub fn check(&self, public_url: &str) -> Result<(), StartupError> {
        if self.provider == ProviderKind::Twilio && !safe_for_callbacks(public_url) {
            return Err(StartupError::Config(
                "SMS_PUBLIC_URL must be https:// with SMS_PROVIDER=twilio (http:// only on a loopback host)".into(),
            ));
        }
        let missing = |name: &str| {
            StartupError::Config(format!("{name} is required with SMS_PROVIDER={}", self.provider.as_str()))
        };
        match self.provider {
            ProviderKind::Log => Ok(()),
            ProviderKind::Twilio => {
                self.twilio_account_sid.as_ref().ok_or_else(|| missing("TWILIO_ACCOUNT_SID"))?;
                self.twilio_auth_token.as_ref().ok_or_else(|| missing("TWILIO_AUTH_TOKEN"))?;
                Ok(())
            }
            ProviderKind::Webhook => {
                self.webhook_url.as_ref().ok_or_else(|| missing("SMS_WEBHOOK_URL"))?;
                self.webhook_secret.as_ref().ok_or_else(|| missing("SMS_WEBHOOK_SECRET"))?;
                Ok(())
            }
        }
    }
}

/// `https://`, or `http://` on a loopback host (a local stand-in, a TLS proxy on this machine).
fn safe_for_callbacks(public_url: &str) -> bool {
    let Ok(url) = url::Url::parse(public_url) else { return false };
    match (url.scheme(), url.host()) {
        ("https", _) => true,
        ("http", Some(url::Host::Domain(name))) => name.eq_ignore_ascii_case("localhost"),
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        _ => false,
    }
}

/// An `on` (default) or `off` variable.
fn switch(name: &str) -> Result<bool, StartupError> {
    match var(name).as_deref() {
        None | Some("on") => Ok(true),
        Some("off") => Ok(false),
        Some(_) => Err(StartupError::Config(format!("{name} must be on or off"))),
    }
}

fn events_from_env(d: EventSettings) -> Result<EventSettings, StartupError> {
    Ok(EventSettings {
        timeout: parsed::<u64>("SMS_EVENTS_TIMEOUT_SECS")?.map_or(d.timeout, |s| Duration::from_secs(s.max(1))),
        retry_base: parsed::<u64>("SMS_EVENTS_RETRY_BASE_MS")?.map_or(d.retry_base, Duration::from_millis),
        retry_max: parsed::<u64>("SMS_EVENTS_RETRY_MAX_SECS")?.map_or(d.retry_max, Duration::from_secs),
        max_attempts: parsed::<u32>("SMS_EVENTS_MAX_ATTEMPTS")?.unwrap_or(d.max_attempts).max(1),
        poll: parsed::<u64>("SMS_EVENTS_POLL_MS")?.map_or(d.poll, Duration::from_millis),
        endpoint_concurrency: parsed::<usize>("SMS_EVENTS_ENDPOINT_CONCURRENCY")?
            .unwrap_or(d.endpoint_concurrency)
            .max(1),
        disabled_retention: parsed::<u64>("SMS_EVENTS_DISABLED_RETENTION_HOURS")?
            .map_or(d.disabled_retention, |h| Duration::from_secs(h.saturating_mul(3600))),
        destinations: Destinations::new(networks("SMS_EVENTS_ALLOWED_NETWORKS")?),
        ..d
    })
}

/// A comma-separated list of CIDRs (a bare address is a network of one); unset: none.
fn networks(name: &str) -> Result<Networks, StartupError> {
    var(name).map_or(Ok(Networks::default()), |list| {
        Networks::parse(&list).map_err(|e| StartupError::Config(format!("{name}: {e}")))
    })
}

fn default_sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("sms.sqlite3").display())
}
