//! The one-session rule across real processes: three `sms-server` instances on one PostgreSQL
//! database and one Redis of the test's own (on its own port, so the test can stop it), as a
//! scaled-out deployment runs them.
//!
//! Steps, in order: a 60-request race spread over the instances; the same after Redis forgets
//! every lock (FLUSHALL); Redis down (503, nothing written) and back (200, no restart); Redis
//! paused (503 in time, no lock left once it resumes); an
//! instance killed with SIGKILL while it holds a lock mid-request (no orphan rows, the consumer
//! free again once the lock's TTL passes); the sweepers of all instances ending an idle chat.
//!
//! `processes` starts Redis and the instances and talks HTTP to them.

// Tests may unwrap: clippy.toml allows it in `#[test]` functions only, not in the helpers here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod keep_alive;
mod load;
mod processes;
mod restart;
mod sentinel;
mod shutdown;

/// The tests of this binary start processes and measure recoveries: one at a time, so that
/// none slows another's.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use futures_util::future::join_all;
use serde_json::{json, Value};
use sms_test_support::{Backend, TestDb};

use crate::processes::{free_port, Client, Instance, RedisServer, PENDING_TTL_SECS};

const ACTIVE: &str = "Outbound SMS failed. Consumer is already in an active SMS session.";
const BUSY: &str = "another request for this consumer is in progress";

