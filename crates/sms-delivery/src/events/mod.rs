//! The event worker: posts the tenant's events to their webhook endpoints, signed per the
//! Standard Webhooks specification, at least once.
//!
//! Every instance runs one. It claims due deliveries with a lease (so one instance posts each,
//! and a crashed poster's deliveries are posted again when the lease ends), posts them with a
//! bounded timeout and no redirects followed, and records each attempt as soon as it is known:
//! 2xx delivered; 410 the endpoint disabled and the delivery waiting for it; anything else
//! retried with exponential backoff and jitter, and `failed` after the last attempt. One
//! endpoint never holds back another's: at most `endpoint_concurrency` requests to an endpoint
//! are in flight, and claiming does not wait for posting. Only permitted destinations are
//! connected to, checked at connection time on every address a name resolves to (`resolve.rs`).
//! Payloads are never logged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sms_domain::delivery::retry_delay;
use sms_domain::network::Destinations;
use sms_domain::time::now_millis;
use sms_domain::{DeliveryId, EndpointFormat, EndpointId};
use sms_store::deliveries::{self, Attempt, ClaimLimits, Claimed};
use sms_store::{Store, StoreError};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

pub use crate::handoff::{Handoff, Reservation};
use crate::resolve::{self, DESTINATION_NOT_ALLOWED};

mod handed;
mod turns;
mod urls;
use crate::handoff::next_handed;
pub use crate::signing::{
    key_of, new_secret, platform_signature_header, sign, sign_with_key, signature_header, SECRET_PREFIX,
};
use turns::Turns;
use urls::PermittedUrls;

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
    /// Deliveries claimed at once, and in flight at most.
    pub batch: i64,
    /// How often an idle worker looks for due deliveries.
    pub poll: Duration,
    /// Requests to one endpoint in flight at once (`SMS_EVENTS_ENDPOINT_CONCURRENCY`, 4).
    pub endpoint_concurrency: usize,
    /// How long a delivery waits for a disabled endpoint before it fails
    /// (`SMS_EVENTS_DISABLED_RETENTION_HOURS`, 72 h; 0: at once).
    pub disabled_retention: Duration,
    /// Where deliveries may go (`SMS_EVENTS_ALLOWED_NETWORKS` beside public addresses).
    pub destinations: Destinations,
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
            endpoint_concurrency: 4,
            disabled_retention: Duration::from_secs(72 * 3600),
            destinations: Destinations::default(),
        }
    }
}

impl EventSettings {
    /// How long a claimed delivery is its claimer's: longer than any post can take, with the
    /// wait for its endpoint's turn.
    pub fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(30)
    }
}

/// How often the backlog gauge is read and the deliveries of disabled endpoints expired.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(1);
/// Attempts recorded in one transaction at most: few enough that a settle never holds a
/// database core (or SQLite's writer) for long while requests wait (BENCHMARKS.md).
const RECORD_BATCH: usize = 64;

#[derive(Clone)]
pub struct EventWorker {
    store: Store,
    client: reqwest::Client,
    settings: EventSettings,
    handoff: Handoff,
    /// The worker's end of the hand-off, taken when it runs.
    handed: Arc<std::sync::Mutex<Option<mpsc::UnboundedReceiver<Vec<DeliveryId>>>>>,
    /// Endpoints' URLs as parsed lately.
    urls: Arc<PermittedUrls>,
}

/// Deliveries handed over at most per claim's worth of room (the rest are left due, for a claim).
const HANDOFF_ROOM_PER_BATCH: usize = 4;
/// How long deliveries handed over wait for more before they are read, at most.
const HANDOFF_GATHER: Duration = Duration::from_millis(10);

