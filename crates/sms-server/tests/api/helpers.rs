//! Starts the real application on port 0 against a database of its own, restarts it, starts
//! siblings beside it. The calls the tests make to it are in `common`.

use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use sms_delivery::EventSettings;
use sms_domain::network::{Destinations, Networks};
use sms_http::JwtKeys;
use sms_server::{Application, Config};
use sms_test_support::{hex_id, TestDb};

pub use sms_test_support::{redis_url, Backend};

pub const JWT_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";

/// A running application and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub admin_token: String,
    /// The running instance's shared state.
    pub state: sms_http::AppState,
    handle: actix_web::dev::ServerHandle,
    config: Config,
    // Declared last: dropped after the server is told to stop.
    pub db: TestDb,
}

/// A tenant with an API token.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub subdomain: String,
    pub token: String,
}

/// SQLite runs as the embedded default (in-process lock); PostgreSQL runs as a deployment
/// does, with the Redis lock under a key prefix of the test's own.
pub fn config_for(backend: Backend, db_url: &str) -> Config {
    let redis = (backend == Backend::Postgres).then(redis_url);
    Config {
        bind: "127.0.0.1:0".into(),
        database_url: db_url.to_owned(),
        redis_url: redis,
        redis_key_prefix: format!("test:{}:", hex_id()),
        jwt_secret: Some(JWT_SECRET.into()),
        workers: Some(1),
        db_pool_size: Some(8),
        sweep_interval: Duration::from_millis(500),
        // Tests of the API see messages as written; the delivery tests turn the worker on.
        delivery: sms_server::config::DeliveryConfig { worker: false, ..Default::default() },
        // Likewise the event webhooks: the event tests turn their worker on. Their receivers
        // are on loopback, which only SMS_EVENTS_ALLOWED_NETWORKS lets them reach.
        events_worker: false,
        events: EventSettings { destinations: loopback_allowed(), ..EventSettings::default() },
        ..Config::default()
    }
}

/// Where the test receivers are: loopback, allowed as an operator would allow an on-premises CRM.
pub fn loopback_allowed() -> Destinations {
    Destinations::new(Networks::parse("127.0.0.0/8, ::1").unwrap())
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Like [`spawn_app`], with the configuration adjusted first (a provider, the worker on).
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let db = TestDb::create(backend);
    let mut config = config_for(backend, db.url());
    adjust(&mut config);
    start(db, config).await
}

/// Builds and starts an application on `db_url`; answers its address, handle and state.
fn launch(config: &Config) -> (String, actix_web::dev::ServerHandle, sms_http::AppState) {
    let app = Application::build(config).expect("build");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let state = app.state().clone();
    actix_web::rt::spawn(app.run_until_stopped());
    (address, handle, state)
}

/// A second instance of an application: same database, same Redis and prefix.
pub struct Instance {
    pub address: String,
    pub state: sms_http::AppState,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Instance {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

async fn start(db: TestDb, config: Config) -> TestApp {
    let (address, handle, state) = launch(&config);
    let jwt = JwtKeys::new(JWT_SECRET.as_bytes());
    let admin_token = jwt.admin_token(600).unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    TestApp { address, client, admin_token, state, handle, config, db }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The command is sent at once; the returned future only waits for completion.
        drop(self.handle.stop(false));
        if let Some(url) = &self.config.redis_url {
            delete_keys(url, &self.config.redis_key_prefix);
        }
    }
}

/// Deletes the keys a test left in the shared Redis.
fn delete_keys(url: &str, prefix: &str) {
    const DELETE: &str =
        "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do n = n + redis.call('DEL', k) end return n";
    if let Ok(mut conn) = redis::Client::open(url).and_then(|c| c.get_connection()) {
        let _: redis::RedisResult<i64> =
            redis::cmd("EVAL").arg(DELETE).arg(0).arg(format!("{prefix}*")).query(&mut conn);
    }
}

impl TestApp {
    /// The Redis key prefix of this instance (and of its restarts and siblings).
    pub fn redis_prefix(&self) -> &str {
        &self.config.redis_key_prefix
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(&self.admin_token)
    }

    pub fn as_tenant(&self, tenant: &Tenant, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).basic_auth(&tenant.subdomain, Some(&tenant.token))
    }

    /// Stops this instance and starts a new one on the same database and Redis prefix (a
    /// restart): nothing held in memory, such as the in-process lock, survives.
    pub async fn restart(&mut self) {
        self.restart_with(|_| {}).await;
    }

    /// A restart with the configuration adjusted first.
    pub async fn restart_with(&mut self, adjust: impl FnOnce(&mut Config)) {
        adjust(&mut self.config);
        self.handle.stop(true).await;
        let (address, handle, state) = launch(&self.config);
        self.address = address;
        self.handle = handle;
        self.state = state;
    }

    /// Starts another instance beside this one, as a load balancer's second backend.
    pub fn another_instance(&self) -> Instance {
        let (address, handle, state) = launch(&self.config);
        Instance { address, state, handle }
    }
}