#[test]
fn three_instances_one_session() {
    let _serial = serial();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let db = TestDb::create(Backend::Postgres);
    let logs = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start(free_port(), tempfile::tempdir().unwrap());
    let mut instances: Vec<Instance> = (0..3)
        .map(|i| Instance::start(db.url(), &redis.url(), &logs.path().join(format!("instance-{i}.log"))))
        .collect();
    let bases: Vec<String> = instances.iter().map(|i| i.base.clone()).collect();
    let client = runtime.block_on(Client::acme(&bases, Duration::from_secs(30)));

    // 1. Sixty requests for one consumer over three instances: exactly one chat.
    let first_id = runtime.block_on(async {
        let answers = client.race(&bases, "+1 415-555-0100", 60).await;
        let winners: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 200).map(|(_, b)| b).collect();
        assert_eq!(winners.len(), 1, "exactly one 200: {answers:?}");
        let id = winners[0]["id"].clone();
        for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
            assert_eq!((*status, body), (400, &json!({"message": ACTIVE, "chat_id": id})));
        }
        println!("race: 1 × 200, 59 × 400 row 12 with chat_id {id}");
        id
    });
    assert_eq!(db.count("chats"), 1);

    // 2. Redis forgets every lock: the database still allows only the first chat.
    let flushed: String = redis.command(&mut redis::cmd("FLUSHALL")).unwrap();
    assert_eq!(flushed, "OK");
    runtime.block_on(async {
        let answers = client.race(&bases, "(415) 555-0100", 60).await;
        for (status, body) in &answers {
            assert_eq!((*status, body), (400, &json!({"message": ACTIVE, "chat_id": first_id})), "after FLUSHALL");
        }
        println!("after FLUSHALL: 60 × 400 row 12 with chat_id {first_id}");
    });
    assert_eq!(db.count("chats"), 1);
    assert!(redis.keys("sms:*").is_empty(), "no lock is left behind by the refused requests");

    // 3. Redis down: 503 within 2 s, nothing written, not ready.
    redis.stop();
    runtime.block_on(async {
        let body = json!({"chat_type": "SMS", "end_user_number": "+1 415-555-0109", "outbound_number": "+1 628-555-0199", "message": "x"});
        let req = client.http.post(format!("{}/apps/api/v1/sms", bases[0])).basic_auth(&client.subdomain, Some(&client.token));
        let (status, _) = client.call(req.header("Idempotency-Key", "during-outage").json(&body)).await;
        assert_eq!(status, 503);
        assert_eq!(db.count("idempotency_keys"), 0, "a server fault is not remembered as the key's answer");
        for base in &bases {
            let started = Instant::now();
            let (status, body) = client.send(base, "+1 415-555-0101").await;
            assert_eq!((status, body), (503, json!({"message": "service unavailable"})));
            assert!(started.elapsed() < Duration::from_secs(2), "503 took {:?}", started.elapsed());
            let (status, ready) = client.call(client.http.get(format!("{base}/readyz"))).await;
            assert_eq!(
                (status, ready),
                (503, json!({"message": "not ready", "database": "ok", "session_lock": "unavailable"}))
            );
        }
        println!("redis down: 503 within 2 s on every instance, /readyz 503");
    });
    assert_eq!(db.count("chats"), 1);
    assert_eq!(db.count("end_users"), 1);

    // 4. Redis back: the same instances serve again, no restart.
    redis = redis.restart();
    let second = runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = client.send(&bases[0], "+1 415-555-0101").await;
            if status == 200 {
                return body;
            }
            assert_eq!(status, 503, "{body}");
            assert!(Instant::now() < deadline, "no recovery after Redis came back");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    runtime.block_on(async {
        for base in &bases {
            let (status, ready) = client.call(client.http.get(format!("{base}/readyz"))).await;
            assert_eq!(status, 200, "{base}: {ready}");
        }
        println!("redis back: 200 and ready without a restart");
    });

    // 4b. Redis paused (SIGSTOP) for 4 s: every send answers 503 in time and, once Redis runs the
    // commands it had queued, none of them leaves a lock behind.
    let paused_numbers: Vec<String> = (0..6).map(|i| format!("+1415555011{i}")).collect();
    redis.signal("-STOP");
    runtime.block_on(async {
        let started = Instant::now();
        let answers = join_all(paused_numbers.iter().enumerate().map(|(i, n)| client.send(&bases[i % 3], n))).await;
        for (status, body) in &answers {
            assert_eq!((*status, body), (503, &json!({"message": "service unavailable"})), "while Redis is paused");
        }
        assert!(started.elapsed() < Duration::from_millis(2500), "answers took {:?}", started.elapsed());
        tokio::time::sleep(Duration::from_secs(4).saturating_sub(started.elapsed())).await;
    });
    redis.signal("-CONT");
    runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(5);
        while paused_numbers.iter().any(|n| !redis.keys(&format!("sms:session:*:{n}")).is_empty()) {
            assert!(
                Instant::now() < deadline,
                "a request that answered 503 left its lock: {:?}",
                redis.keys("sms:session:*")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for (i, number) in paused_numbers.iter().enumerate() {
            let (status, body) = client.send(&bases[i % 3], number).await;
            assert_eq!(status, 200, "{number} after Redis resumed: {body}");
        }
        println!("redis paused 4 s: 6 × 503 within 2.5 s, no lock left behind, 6 × 200 after it resumed");
    });

    // 5. kill -9 an instance that holds a consumer's lock mid-request.
    let mut blocker = PgConnection::establish(db.url()).unwrap();
    blocker.batch_execute("BEGIN; LOCK TABLE chats IN EXCLUSIVE MODE;").unwrap();
    let victim = bases[2].clone();
    let pending = runtime.spawn({
        let http = client.http.clone();
        let (subdomain, token) = (client.subdomain.clone(), client.token.clone());
        async move {
            let body = json!({"chat_type": "SMS", "end_user_number": "+1 415-555-0102", "outbound_number": "+1 628-555-0199", "message": "x"});
            http.post(format!("{victim}/apps/api/v1/sms")).basic_auth(subdomain, Some(token)).json(&body).send().await
        }
    });
    // The send's statement waiting for the table: the only one here that writes end users (the
    // other instances' workers may wait for the table too, and are not the request).
    let send_waiting = "pg_stat_activity a WHERE a.wait_event_type = 'Lock' AND EXISTS (SELECT 1 FROM pg_locks l \
         WHERE l.pid = a.pid AND l.relation = 'end_users'::regclass AND l.mode = 'RowExclusiveLock' AND l.granted)";
    let deadline = Instant::now() + Duration::from_secs(10);
    while redis.keys("sms:session:*:+14155550102").is_empty() || db.count(send_waiting) == 0 {
        assert!(Instant::now() < deadline, "the request never reached its insert");
        runtime.block_on(async { tokio::time::sleep(Duration::from_millis(50)).await });
    }
    instances[2].kill();
    // The database notices the dead client of the statement waiting for the table and cancels
    // it (the pool's connections check for their client while a statement runs), so it cannot
    // commit once the table is free.
    let deadline = Instant::now() + Duration::from_secs(5);
    while db.count(send_waiting) > 0 {
        assert!(Instant::now() < deadline, "the dead instance's statement was never cancelled");
        runtime.block_on(async { tokio::time::sleep(Duration::from_millis(50)).await });
    }
    blocker.batch_execute("ROLLBACK").unwrap();
    let outcome = runtime.block_on(pending).unwrap();
    assert!(outcome.is_err(), "the killed instance cannot have answered");
    runtime.block_on(async { tokio::time::sleep(Duration::from_millis(500)).await });
    assert_eq!(db.count("end_users WHERE number = '+14155550102'"), 0, "no orphan rows");
    assert_eq!(db.count("chats"), 8, "only the chats that were answered");
    assert!(!redis.keys("sms:session:*:+14155550102").is_empty(), "the dead instance's lock is still held");
    let freed_after = runtime.block_on(async {
        let started = Instant::now();
        let (status, body) = client.send(&bases[0], "+1 415-555-0102").await;
        assert_eq!((status, body), (409, json!({"message": BUSY})), "held by a request that never finished");
        loop {
            let (status, body) = client.send(&bases[1], "+1 415-555-0102").await;
            if status == 200 {
                return started.elapsed();
            }
            assert_eq!((status, body), (409, json!({"message": BUSY})));
            assert!(started.elapsed() < Duration::from_secs(PENDING_TTL_SECS + 8), "the orphan lock never expired");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    println!("kill -9 mid-request: no orphan rows; consumer free again after {freed_after:?} (pending TTL {PENDING_TTL_SECS} s)");

    // 6. One rate limit for the tenant across instances (the Redis token bucket).
    runtime.block_on(async {
        client
            .admin_patch(
                &bases[0],
                "/admin/v1/tenants/acme",
                json!({"rate_limit_per_second": 1, "rate_limit_burst": 3}),
            )
            .await;
        let answers = join_all((0..6).map(|i| client.get(&bases[i % 2], "/apps/api/v1/chats"))).await;
        let allowed = answers.iter().filter(|(s, _)| *s == 200).count();
        let limited =
            answers.iter().filter(|(s, b)| *s == 429 && b == &json!({"message": "rate limit exceeded"})).count();
        assert_eq!((allowed, limited), (3, 3), "a burst of 3 shared by the instances: {answers:?}");
        client.admin_patch(&bases[0], "/admin/v1/tenants/acme", json!({"rate_limit_per_second": 0})).await;
        println!("rate limit: burst 3 shared across instances, 3 × 200 then 3 × 429");
    });

    // 7. Idle chats: the surviving instances' sweepers end one, once, and free its lock.
    db.execute(&format!(
        "UPDATE chats SET last_activity_at = '2020-01-01 00:00:00', expires_at = '2020-01-01 00:01:00' WHERE id = {}",
        second["id"]
    ));
    let bases_alive = &bases[..2];
    runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, chat) = client.get(&bases_alive[0], &format!("/apps/api/v1/chats/{}", second["id"])).await;
            if chat["status"] == "finished" {
                assert_eq!(chat["disconnected_by"], "disconnected_by_system");
                assert_eq!(chat["ends_at"], "2020-01-01T00:01:00.000Z");
                break;
            }
            assert!(Instant::now() < deadline, "the sweepers never ended the idle chat");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The sweeper releases the lock right after the chat is ended in the database.
        let deadline = Instant::now() + Duration::from_secs(3);
        while !redis.keys("sms:session:*:+14155550101").is_empty() {
            assert!(Instant::now() < deadline, "its lock was never released");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (status, _) = client.send(&bases_alive[1], "+1 415-555-0101").await;
        assert_eq!(status, 200, "the consumer can be texted again");
        println!("sweepers: idle chat ended once by the system, lock released");
    });
    assert_eq!(db.count(&format!("participants WHERE chat_id = {} AND status = 'disconnected'", second["id"])), 1);
}

