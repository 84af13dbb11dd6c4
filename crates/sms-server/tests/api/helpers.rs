//! Starts the real application on port 0 against a database of its own, and talks HTTP to it.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use sms_http::JwtKeys;
use sms_server::{Application, Config};

pub const JWT_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";

pub use crate::db::{hex_id, Backend, TestDb};

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

/// The Redis the PostgreSQL variant of the suite locks with: `SMS_TEST_REDIS_URL`.
pub fn redis_url() -> String {
    std::env::var("SMS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
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
        // Likewise the event webhooks: the event tests turn their worker on.
        events_worker: false,
        ..Config::default()
    }
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
    let app = Application::build(config).unwrap_or_else(|e| panic!("build: {e}"));
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
    let admin_token = jwt.admin_token(600).unwrap_or_else(|e| panic!("{e}"));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
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

/// An answer's status and JSON body (`Value::Null` when the body is empty).
pub async fn read(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, body)
}

pub fn msg(message: &str) -> Value {
    json!({ "message": message })
}

/// The seed's request body.
pub fn seed_body() -> Value {
    json!({
        "chat_type": "Messaging (SMS)",
        "end_user_number": "+1 415-555-0100",
        "outbound_number": "+1 628-555-0199",
        "message": "lorem ipsum",
        "ticket_id": "5006x00000XXxxxXXX"
    })
}

/// The seed body with fields replaced (`Value::Null` values are sent as null) or removed (a
/// key prefixed with `-`).
pub fn body_with(changes: &[(&str, Value)]) -> Value {
    let mut body = seed_body();
    if let Some(map) = body.as_object_mut() {
        for (key, value) in changes {
            match key.strip_prefix('-') {
                Some(k) => {
                    map.remove(k);
                }
                None => {
                    map.insert((*key).to_owned(), value.clone());
                }
            }
        }
    }
    body
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

    pub async fn admin_json(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        read(self.admin(method, path).json(&body).send().await.unwrap_or_else(|e| panic!("{e}"))).await
    }

    pub async fn admin_call(&self, method: Method, path: &str) -> (u16, Value) {
        read(self.admin(method, path).send().await.unwrap_or_else(|e| panic!("{e}"))).await
    }

    /// Creates a tenant (with `settings` merged into the body) and an API token for it. Test
    /// tenants have no rate limit unless `settings` sets one.
    pub async fn tenant_with(&self, subdomain: &str, settings: Value) -> Tenant {
        let mut body =
            json!({ "subdomain": subdomain, "name": format!("{subdomain} Inc."), "rate_limit_per_second": 0 });
        if let (Some(map), Some(extra)) = (body.as_object_mut(), settings.as_object()) {
            for (k, v) in extra {
                map.insert(k.clone(), v.clone());
            }
        }
        let (status, created) = self.admin_json(Method::POST, "/admin/v1/tenants", body).await;
        assert_eq!(status, 201, "create tenant: {created}");
        let (status, token) = self.admin_call(Method::POST, &format!("/admin/v1/tenants/{subdomain}/api-tokens")).await;
        assert_eq!(status, 201, "create token: {token}");
        let token = token["token"].as_str().unwrap_or_else(|| panic!("no token in {token}")).to_owned();
        Tenant { subdomain: subdomain.to_owned(), token }
    }

    pub async fn tenant(&self, subdomain: &str) -> Tenant {
        self.tenant_with(subdomain, json!({})).await
    }

    /// A tenant owning the seed's outbound number.
    pub async fn seed_tenant(&self, subdomain: &str) -> Tenant {
        let tenant = self.tenant(subdomain).await;
        self.add_number(&tenant, "+1 628-555-0199").await;
        tenant
    }

    /// A second tenant, `other`, with its own outbound number.
    pub async fn seed_tenant_other(&self) -> Tenant {
        let tenant = self.tenant("other").await;
        self.add_number(&tenant, "+1 628-555-0150").await;
        tenant
    }

    pub async fn add_number(&self, tenant: &Tenant, number: &str) -> i64 {
        let path = format!("/admin/v1/tenants/{}/outbound-numbers", tenant.subdomain);
        let (status, body) = self.admin_json(Method::POST, &path, json!({ "number": number })).await;
        assert_eq!(status, 201, "add number: {body}");
        body["id"].as_i64().unwrap_or_default()
    }

    /// The seed's agent John Doe.
    pub async fn add_seed_agent(&self, tenant: &Tenant) -> Value {
        self.add_agent(
            tenant,
            json!({
                "email": "john.doe@foo.com", "first_name": "John", "last_name": "Doe",
                "agent_number": 9, "avatar_url": "https://foobar.com/johndoe"
            }),
        )
        .await
    }

    pub async fn add_agent(&self, tenant: &Tenant, body: Value) -> Value {
        let path = format!("/admin/v1/tenants/{}/agents", tenant.subdomain);
        let (status, agent) = self.admin_json(Method::POST, &path, body).await;
        assert_eq!(status, 201, "add agent: {agent}");
        agent
    }

    pub async fn patch_tenant(&self, tenant: &Tenant, body: Value) {
        let path = format!("/admin/v1/tenants/{}", tenant.subdomain);
        let (status, out) = self.admin_json(Method::PATCH, &path, body).await;
        assert_eq!(status, 200, "patch tenant: {out}");
    }

    pub async fn send_sms(&self, tenant: &Tenant, body: &Value) -> (u16, Value) {
        let req = self.as_tenant(tenant, Method::POST, "/apps/api/v1/sms").json(body);
        read(req.send().await.unwrap_or_else(|e| panic!("{e}"))).await
    }

    /// `POST /apps/api/v1/chats/{chat_id}/messages` with `body`.
    pub async fn reply(&self, tenant: &Tenant, chat_id: &Value, body: &Value) -> (u16, Value) {
        let req = self.as_tenant(tenant, Method::POST, &format!("/apps/api/v1/chats/{chat_id}/messages")).json(body);
        read(req.send().await.unwrap_or_else(|e| panic!("{e}"))).await
    }

    pub async fn tenant_call(&self, tenant: &Tenant, method: Method, path: &str) -> (u16, Value) {
        read(self.as_tenant(tenant, method, path).send().await.unwrap_or_else(|e| panic!("{e}"))).await
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

/// Generates one test per backend for each named `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}

/// Whether a JSON text has these keys in this order (each key's first appearance), and as its
/// only top-level keys: the wire order, which a parsed `Value` does not keep.
pub fn in_key_order(text: &str, keys: &[&str]) -> bool {
    let parsed: Value = serde_json::from_str(text).unwrap_or_default();
    let mut sorted: Vec<&str> = parsed.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    let mut expected = keys.to_vec();
    sorted.sort_unstable();
    expected.sort_unstable();
    let at: Vec<usize> = keys.iter().map(|k| text.find(&format!("\"{k}\":")).unwrap_or(usize::MAX)).collect();
    sorted == expected && at.windows(2).all(|w| w[0] < w[1])
}
