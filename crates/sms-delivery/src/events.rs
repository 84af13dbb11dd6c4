//! The event worker: posts the tenant's events to their webhook endpoints, signed per the
//! Standard Webhooks specification, at least once.
//!
//! Every instance runs one. It claims due deliveries with a lease (so one instance posts each,
//! and a crashed poster's deliveries are posted again when the lease ends), posts them with a
//! bounded timeout and no redirects followed, and records each attempt: 2xx delivered; 410 the
//! endpoint disabled and the delivery waiting for it; anything else retried with exponential
//! backoff and jitter, and `failed` after the last attempt. Payloads are never logged.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use futures_util::future::join_all;
use hmac::{Hmac, Mac};
use sms_domain::delivery::retry_delay;
use sms_domain::time::now_millis;
use sms_store::deliveries::{self, Attempt, Claimed};
use sms_store::{Store, StoreError};
use tokio::sync::watch;

/// The prefix of a signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new signing secret: `whsec_` and the Base64 of 32 random bytes.
pub fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", BASE64.encode(rand::random::<[u8; 32]>()))
}

/// One Standard Webhooks signature, `v1,` and the Base64 of HMAC-SHA256 over
/// `{id}.{timestamp}.{body}`, keyed with the decoded part of `secret` after `whsec_`. `None` for
/// a secret that is not of that form.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = BASE64.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Some(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header: the signature under the current secret and, while a rotation
/// lasts, the one under the previous secret, separated by a space.
pub fn signature_header(secret: &str, previous: Option<&str>, id: &str, timestamp: i64, body: &[u8]) -> String {
    [Some(secret), previous]
        .into_iter()
        .flatten()
        .filter_map(|s| sign(s, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How events are posted and retried.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// How long one post may take (`SMS_EVENTS_TIMEOUT_SECS`, 10 s).
    pub timeout: Duration,
    /// Delay before the first retry (`SMS_EVENTS_RETRY_BASE_MS`, 5 s); it doubles from there.
    pub retry_base: Duration,
    /// Longest delay between attempts (`SMS_EVENTS_RETRY_MAX_SECS`, 1 hour).
    pub retry_max: Duration,
    /// Attempts in all before a delivery fails (`SMS_EVENTS_MAX_ATTEMPTS`, 12).
    pub max_attempts: u32,
    /// Deliveries claimed at once.
    pub batch: i64,
    /// How often an idle worker looks for due deliveries.
    pub poll: Duration,
    /// Batches under way at once: while one is being claimed or recorded, another is posted.
    pub loops: usize,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            max_attempts: 12,
            batch: 128,
            poll: Duration::from_millis(500),
            loops: 2,
        }
    }
}

impl EventSettings {
    /// How long a claimed delivery is its claimer's: longer than any post can take.
    pub fn lease(&self) -> Duration {
        self.timeout + Duration::from_secs(30)
    }
}

/// How often the backlog gauge is read.
const BACKLOG_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct EventWorker {
    store: Store,
    client: reqwest::Client,
    settings: EventSettings,
}