/// The crash window of an idempotent send is closed: an instance that dies after committing a
/// chat and before answering leaves a key whose answer was committed with the chat, so the
/// client's retry, on another instance, is the replay (never a 409, never the active-session
/// fault naming its own chat). The chat's event delivery, written leased to the dead instance's
/// event worker (the hand-off), was committed with it and waits for the lease to lapse, when
/// any instance claims it. Needs the test-only `fault-hooks` feature (scripts/test.sh).
#[cfg(feature = "fault-hooks")]
#[test]
fn a_crash_after_the_commit_replays_the_answer() {
    let _serial = serial();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let db = TestDb::create(Backend::Postgres);
    let logs = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(free_port(), tempfile::tempdir().unwrap());
    let loopback = ("SMS_EVENTS_ALLOWED_NETWORKS", "127.0.0.1/32");
    let healthy = Instance::start_with(db.url(), &redis.url(), &logs.path().join("healthy.log"), &[loopback]);
    let mut doomed = Instance::start_with(
        db.url(),
        &redis.url(),
        &logs.path().join("doomed.log"),
        &[("SMS_FAULT_EXIT_AFTER_COMMIT", "1"), loopback],
    );
    let client = runtime.block_on(Client::acme(std::slice::from_ref(&healthy.base), Duration::from_secs(30)));
    runtime.block_on(async {
        // Nothing listens there: a delivery that were posted would be retried, not delivered.
        let endpoint = json!({"url": "http://127.0.0.1:9/events", "events": ["chat.created"]});
        client.admin(&healthy.base, "/admin/v1/tenants/acme/webhooks", endpoint).await;
        let body = json!({"chat_type": "SMS", "end_user_number": "+1 415-555-0177", "outbound_number": "+1 628-555-0199", "message": "x"});
        let send = |base: &str| {
            client
                .http
                .post(format!("{base}/apps/api/v1/sms"))
                .basic_auth(&client.subdomain, Some(&client.token))
                .header("Idempotency-Key", "crash-window-1")
                .json(&body)
                .send()
        };
        assert!(send(&doomed.base).await.is_err(), "the instance died before it answered");
        let _ = doomed.child.wait();
        assert_eq!(db.count("chats"), 1, "the chat was committed");
        let leased = db.count(
            "webhook_deliveries WHERE status = 'pending' AND attempts = 1 \
             AND next_attempt_at > (now() AT TIME ZONE 'UTC') + interval '20 seconds'",
        );
        assert_eq!((leased, db.count("webhook_deliveries")), (1, 1), "the chat's event delivery, leased to the dead instance");
        let resp = send(&healthy.base).await.unwrap();
        let replayed = resp.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let status = resp.status().as_u16();
        let chat: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!((status, replayed.as_deref()), (200, Some("true")), "{chat}");
        let stored = db.count(&format!("chats WHERE id = {} AND status = 'selecting'", chat["id"]));
        assert_eq!((stored, db.count("chats")), (1, 1), "the replay names the chat that was committed");
        println!("crash after the commit: the retry on another instance replayed chat {}", chat["id"]);
    });
}
