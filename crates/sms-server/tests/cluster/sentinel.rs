//! Redis Sentinel (section 15): two instances find the Redis master through three sentinels,
//! with passwords on the servers and on the sentinels. Under load the master is killed; the
//! sentinels promote the replica. Requests that need Redis answer 503, with nothing written, for
//! at most the promotion's time plus 2 s, and then succeed, on instances that were not
//! restarted; no consumer ever has two active chats.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use sms_test_support::{Backend, TestDb};

use crate::load::{self, Sent};
use crate::processes::{free_port, Client, Instance};

const MASTER: &str = "mymaster";
const PASSWORD: &str = "server-pass-0123456789";
const SENTINEL_PASSWORD: &str = "sentinel-pass-0123456789";

/// A `redis-server` of the test's own: a server, or a sentinel from its configuration file.
struct Node {
    port: u16,
    password: &'static str,
    child: Child,
}

impl Node {
    fn server(dir: &std::path::Path, replica_of: Option<u16>) -> Self {
        let port = free_port();
        let mut command = Command::new("redis-server");
        command.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        command.args(["--requirepass", PASSWORD, "--masterauth", PASSWORD]).arg("--dir").arg(dir);
        if let Some(master) = replica_of {
            command.args(["--replicaof", "127.0.0.1", &master.to_string()]);
        }
        Self::spawn(command, port, PASSWORD)
    }

    fn sentinel(dir: &std::path::Path, master: u16) -> Self {
        let port = free_port();
        let config = dir.join(format!("sentinel-{port}.conf"));
        let text = format!(
            "port {port}\nbind 127.0.0.1\ndir {dir}\n\
             sentinel monitor {MASTER} 127.0.0.1 {master} 2\n\
             sentinel down-after-milliseconds {MASTER} 1000\n\
             sentinel failover-timeout {MASTER} 10000\n\
             sentinel parallel-syncs {MASTER} 1\n\
             sentinel auth-pass {MASTER} {PASSWORD}\n\
             requirepass {SENTINEL_PASSWORD}\n\
             sentinel sentinel-pass {SENTINEL_PASSWORD}\n",
            dir = dir.display()
        );
        std::fs::write(&config, text).unwrap();
        let mut command = Command::new("redis-server");
        command.arg(&config).arg("--sentinel");
        Self::spawn(command, port, SENTINEL_PASSWORD)
    }

