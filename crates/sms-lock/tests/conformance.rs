//! One suite, both locks: the in-process lock and the Redis lock against a real Redis
//! (`SMS_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`), each run under a key prefix of
//! its own so runs do not meet.

// Tests may unwrap: clippy.toml allows it in `#[test]` functions only, not in the helpers here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use sms_lock::{InProcessLock, LockKey, LockToken, RedisLock, RedisTarget, SessionLock};
use sms_test_support::{hex_id, redis_url};

fn redis_lock() -> Arc<dyn SessionLock> {
    let prefix = format!("test:{}:", hex_id());
    Arc::new(RedisLock::new(&RedisTarget::url(&redis_url()), &prefix).unwrap())
}

fn in_process() -> Arc<dyn SessionLock> {
    Arc::new(InProcessLock::new())
}

const LONG: Duration = Duration::from_secs(60);

async fn acquire(lock: &dyn SessionLock, key: &LockKey, ttl: Duration) -> Option<LockToken> {
    lock.acquire(key, ttl).await.expect("acquire")
}

async fn one_owner_at_a_time(lock: Arc<dyn SessionLock>) {
    let key = LockKey::new(1, "+14155550100");
    let token = acquire(&*lock, &key, LONG).await.expect("a free lock is taken");
    assert!(acquire(&*lock, &key, LONG).await.is_none(), "a held lock is refused");
    assert!(acquire(&*lock, &LockKey::new(1, "+14155550101"), LONG).await.is_some(), "other consumers are free");
    assert!(acquire(&*lock, &LockKey::new(2, "+14155550100"), LONG).await.is_some(), "other tenants are free");
    assert!(!lock.release(&key, &LockToken::random()).await.unwrap_or(true), "a stranger cannot release");
    assert!(!lock.refresh(&key, &LockToken::random(), LONG).await.unwrap_or(true), "a stranger cannot refresh");
    assert!(acquire(&*lock, &key, LONG).await.is_none(), "still held");
    assert!(lock.release(&key, &token).await.unwrap_or(false), "the owner releases");
    assert!(!lock.release(&key, &token).await.unwrap_or(true), "releasing twice is a no-op");
    assert!(acquire(&*lock, &key, LONG).await.is_some(), "free again");
}

async fn expires_unless_refreshed(lock: Arc<dyn SessionLock>) {
    let key = LockKey::new(1, "+14155550102");
    let token = acquire(&*lock, &key, Duration::from_millis(300)).await.expect("taken");
    assert!(lock.refresh(&key, &token, LONG).await.unwrap_or(false), "the owner refreshes");
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(acquire(&*lock, &key, LONG).await.is_none(), "a refreshed lock outlives its first TTL");

    let other = LockKey::new(1, "+14155550103");
    let stale = acquire(&*lock, &other, Duration::from_millis(200)).await.expect("taken");
    tokio::time::sleep(Duration::from_millis(350)).await;
    let fresh = acquire(&*lock, &other, LONG).await.expect("an expired lock is free");
    assert!(!lock.release(&other, &stale).await.unwrap_or(true), "the old owner cannot free the new owner's lock");
    assert!(!lock.refresh(&other, &stale, LONG).await.unwrap_or(true), "nor extend it");
    assert!(lock.release(&other, &fresh).await.unwrap_or(false));
}

