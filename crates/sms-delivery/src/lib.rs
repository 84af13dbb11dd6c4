//! Delivery: the worker that empties the outbox, and the providers it hands messages to.
//!
//! A message is written `queued` in the same transaction as its chat (the outbox row). Every
//! instance runs a [`Worker`]; it claims due messages with a lease (so two instances never send
//! the same message at once, and a crashed sender's messages are claimed again when the lease
//! runs out), hands each to the configured [`Provider`], and records the outcome: `sent`, a
//! retry later with exponential backoff and jitter, or `failed` with the provider's reason.

pub mod events;
mod handoff;
mod outcomes;
mod provider;
pub mod resolve;
mod signing;
pub mod twilio;
mod webhook;
mod worker;

pub use events::{EventSettings, EventWorker, Handoff, Reservation};
pub use outcomes::{settle, settle_batch, Leased, Outcome, Outcomes, Recorded, Recording, Settled};
pub use provider::{LogProvider, Outgoing, Provider, SendError};
pub use twilio::TwilioProvider;
pub use webhook::{webhook_signature, WebhookProvider};
pub use worker::{DeliverySettings, HandedMessages, Worker, NUMBER_REMOVED, OPT_OUT_CONFIRMATION};

/// The media URLs of a message's stored media (`[{"url", "content_type"}]`), in order.
pub(crate) fn media_urls(stored: Option<&str>) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Medium {
        url: String,
    }
    stored
        .and_then(|text| serde_json::from_str::<Vec<Medium>>(text).ok())
        .map(|media| media.into_iter().map(|m| m.url).collect())
        .unwrap_or_default()
}

use std::time::Duration;

/// How long a provider may take to accept a connection, and to answer a send, by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client providers share: bounded connect and total time, so a hung provider costs a
/// retry, never a stuck worker.
pub fn http_client(connect_timeout: Duration, timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder().connect_timeout(connect_timeout).timeout(timeout).build()
}

/// Classifies an HTTP answer of a provider: 2xx is accepted; 429 and 5xx are worth another
/// try; any other status is final.
pub(crate) fn classify(status: reqwest::StatusCode, reason: String) -> Result<(), SendError> {
    if status.is_success() {
        Ok(())
    } else if status.as_u16() == 429 || status.is_server_error() {
        Err(SendError::Transient(reason))
    } else {
        Err(SendError::Permanent(reason))
    }
}

/// A transport fault (connect, timeout, reset) is always worth another try.
pub(crate) fn transport(err: &reqwest::Error) -> SendError {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "transport error"
    };
    SendError::Transient(format!("provider {kind}"))
}

/// After a claim that found only a few due rows, how long a worker lets more gather before the
/// next: a claim costs the database about the same for 10 rows as for 100 (it walks the index of
/// due rows past those it leased), so claiming a few at a time, as fast as they came, spent more
/// of PostgreSQL on the event worker's claims than on the sends (BENCHMARKS.md, 2026-12-05).
pub(crate) const GATHER: Duration = Duration::from_millis(50);

/// Resolves `drain` after `shutdown` turns true (never, if it never does): when a worker stops
/// waiting for the work it has under way and hands it back (SPEC section 15).
pub(crate) async fn drained(mut shutdown: tokio::sync::watch::Receiver<bool>, drain: Duration) {
    if shutdown.wait_for(|stopping| *stopping).await.is_err() {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(drain).await;
}

/// Waits for the next item, then takes whatever else has queued meanwhile, `at_most` in all: the
/// workers write down what arrived while their previous write ran in one transaction. `None`
/// once the channel is closed and empty.
async fn next_batch<T>(queue: &mut tokio::sync::mpsc::UnboundedReceiver<T>, at_most: usize) -> Option<Vec<T>> {
    let first = queue.recv().await?;
    let mut batch = vec![first];
    while batch.len() < at_most {
        match queue.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// How long a recorder waits for more outcomes after the first, at most, before it writes them
/// down: at a steady rate below saturation the answers came one at a time, and each was a
/// transaction of its own (three round trips and a commit, and as many threads woken) where a
/// few milliseconds' wait makes it one for several (BENCHMARKS.md, 2026-12-07, thirteenth
/// session). Under load the batch fills first.
pub(crate) const RECORD_GATHER: Duration = Duration::from_millis(10);

/// [`next_batch`], then whatever else arrives within `gather` of the first, `at_most` in all.
async fn next_batch_gathered<T>(
    queue: &mut tokio::sync::mpsc::UnboundedReceiver<T>,
    at_most: usize,
    gather: Duration,
) -> Option<Vec<T>> {
    let mut batch = next_batch(queue, at_most).await?;
    let until = tokio::time::Instant::now() + gather;
    while batch.len() < at_most {
        match tokio::time::timeout_at(until, queue.recv()).await {
            Ok(Some(next)) => batch.push(next),
            Ok(None) | Err(_) => break,
        }
    }
    Some(batch)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_batch_takes_what_has_queued_up_to_its_size() {
        let (send, mut queue) = tokio::sync::mpsc::unbounded_channel();
        for i in 0..5 {
            let _ = send.send(i);
        }
        assert_eq!(super::next_batch(&mut queue, 3).await, Some(vec![0, 1, 2]));
        assert_eq!(super::next_batch(&mut queue, 3).await, Some(vec![3, 4]));
        drop(send);
        assert_eq!(super::next_batch(&mut queue, 3).await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_gathered_batch_waits_for_more_until_its_time_or_size() {
        use std::time::Duration;
        let (send, mut queue) = tokio::sync::mpsc::unbounded_channel();
        let _ = send.send(0);
        let late = send.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let _ = late.send(1);
            tokio::time::sleep(Duration::from_millis(10)).await;
            let _ = late.send(2);
        });
        let gather = Duration::from_millis(10);
        assert_eq!(super::next_batch_gathered(&mut queue, 8, gather).await, Some(vec![0, 1]));
        assert_eq!(super::next_batch_gathered(&mut queue, 8, gather).await, Some(vec![2]));
        for i in 3..7 {
            let _ = send.send(i);
        }
        // Full: no wait for the rest.
        let started = tokio::time::Instant::now();
        assert_eq!(super::next_batch_gathered(&mut queue, 3, gather).await, Some(vec![3, 4, 5]));
        assert_eq!(started.elapsed(), Duration::ZERO);
        drop(send);
        assert_eq!(super::next_batch_gathered(&mut queue, 3, gather).await, Some(vec![6]));
        assert_eq!(super::next_batch_gathered(&mut queue, 3, gather).await, None);
    }
}