    fn spawn(mut command: Command, port: u16, password: &'static str) -> Self {
        let child = command.stdout(Stdio::null()).spawn().expect("redis-server must be installed");
        let node = Self { port, password, child };
        let deadline = Instant::now() + Duration::from_secs(5);
        while node.query::<String>(&mut redis::cmd("PING")).is_err() {
            assert!(Instant::now() < deadline, "redis-server on {port} did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        node
    }

    fn query<T: redis::FromRedisValue>(&self, cmd: &mut redis::Cmd) -> redis::RedisResult<T> {
        let url = format!("redis://:{}@127.0.0.1:{}", self.password, self.port);
        let mut conn = redis::Client::open(url)?.get_connection_with_timeout(Duration::from_millis(500))?;
        cmd.query(&mut conn)
    }

    /// The port of the master this sentinel names now.
    fn master_port(&self) -> Option<u16> {
        let addr: Option<(String, String)> =
            self.query(redis::cmd("SENTINEL").arg("get-master-addr-by-name").arg(MASTER)).ok()?;
        addr.and_then(|(_, port)| port.parse().ok())
    }

    /// What this sentinel knows of the master: its replicas and the other sentinels.
    fn knows(&self) -> (usize, usize) {
        let replicas: Vec<redis::Value> =
            self.query(redis::cmd("SENTINEL").arg("replicas").arg(MASTER)).unwrap_or_default();
        let sentinels: Vec<redis::Value> =
            self.query(redis::cmd("SENTINEL").arg("sentinels").arg(MASTER)).unwrap_or_default();
        (replicas.len(), sentinels.len())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The E.164 form of a number as the load writes it (`+1 415-200-0001`).
fn e164(number: &str) -> String {
    number.chars().filter(|c| *c == '+' || c.is_ascii_digit()).collect()
}

#[test]
fn a_killed_master_is_followed_through_the_sentinels() {
    let _serial = crate::serial();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut master = Node::server(dir.path(), None);
    let replica = Node::server(dir.path(), Some(master.port));
    wait_until("the replica is in sync", Duration::from_secs(10), || {
        replica
            .query::<String>(redis::cmd("INFO").arg("replication"))
            .is_ok_and(|i| i.contains("master_link_status:up"))
    });
    let sentinels: Vec<Node> = (0..3).map(|_| Node::sentinel(dir.path(), master.port)).collect();
    wait_until("every sentinel knows the replica and the two other sentinels", Duration::from_secs(20), || {
        sentinels.iter().all(|s| s.knows() == (1, 2))
    });

    let db = TestDb::create(Backend::Postgres);
    let list = sentinels.iter().map(|s| format!("127.0.0.1:{}", s.port)).collect::<Vec<_>>().join(",");
    let env = [
        ("REDIS_SENTINELS", list.as_str()),
        ("REDIS_SENTINEL_MASTER", MASTER),
        ("REDIS_PASSWORD", PASSWORD),
        ("REDIS_SENTINEL_PASSWORD", SENTINEL_PASSWORD),
    ];
    let mut instances: Vec<Instance> =
        (0..2).map(|i| Instance::launch(db.url(), &dir.path().join(format!("instance-{i}.log")), &env)).collect();
    let bases: Vec<String> = instances.iter().map(|i| i.base.clone()).collect();
    let client = runtime.block_on(async {
        let http = reqwest::Client::new();
        for base in &bases {
            let response = http.get(format!("{base}/readyz")).send().await.unwrap();
            let status = response.status().as_u16();
            let ready: serde_json::Value = response.json().await.unwrap();
            assert_eq!((status, &ready["session_lock"]), (200, &json!("ok")), "{ready}");
        }
        Client::acme(&bases, Duration::from_secs(5)).await
    });
    // The failover is watched from a thread of its own, so the load never waits for it.
    let stop = AtomicBool::new(false);
    let (sent, (killed, promoted)) = std::thread::scope(|scope| {
        let failover = scope.spawn(|| {
            std::thread::sleep(Duration::from_secs(2));
            let killed = Instant::now();
            let _ = master.child.kill();
            let _ = master.child.wait();
            let mut promoted = None;
            while promoted.is_none() && killed.elapsed() < Duration::from_secs(30) {
                if sentinels.iter().any(|s| s.master_port() == Some(replica.port)) {
                    promoted = Some(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if promoted.is_some() {
                std::thread::sleep(Duration::from_secs(5));
            }
            stop.store(true, Ordering::Relaxed);
            let promoted = promoted.expect("the sentinels promoted the replica within 30 s");
            (killed, promoted)
        });
        let sent = runtime.block_on(load::run(&client, &bases, 8, 5, &stop));
        (sent, failover.join().unwrap())
    });

    let promotion = promoted - killed;
    let failed: Vec<&Sent> =
        sent.iter().filter(|s| s.status() != Some(200) && !matches!(s.status(), Some(400 | 409))).collect();
    let unexpected: Vec<_> =
        failed.iter().filter(|s| s.status() != Some(503)).map(|s| (s.status(), s.answer.clone())).collect();
    assert!(unexpected.is_empty(), "answers other than 200, 400 (row 12), 409 and 503: {unexpected:?}");
    let refused_shared: Vec<_> = sent
        .iter()
        .filter(|s| matches!(s.status(), Some(400 | 409)) && !s.number.starts_with("+1 650-555-"))
        .map(|s| s.answer.clone())
        .collect();
    assert!(refused_shared.is_empty(), "only the shared consumers are refused: {refused_shared:?}");
    let first = failed.iter().map(|s| s.start).min();
    let last = failed.iter().map(|s| s.end).max();
    let window = match (first, last) {
        (Some(first), Some(last)) => last.saturating_duration_since(first),
        _ => Duration::ZERO,
    };
    let after_kill = last.map_or(Duration::ZERO, |last| last.saturating_duration_since(killed));
    let after_promotion: Vec<_> = sent
        .iter()
        .filter(|s| s.start >= promoted + Duration::from_secs(2))
        .filter(|s| !matches!(s.status(), Some(200 | 400 | 409)))
        .map(|s| s.answer.clone())
        .collect();
    // Nothing written for a 503: a fresh consumer refused that way has no chat.
    let refused: Vec<String> = failed
        .iter()
        .filter(|s| !s.number.starts_with("+1 650-555-"))
        .map(|s| format!("'{}'", e164(&s.number)))
        .collect();
    let written = if refused.is_empty() {
        0
    } else {
        db.count(&format!("chats c JOIN end_users u ON u.id = c.end_user_id WHERE u.number IN ({})", refused.join(",")))
    };
    let checked = load::check_acknowledged(&|t| db.count(t), &sent);
    let twice = load::doubly_active(&|t| db.count(t));
    let restarted: Vec<_> = instances.iter_mut().filter_map(|i| i.child.try_wait().unwrap()).collect();
    println!(
        "sentinel: {} requests on 2 instances; master killed, replica promoted after {:.2} s; {} answered 503 \
         (or no answer), from {:.2} s before the kill's end to {:.2} s after the kill: a window of {:.2} s, \
         bound {:.2} s (promotion + 2 s); {checked} acknowledged chats found; {written} chats written for a 503; \
         {twice} consumers with two active chats",
        sent.len(),
        promotion.as_secs_f64(),
        failed.len(),
        first.map_or(0.0, |f| killed.saturating_duration_since(f).as_secs_f64()),
        after_kill.as_secs_f64(),
        window.as_secs_f64(),
        (promotion + Duration::from_secs(2)).as_secs_f64(),
    );
    assert!(restarted.is_empty(), "no instance stopped: {restarted:?}");
    assert!(
        after_kill <= promotion + Duration::from_secs(2),
        "503s for {after_kill:?} after the kill, promotion took {promotion:?}"
    );
    assert!(after_promotion.is_empty(), "every request 2 s after the promotion succeeds: {after_promotion:?}");
    assert_eq!((written, twice), (0, 0));
    for base in &bases {
        let (status, ready) = runtime.block_on(client.call(client.http.get(format!("{base}/readyz"))));
        assert_eq!(status, 200, "{ready}");
    }
}