impl EventWorker {
    /// A worker whose client has the settings' timeout and follows no redirect (a 3xx is an
    /// answer like any other that is not 2xx: retried).
    pub fn new(store: Store, settings: EventSettings) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.timeout.min(crate::DEFAULT_CONNECT_TIMEOUT))
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sms-server/", env!("CARGO_PKG_VERSION"), " (events)"))
            .build()?;
        Ok(Self { store, client, settings })
    }

    /// Posts until `shutdown` turns true; the batches under way are finished first. Runs
    /// `settings.loops` claim loops at once: one alone spent its time waiting on the database
    /// (claiming, then recording) with nothing being posted, and fell behind under load
    /// (BENCHMARKS.md). Two loops claim apart as two instances do.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        tracing::info!(loops = self.settings.loops.max(1), "event worker started");
        let loops = (0..self.settings.loops.max(1)).map(|i| self.claim_loop(shutdown.clone(), i == 0));
        join_all(loops).await;
        tracing::info!("event worker stopped");
    }

    /// One claim loop; the first also reads the backlog gauge.
    async fn claim_loop(&self, mut shutdown: watch::Receiver<bool>, reads_backlog: bool) {
        let mut backlog_read = Instant::now() - BACKLOG_EVERY;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if reads_backlog && backlog_read.elapsed() >= BACKLOG_EVERY {
                backlog_read = Instant::now();
                let store = self.store.clone();
                match tokio::task::spawn_blocking(move || store.with_conn(deliveries::backlog)).await {
                    Ok(Ok(pending)) => metrics::gauge!("sms_event_backlog").set(pending as f64),
                    Ok(Err(e)) => tracing::warn!(error = %e, "events: could not read the backlog"),
                    Err(e) => tracing::warn!(error = %e, "events: could not read the backlog"),
                }
            }
            let handled = match self.tick().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "events: could not claim deliveries; retrying");
                    0
                }
            };
            if handled == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(self.settings.poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }

    /// Claims one batch of due deliveries, posts them concurrently and records each attempt.
    /// Answers how many were handled.
    pub async fn tick(&self) -> Result<usize, StoreError> {
        let store = self.store.clone();
        let (batch, lease) = (self.settings.batch, self.settings.lease());
        let jobs = tokio::task::spawn_blocking(move || {
            let now = now_millis();
            let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
            store.with_conn(|conn| deliveries::claim(conn, now, until, batch))
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))??;
        let count = jobs.len();
        let attempts = join_all(jobs.into_iter().map(|job| self.deliver(job))).await;
        let store = self.store.clone();
        let recorded = tokio::task::spawn_blocking(move || {
            store.with_conn(|conn| deliveries::settle_all(conn, &attempts, now_millis()))
        })
        .await;
        match recorded {
            Ok(Ok(())) => {}
            // The leases run out and the deliveries are posted again: at least once, never lost.
            Ok(Err(e)) => tracing::warn!(error = %e, count, "events: could not record a batch of attempts"),
            Err(e) => tracing::warn!(error = %e, count, "events: could not record a batch of attempts"),
        }
        Ok(count)
    }

    /// One attempt at a delivery: what became of it, recorded with the batch's.
    async fn deliver(&self, job: Claimed) -> (Claimed, Attempt) {
        let answer = self.post(&job).await;
        let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
        let settings = &self.settings;
        let attempt = match answer {
            Ok(code) if (200..300).contains(&code) => Attempt::Delivered { status_code: i32::from(code) },
            Ok(410) => Attempt::Gone,
            other => {
                let (status_code, error) = match other {
                    Ok(code) => (Some(i32::from(code)), format!("endpoint answered {code}")),
                    Err(reason) => (None, reason),
                };
                if attempts >= settings.max_attempts {
                    Attempt::Failed { status_code, error: format!("{error} (gave up after {attempts} attempts)") }
                } else {
                    let delay = retry_delay(attempts, settings.retry_base, settings.retry_max, rand::random::<f64>());
                    let next = now_millis() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(5));
                    Attempt::Retry { status_code, error, next }
                }
            }
        };
        let outcome = match &attempt {
            Attempt::Delivered { .. } => "delivered",
            Attempt::Retry { .. } => "retry",
            Attempt::Failed { .. } => "failed",
            Attempt::Gone => "gone",
        };
        tracing::info!(
            delivery_id = job.id.get(),
            endpoint_id = job.endpoint_id.get(),
            attempt = attempts,
            outcome,
            "event delivery attempt"
        );
        metrics::counter!("sms_event_deliveries_total", "outcome" => outcome).increment(1);
        (job, attempt)
    }

    /// Posts the event once; the status the endpoint answered, or why there was none.
    async fn post(&self, job: &Claimed) -> Result<u16, String> {
        let timestamp = chrono::Utc::now().timestamp();
        let body = job.payload.as_bytes();
        let signature = signature_header(&job.secret, job.previous_secret.as_deref(), &job.event_id, timestamp, body);
        let response = self
            .client
            .post(&job.url)
            .header("content-type", "application/json")
            .header("webhook-id", &job.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(job.payload.clone())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timed out".to_owned()
                } else if e.is_connect() {
                    "could not connect".to_owned()
                } else {
                    "transport error".to_owned()
                }
            })?;
        Ok(response.status().as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification's reference libraries: this secret,
        // id, timestamp and body sign to this value.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let sig = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig.as_deref(), Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
        assert_eq!(sign("not-a-secret", "id", 1, body), None);
        let both = signature_header(secret, Some(secret), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(
            both,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_32_random_bytes() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        let decoded = BASE64.decode(a.trim_start_matches(SECRET_PREFIX)).unwrap_or_default();
        assert_eq!(decoded.len(), 32);
    }
}
