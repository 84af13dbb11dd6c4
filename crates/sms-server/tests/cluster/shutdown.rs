//! Graceful shutdown under load (section 15): SIGTERM to an instance that is serving sends and
//! has messages and event deliveries out at a provider and an endpoint that never answer.
//!
//! The instance must turn unready, finish the requests it has, hand back what its workers
//! claimed (no message left `sending`, no event delivery held by its lease) and exit 0 within
//! `SMS_SHUTDOWN_GRACE_SECS`; every chat it or its sibling acknowledged is there afterwards, and
//! the sibling sends the handed-back messages at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use sms_test_support::{Backend, TestDb};

use crate::load::{self, Sent};
use crate::processes::{Client, Instance, RedisServer};

const GRACE_SECS: u64 = 4;

/// A provider and an event endpoint that read each request and never answer it.
async fn silent_peer() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

#[test]
fn sigterm_under_load_loses_nothing_and_leaves_nothing_claimed() {
    let _serial = crate::serial();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let db = TestDb::create(Backend::Postgres);
    let logs = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(crate::processes::free_port(), tempfile::tempdir().unwrap());
    let (peer, _peer_task) = runtime.block_on(silent_peer());
    let grace = GRACE_SECS.to_string();
    let common = [
        ("SMS_PROVIDER", "webhook"),
        ("SMS_WEBHOOK_URL", peer.as_str()),
        ("SMS_WEBHOOK_SECRET", "shutdown-test-provider-secret-0123456789"),
        ("SMS_DELIVERY_POLL_MS", "50"),
        ("SMS_DELIVERY_TIMEOUT_SECS", "30"),
        ("SMS_EVENTS_POLL_MS", "50"),
        ("SMS_EVENTS_TIMEOUT_SECS", "30"),
        ("SMS_EVENTS_ALLOWED_NETWORKS", "127.0.0.1/32"),
        ("SMS_SHUTDOWN_GRACE_SECS", grace.as_str()),
    ];
    // The instance that shuts down runs the workers; its sibling only serves, until it takes
    // over the workers at the end.
    let mut leaving = Instance::start_with(db.url(), &redis.url(), &logs.path().join("leaving.log"), &common);
    let mut quiet = common.to_vec();
    quiet.extend([("SMS_DELIVERY_WORKER", "off"), ("SMS_EVENTS_WORKER", "off")]);
    let staying = Instance::start_with(db.url(), &redis.url(), &logs.path().join("staying.log"), &quiet);
    let bases = vec![leaving.base.clone(), staying.base.clone()];
    // The tenant is set up on the instance that stays.
    let client = runtime.block_on(Client::acme(std::slice::from_ref(&bases[1]), Duration::from_secs(10)));

    let (sent, signalled, exited, exit_status, readiness) = runtime.block_on(async {
        let hook = json!({"url": format!("{peer}/hooks"), "events": ["chat.created"]});
        client.admin(&bases[1], "/admin/v1/tenants/acme/webhooks", hook).await;

        let stop = AtomicBool::new(false);
        let traffic = load::run(&client, &bases, 8, 0, &stop);
        let shutdown = async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let signalled = Instant::now();
            leaving.terminate();
            // Asked at once and again, on a connection the client keeps, until it is unready (503)
            // or no longer listening: how long that took.
            let readiness = loop {
                let answer = match client.http.get(format!("{}/readyz", bases[0])).send().await {
                    Ok(r) if r.status() == 200 => None,
                    Ok(r) => Some(format!("{} {}", r.status().as_u16(), r.text().await.unwrap_or_default())),
                    Err(_) => Some("no longer listening".to_owned()),
                };
                if let Some(answer) = answer {
                    break format!("{answer} after {} ms", signalled.elapsed().as_millis());
                }
                if signalled.elapsed() > Duration::from_secs(1) {
                    break "still ready 1 s after SIGTERM".to_owned();
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            };
            let mut exit_status = None;
            while exit_status.is_none() && signalled.elapsed() < Duration::from_secs(GRACE_SECS + 5) {
                exit_status = leaving.child.try_wait().unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let exited = signalled.elapsed();
            tokio::time::sleep(Duration::from_millis(500)).await;
            stop.store(true, Ordering::Relaxed);
            (signalled, exited, exit_status, readiness)
        };
        let (sent, (signalled, exited, exit_status, readiness)) = tokio::join!(traffic, shutdown);
        (sent, signalled, exited, exit_status, readiness)
    });

    assert_eq!(exit_status.and_then(|s| s.code()), Some(0), "exit status after SIGTERM; see {}", logs.path().display());
    assert!(
        exited <= Duration::from_millis(GRACE_SECS * 1000 + 300),
        "exited {exited:?} after SIGTERM, grace {GRACE_SECS} s"
    );
    assert!(
        readiness.starts_with("no longer listening")
            || readiness.starts_with("503 ") && readiness.contains("shutting down"),
        "/readyz right after SIGTERM: {readiness}"
    );
    let unready_ms: u128 =
        readiness.rsplit(" after ").next().and_then(|t| t.trim_end_matches(" ms").parse().ok()).unwrap_or(u128::MAX);
    assert!(unready_ms <= 100, "unready {unready_ms} ms after SIGTERM: {readiness}");
    let on_leaving: Vec<&Sent> = sent.iter().filter(|s| s.base == bases[0]).collect();
    let finished_across =
        on_leaving.iter().filter(|s| s.start < signalled && s.end > signalled && s.status() == Some(200)).count();
    let acked_leaving = on_leaving.iter().filter(|s| s.status() == Some(200)).count();
    let answered_otherwise: Vec<_> = sent.iter().filter_map(|s| s.status()).filter(|status| *status != 200).collect();
    assert!(answered_otherwise.is_empty(), "every answer is a 200 (refused connections aside): {answered_otherwise:?}");
    let checked = load::check_acknowledged(&|t| db.count(t), &sent);
    let sending = db.count("messages WHERE delivery_status = 'sending'");
    let held = db.count(
        "webhook_deliveries WHERE status = 'pending' AND next_attempt_at > (now() AT TIME ZONE 'UTC') + interval '5 seconds'",
    );
    let handed_back =
        db.count("messages WHERE delivery_status = 'queued' AND attempts = 0 AND next_attempt_at IS NOT NULL");
    let deliveries_back = db.count("webhook_deliveries WHERE status = 'pending' AND attempts = 0");
    println!(
        "shutdown: SIGTERM after 1.5 s of load; /readyz at once: {readiness}; exit 0 after {:.2} s (grace {GRACE_SECS} s); \
         {acked_leaving} sends acknowledged by the leaving instance, {finished_across} of them in flight at the signal; \
         {checked} acknowledged chats in all, every one found with its message; {sending} messages left sending, \
         {handed_back} handed back queued; {held} event deliveries held by a lease, {deliveries_back} pending unattempted",
        exited.as_secs_f64()
    );
    assert_eq!((sending, held), (0, 0), "nothing left claimed by the instance that shut down");
    assert!(handed_back > 0, "the test had messages out at the provider when the signal came");
    drop(staying);
}
