//! Load for the failover and shutdown tests: clients that send to fresh consumers (and, for
//! some, to a few shared ones, so that the one-session rule is at stake) until told to stop,
//! recording every request's instance, timing and answer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::Value;

use crate::processes::Client;

/// One request and what became of it (`None`: no answer, the connection failed or timed out).
#[derive(Debug, Clone)]
pub struct Sent {
    pub base: String,
    pub number: String,
    pub start: Instant,
    pub end: Instant,
    pub answer: Option<(u16, Value)>,
}

impl Sent {
    pub fn status(&self) -> Option<u16> {
        self.answer.as_ref().map(|(status, _)| *status)
    }

    /// The chat a 200 acknowledged.
    pub fn chat_id(&self) -> Option<i64> {
        match &self.answer {
            Some((200, body)) => body["id"].as_i64(),
            _ => None,
        }
    }
}

/// A consumer number of its own for request `n` (valid: NANP exchanges 200–999).
pub fn consumer(n: u64) -> String {
    format!("+1 415-{:03}-{:04}", 200 + (n / 10_000) % 800, n % 10_000)
}

/// The few consumers every client also texts now and then: requests that race for them.
pub fn shared_consumer(n: u64) -> String {
    format!("+1 650-555-{:04}", 100 + n % 8)
}

/// Runs `clients` clients against `bases` (round-robin) until `stop` turns true. One request
/// in `shared_every` goes to a shared consumer (0: none).
pub async fn run(client: &Client, bases: &[String], clients: usize, shared_every: u64, stop: &AtomicBool) -> Vec<Sent> {
    let counter = Arc::new(AtomicU64::new(1));
    let work = (0..clients).map(|c| {
        let counter = counter.clone();
        async move {
            let mut sent = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let number = if shared_every > 0 && n % shared_every == 0 { shared_consumer(n) } else { consumer(n) };
                let base = bases[(n as usize + c) % bases.len()].clone();
                let start = Instant::now();
                let answer = client.try_send(&base, &number).await.ok();
                let failed = answer.is_none();
                sent.push(Sent { base, number, start, end: Instant::now(), answer });
                if failed {
                    // An instance that is gone refuses at once: do not spin.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            sent
        }
    });
    join_all(work).await.into_iter().flatten().collect()
}

/// `SELECT COUNT(*) FROM` a table (that may carry a `WHERE`), on the test's database.
pub type Count<'a> = &'a dyn Fn(&str) -> i64;

/// Consumers with more than one active chat (none, if the one-session rule held).
pub fn doubly_active(count: Count<'_>) -> i64 {
    count(
        "(SELECT end_user_id FROM chats WHERE status IN ('selecting', 'queued', 'assigned') \
          GROUP BY tenant_id, end_user_id HAVING COUNT(*) > 1) AS twice",
    )
}

/// Every chat a 200 acknowledged is in the database with its first message: answers how many
/// were checked.
pub fn check_acknowledged(count: Count<'_>, sent: &[Sent]) -> usize {
    let ids: Vec<i64> = sent.iter().filter_map(Sent::chat_id).collect();
    assert_eq!(sent.iter().filter(|s| s.status() == Some(200)).count(), ids.len(), "every 200 names its chat");
    if ids.is_empty() {
        return 0;
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let chats = count(&format!("chats WHERE id IN ({list})"));
    let with_message = count(&format!("(SELECT DISTINCT chat_id FROM messages WHERE chat_id IN ({list})) AS m"));
    assert_eq!(
        (chats, with_message),
        (ids.len() as i64, ids.len() as i64),
        "every acknowledged chat is there with its message"
    );
    ids.len()
}