impl EventWorker {
    /// A worker whose client has the settings' timeout, connects only to permitted
    /// destinations (checked on the resolved addresses), uses no proxy and follows no redirect
    /// (a 3xx is an answer like any other that is not 2xx: retried).
    pub fn new(store: Store, settings: EventSettings) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.timeout.min(crate::DEFAULT_CONNECT_TIMEOUT))
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(resolve::Permitted::new(settings.destinations.clone())))
            .user_agent(concat!("sms-server/", env!("CARGO_PKG_VERSION"), " (events)"))
            .build()?;
        let room = usize::try_from(settings.batch.max(1)).unwrap_or(128) * HANDOFF_ROOM_PER_BATCH;
        let lease = chrono::Duration::from_std(settings.lease()).unwrap_or(chrono::Duration::seconds(60));
        let (handoff, handed) = Handoff::new(room, lease);
        let handed = Arc::new(std::sync::Mutex::new(Some(handed)));
        let urls = Arc::new(PermittedUrls::new(settings.destinations.clone()));
        Ok(Self { store, client, settings, handoff, handed, urls })
    }

    /// Where this instance's writes hand their event deliveries to this worker ([`Handoff`]).
    pub fn handoff(&self) -> Handoff {
        self.handoff.clone()
    }

    /// Posts until `shutdown` turns true; the deliveries under way are finished and recorded
    /// first, for at most `drain`: those still waiting for an answer or a turn then are handed
    /// back, due at once for another instance. Claiming never waits for posting: each delivery
    /// is posted on its own, at its endpoint's turn, and recorded as soon as its answer is in.
    /// Deliveries handed over by this instance's writes ([`Handoff`]) are posted as they come;
    /// claims find the rest.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>, drain: Duration) {
        tracing::info!(concurrency = self.settings.endpoint_concurrency, "event worker started");
        let (done, answers) = mpsc::unbounded_channel::<(Claimed, Attempt)>();
        let recorder = tokio::spawn(self.clone().record(answers));
        let mut handed = self.handed.lock().ok().and_then(|mut receiver| receiver.take());
        let (mut arrived, mut first_arrived): (Vec<DeliveryId>, Option<Instant>) = (Vec::new(), None);
        let mut in_flight = JoinSet::new();
        let mut turns = Turns::default();
        let mut housekept = Instant::now() - HOUSEKEEPING_EVERY;
        let capacity = usize::try_from(self.settings.batch.max(1)).unwrap_or(128);
        let (mut next_claim, mut held_back) = (Instant::now(), false);
        loop {
            while in_flight.try_join_next().is_some() {}
            if *shutdown.borrow() {
                break;
            }
            if housekept.elapsed() >= HOUSEKEEPING_EVERY {
                housekept = Instant::now();
                self.housekeeping().await;
            }
            if let Some(receiver) = handed.as_mut() {
                while let Ok(ids) = receiver.try_recv() {
                    arrived.extend(ids);
                }
            }
            if !arrived.is_empty() {
                // Read together, not one read per write that handed some over (BENCHMARKS.md).
                let since = *first_arrived.get_or_insert_with(Instant::now);
                if arrived.len() >= capacity / 4 || since.elapsed() >= HANDOFF_GATHER {
                    first_arrived = None;
                    for job in self.take_handed(std::mem::take(&mut arrived)).await {
                        self.start(&mut in_flight, &mut turns, (job, true), &done, (&shutdown, drain));
                    }
                }
            }
            let free = capacity.saturating_sub(in_flight.len());
            if free > 0 && Instant::now() >= next_claim {
                let busy = turns.busy();
                held_back = !busy.is_empty();
                let jobs = self.claim(free, busy).await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "events: could not claim deliveries; retrying");
                    Vec::new()
                });
                // A claim costs about the same for a few rows as for many: after a thin one,
                // let more come due first.
                next_claim = Instant::now()
                    + match jobs.len() {
                        0 => self.settings.poll,
                        n if n < capacity / 4 => crate::GATHER.min(self.settings.poll),
                        _ => Duration::ZERO,
                    };
                for job in jobs {
                    self.start(&mut in_flight, &mut turns, (job, false), &done, (&shutdown, drain));
                }
            }
            let full = in_flight.len() >= capacity;
            // A claim that left out an endpoint with every turn taken is due again as soon as a
            // post ends and frees one (waiting for the poll capped an endpoint at one claim's
            // worth every 500 ms).
            let on_turn = full || held_back;
            let until = if full { Instant::now() + self.settings.poll } else { next_claim };
            let until = first_arrived.map_or(until, |since| until.min(since + HANDOFF_GATHER));
            if until > Instant::now() {
                tokio::select! {
                    _ = tokio::time::sleep_until(until.into()) => {}
                    _ = shutdown.changed() => {}
                    Some(ids) = next_handed(&mut handed) => arrived.extend(ids),
                    Some(_) = in_flight.join_next(), if on_turn && !in_flight.is_empty() => next_claim = Instant::now(),
                }
            }
        }
        self.stop_taking(handed, arrived, drain).await;
        while in_flight.join_next().await.is_some() {}
        drop(done);
        let _ = recorder.await;
        tracing::info!("event worker stopped");
    }

    /// Posts a claimed or handed delivery on a task of its own, at its endpoint's turn, and
    /// sends the attempt to the recorder. A delivery whose turn came too late to post it within
    /// its lease is left alone: the lease runs out and it is claimed again, never posted by two
    /// at once.
    fn start(
        &self,
        in_flight: &mut JoinSet<()>,
        turns: &mut Turns,
        (job, handed): (Claimed, bool),
        done: &mpsc::UnboundedSender<(Claimed, Attempt)>,
        (stop, drain): (&watch::Receiver<bool>, Duration),
    ) {
        let turn = turns.of(job.endpoint_id, self.settings.endpoint_concurrency.max(1));
        let post_by = Instant::now() + self.settings.lease().saturating_sub(self.settings.timeout);
        let (worker, done, stop) = (self.clone(), done.clone(), stop.clone());
        in_flight.spawn(async move {
            let posted = async {
                let Ok(_turn) = turn.acquire_owned().await else { return None };
                if Instant::now() > post_by {
                    return None;
                }
                Some(worker.deliver(&job).await)
            };
            let attempt = tokio::select! {
                attempt = posted => attempt,
                () = crate::drained(stop, drain) => Some(Attempt::Interrupted),
            };
            if let Some(attempt) = attempt {
                let _ = done.send((job, attempt));
            }
            if handed {
                worker.handoff.finished(1);
            }
        });
    }

    async fn claim(&self, free: usize, busy: Vec<EndpointId>) -> Result<Vec<Claimed>, StoreError> {
        let store = self.store.clone();
        let lease = self.settings.lease();
        let per_endpoint = i64::try_from(self.settings.endpoint_concurrency.max(1)).unwrap_or(4);
        let limit = i64::try_from(free).unwrap_or(1);
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
        tokio::task::spawn_blocking(move || {
            store.claim_then_read(
                move |conn| {
                    let now = now_millis();
                    let limits = ClaimLimits { limit, per_endpoint, busy: &busy };
                    deliveries::claim_ids(conn, now, now + lease, limits)
                },
                |conn, ids| deliveries::claimed(conn, ids, now_millis()),
                |conn, ids| deliveries::hand_back(conn, ids, now_millis()),
            )
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    /// The backlog gauge, and the deliveries that waited too long for a disabled endpoint.
    async fn housekeeping(&self) {
        let store = self.store.clone();
        let retention = chrono::Duration::from_std(self.settings.disabled_retention).unwrap_or(chrono::Duration::MAX);
        let done = tokio::task::spawn_blocking(move || {
            let expired = store.write(move |conn| {
                let cutoff = now_millis().checked_sub_signed(retention).unwrap_or(chrono::NaiveDateTime::MIN);
                deliveries::expire_disabled(conn, cutoff)
            })?;
            Ok::<_, StoreError>((store.with_conn(deliveries::backlog)?, expired))
        })
        .await;
        match done {
            Ok(Ok((pending, expired))) => {
                metrics::gauge!("sms_event_backlog").set(pending as f64);
                if expired > 0 {
                    metrics::counter!("sms_event_deliveries_total", "outcome" => "failed").increment(expired as u64);
                    tracing::info!(count = expired, "event deliveries failed after waiting for a disabled endpoint");
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "events: housekeeping failed; retrying"),
            Err(e) => tracing::warn!(error = %e, "events: housekeeping failed; retrying"),
        }
    }

    /// Records attempts as they come in: whatever has arrived while the previous write ran, and
    /// within [`crate::RECORD_GATHER`] of the first, is written together, in one transaction.
    async fn record(self, mut answers: mpsc::UnboundedReceiver<(Claimed, Attempt)>) {
        while let Some(batch) = crate::next_batch_gathered(&mut answers, RECORD_BATCH, crate::RECORD_GATHER).await {
            let (store, count) = (self.store.clone(), batch.len());
            let recorded = tokio::task::spawn_blocking(move || {
                store.write(move |conn| deliveries::settle_all(conn, &batch, now_millis()))
            })
            .await;
            match recorded {
                Ok(Ok(())) => {}
                // The leases run out and the deliveries are posted again: at least once, never lost.
                Ok(Err(e)) => tracing::warn!(error = %e, count, "events: could not record attempts"),
                Err(e) => tracing::warn!(error = %e, count, "events: could not record attempts"),
            }
        }
    }

    /// One attempt at a delivery: what became of it.
    async fn deliver(&self, job: &Claimed) -> Attempt {
        let answer = self.post(job).await;
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
            Attempt::Interrupted => "interrupted",
        };
        tracing::info!(
            delivery_id = job.id.get(),
            endpoint_id = job.endpoint_id.get(),
            attempt = attempts,
            outcome,
            "event delivery attempt"
        );
        metrics::counter!("sms_event_deliveries_total", "outcome" => outcome).increment(1);
        attempt
    }

    /// Posts the event once; the status the endpoint answered, or why there was none. A
    /// destination that is not permitted is refused before anything is sent, and the reason
    /// says nothing of the address.
    async fn post(&self, job: &Claimed) -> Result<u16, String> {
        let Some(url) = self.urls.get(&job.url) else {
            return Err(DESTINATION_NOT_ALLOWED.to_owned());
        };
        let now = chrono::Utc::now();
        let body = job.payload.as_bytes();
        let previous = job.previous_secret.as_deref();
        let request = self.client.post(url).header("content-type", "application/json");
        let request = match job.format {
            EndpointFormat::Standard => {
                let timestamp = now.timestamp();
                request.header("webhook-id", &job.event_id).header("webhook-timestamp", timestamp.to_string()).header(
                    "webhook-signature",
                    signature_header(&job.secret, previous, &job.event_id, timestamp, body),
                )
            }
            EndpointFormat::Ccai => {
                let timestamp = sms_domain::time::format_timestamp(now.naive_utc());
                request
                    .header("X-Event-Id", &job.event_id)
                    .header("X-Signature", platform_signature_header(&job.secret, previous, &timestamp, body))
                    .header("X-Signature-Timestamp", timestamp)
            }
        };
        let response = request.body(job.payload.clone()).send().await.map_err(|e| {
            if resolve::refused(&e) {
                DESTINATION_NOT_ALLOWED.to_owned()
            } else if e.is_timeout() {
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