async fn concurrent_acquisitions_have_one_winner(lock: Arc<dyn SessionLock>) {
    let key = LockKey::new(7, "+14155550104");
    let attempts = (0..50).map(|_| {
        let lock = Arc::clone(&lock);
        let key = key.clone();
        tokio::spawn(async move { lock.acquire(&key, LONG).await.map(|t| t.is_some()) })
    });
    let mut winners = 0;
    for attempt in attempts {
        if attempt.await.unwrap().unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

async fn answers_ping(lock: Arc<dyn SessionLock>) {
    lock.ping().await.expect("ping");
}

macro_rules! on_both_locks {
    ($($name:ident),* $(,)?) => {
        mod in_process {
            $( #[tokio::test] async fn $name() { super::$name(super::in_process()).await } )*
        }
        mod redis {
            $( #[tokio::test] async fn $name() { super::$name(super::redis_lock()).await } )*
        }
    };
}

on_both_locks!(one_owner_at_a_time, expires_unless_refreshed, concurrent_acquisitions_have_one_winner, answers_ping);

#[tokio::test]
async fn redis_unreachable_is_unavailable_within_the_budget() {
    // Nothing listens on port 1.
    let lock = RedisLock::new(&RedisTarget::url("redis://127.0.0.1:1"), "test:").unwrap();
    let started = std::time::Instant::now();
    let result = lock.acquire(&LockKey::new(1, "+14155550105"), LONG).await;
    assert!(matches!(result, Err(sms_lock::LockError::Unavailable(_))), "{result:?}");
    assert!(lock.ping().await.is_err());
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[test]
fn malformed_url_is_a_configuration_error() {
    assert!(matches!(RedisLock::new(&RedisTarget::url("not a url"), "x:"), Err(sms_lock::LockError::Config(_))));
}

/// Tenant change notices cross instances: a listener reports when it is subscribed, then hears
/// what another feed on the same Redis and prefix publishes, and nothing of another prefix.
#[tokio::test]
async fn change_notices_reach_every_listener() {
    use sms_lock::{Notice, RedisChangeFeed};
    let prefix = format!("test:{}:", hex_id());
    let feed = |prefix: &str| Arc::new(RedisChangeFeed::new(&RedisTarget::url(&redis_url()), prefix).unwrap());
    let (listener, publisher, stranger) = (feed(&prefix), feed(&prefix), feed("test:another:"));
    let (sender, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let listening = tokio::spawn({
        let listener = listener.clone();
        async move {
            listener
                .listen(move |notice| {
                    let _ = sender.send(notice);
                })
                .await
        }
    });
    assert_eq!(next(&mut heard).await, Some(Notice::Listening));
    stranger.publish().await.unwrap();
    publisher.publish().await.unwrap();
    assert_eq!(next(&mut heard).await, Some(Notice::Changed), "the notice of the same prefix, and only it");
    publisher.publish().await.unwrap();
    assert_eq!(next(&mut heard).await, Some(Notice::Changed));
    assert!(tokio::time::timeout(Duration::from_millis(200), heard.recv()).await.is_err(), "nothing more");
    listening.abort();
}

async fn next(heard: &mut tokio::sync::mpsc::UnboundedReceiver<sms_lock::Notice>) -> Option<sms_lock::Notice> {
    tokio::time::timeout(Duration::from_secs(5), heard.recv()).await.ok().flatten()
}

/// The HTTP workers share one lock, each on a runtime of its own: a worker's commands never
/// wait for another worker's thread, even while that thread is busy with something else (a
/// connection's I/O runs on the runtime that first used it).
#[test]
fn a_busy_thread_never_holds_up_another_threads_commands() {
    let runtime = || tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // Made on a runtime, as the server makes it on its main thread's.
    let lock = runtime().block_on(async { redis_lock() });
    let (busy, finish) = std::sync::mpsc::channel::<()>();
    let (connected, ready) = std::sync::mpsc::channel::<()>();
    let first = std::thread::spawn({
        let lock = lock.clone();
        move || {
            let own = runtime();
            own.block_on(async {
                assert!(acquire(&*lock, &LockKey::new(1, "+14155550106"), LONG).await.is_some());
            });
            connected.send(()).unwrap();
            // Busy: its runtime lives on, but nothing on it runs until told to finish.
            finish.recv().unwrap();
        }
    });
    ready.recv().unwrap();
    let started = std::time::Instant::now();
    let taken = runtime().block_on(async { lock.acquire(&LockKey::new(1, "+14155550107"), LONG).await });
    busy.send(()).unwrap();
    first.join().unwrap();
    assert!(matches!(taken, Ok(Some(_))), "{taken:?}");
    assert!(started.elapsed() < Duration::from_millis(500), "took {:?}", started.elapsed());
}
