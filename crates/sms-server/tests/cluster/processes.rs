//! The processes the cluster test runs and talks to: a Redis server of its own, `sms-server`
//! instances (the binary itself, as a deployment starts it), and an HTTP client for them.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{json, Value};

/// The JWT secret every instance is started with.
pub const SECRET: &str = "cluster-secret-0123456789abcdef0123456789";
/// `SMS_LOCK_PENDING_TTL_SECS` of every instance: how long the lock of a request in flight lives.
pub const PENDING_TTL_SECS: u64 = 3;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap()
}

/// A Redis server of the test's own.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    pub fn start(port: u16, dir: tempfile::TempDir) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        let server = Self { port, child: Some(child), dir };
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.command::<String>(&mut redis::cmd("PING")).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn command<T: redis::FromRedisValue>(&self, cmd: &mut redis::Cmd) -> redis::RedisResult<T> {
        let mut conn = redis::Client::open(self.url())?.get_connection()?;
        cmd.query(&mut conn)
    }

    pub fn keys(&self, pattern: &str) -> Vec<String> {
        self.command(redis::cmd("KEYS").arg(pattern)).unwrap_or_default()
    }

    /// SIGSTOP or SIGCONT: Redis keeps its connections but answers nothing while stopped.
    pub fn signal(&self, signal: &str) {
        let Some(pid) = self.child.as_ref().map(Child::id) else { return };
        let status = Command::new("kill").arg(signal).arg(pid.to_string()).status().unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(mut self) -> Self {
        self.stop();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        Self::start(self.port, dir)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One `sms-server` process.
pub struct Instance {
    pub child: Child,
    pub base: String,
}

impl Instance {
    pub fn start(db_url: &str, redis_url: &str, log: &std::path::Path) -> Self {
        Self::start_with(db_url, redis_url, log, &[])
    }

    pub fn start_with(db_url: &str, redis_url: &str, log: &std::path::Path, env: &[(&str, &str)]) -> Self {
        let mut all = vec![("REDIS_URL", redis_url)];
        all.extend_from_slice(env);
        Self::launch(db_url, log, &all)
    }

    /// An instance with the settings of `env` over the defaults of this file; Redis is
    /// whatever `env` says (`REDIS_URL`, or the Sentinel variables).
    pub fn launch(db_url: &str, log: &std::path::Path, env: &[(&str, &str)]) -> Self {
        let stderr = std::fs::File::create(log).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_sms-server"));
        let mut child = command
            .env_remove("REDIS_URL")
            .env("SMS_BIND", "127.0.0.1:0")
            .env("DATABASE_URL", db_url)
            .env("SMS_JWT_SECRET", SECRET)
            .env("SMS_WORKERS", "1")
            .env("SMS_DB_POOL_SIZE", "4")
            .env("SMS_SWEEP_INTERVAL_SECS", "1")
            .env("SMS_LOCK_PENDING_TTL_SECS", PENDING_TTL_SECS.to_string())
            .env("SMS_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().expect("no stdout");
        let mut base = None;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("Serving on ") {
                base = rest.split_whitespace().next().map(str::to_owned);
                break;
            }
        }
        let base = base.unwrap_or_else(|| panic!("the instance did not start; see {}", log.display()));
        Self { child, base }
    }

    /// SIGTERM: the graceful shutdown of section 15.
    pub fn terminate(&self) {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success(), "kill -TERM {}", self.child.id());
    }

    /// SIGKILL: no shutdown, no cleanup.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct Client {
    pub http: reqwest::Client,
    pub admin: String,
    pub subdomain: String,
    pub token: String,
}

impl Client {
    /// A client of the tenant `acme` (no rate limit, its API token, its outbound number), set up
    /// through the admin API, one call after another round robin over `bases`, so every instance
    /// takes part; requests time out after `timeout`.
    pub async fn acme(bases: &[String], timeout: Duration) -> Self {
        let admin = sms_http::JwtKeys::new(SECRET.as_bytes()).admin_token(600).unwrap();
        let http = reqwest::Client::builder().timeout(timeout).build().unwrap();
        let mut client = Client { http, admin, subdomain: "acme".into(), token: String::new() };
        let base = |i: usize| &bases[i % bases.len()];
        let tenant = json!({"subdomain": "acme", "name": "Acme", "rate_limit_per_second": 0});
        client.admin(base(0), "/admin/v1/tenants", tenant).await;
        let token = client.admin(base(1), "/admin/v1/tenants/acme/api-tokens", json!({})).await;
        client.token = token["token"].as_str().unwrap_or_default().to_owned();
        client.admin(base(2), "/admin/v1/tenants/acme/outbound-numbers", json!({"number": "+1 628-555-0199"})).await;
        client
    }

    pub async fn call(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn admin(&self, base: &str, path: &str, body: Value) -> Value {
        let (status, out) =
            self.call(self.http.post(format!("{base}{path}")).bearer_auth(&self.admin).json(&body)).await;
        assert!(status == 201 || status == 200, "{path}: {status} {out}");
        out
    }

    pub async fn admin_patch(&self, base: &str, path: &str, body: Value) {
        let (status, out) =
            self.call(self.http.patch(format!("{base}{path}")).bearer_auth(&self.admin).json(&body)).await;
        assert_eq!(status, 200, "{path}: {out}");
    }

    pub async fn send(&self, base: &str, number: &str) -> (u16, Value) {
        self.try_send(base, number).await.unwrap()
    }

    /// A send that may find no answer (an instance gone, a timeout): `Err` then.
    pub async fn try_send(&self, base: &str, number: &str) -> Result<(u16, Value), reqwest::Error> {
        let body = json!({
            "chat_type": "Messaging (SMS)", "end_user_number": number,
            "outbound_number": "+1 628-555-0199", "message": "lorem ipsum"
        });
        let resp = self
            .http
            .post(format!("{base}/apps/api/v1/sms"))
            .basic_auth(&self.subdomain, Some(&self.token))
            .json(&body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }

    pub async fn get(&self, base: &str, path: &str) -> (u16, Value) {
        self.call(self.http.get(format!("{base}{path}")).basic_auth(&self.subdomain, Some(&self.token))).await
    }

    /// `count` requests for one consumer, spread round-robin over the instances, all at once.
    pub async fn race(&self, bases: &[String], number: &str, count: usize) -> Vec<(u16, Value)> {
        join_all((0..count).map(|i| self.send(&bases[i % bases.len()], number))).await
    }
}
