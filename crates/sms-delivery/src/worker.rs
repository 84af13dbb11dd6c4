//! The outbox worker.

mod handed;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use sms_domain::delivery::retry_delay;
use sms_domain::time::now_millis;
use sms_domain::MessageId;
use sms_store::outbox::{self, Job};
use sms_store::{Store, StoreError};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::outcomes::{Outcome, Outcomes, Recording};
use crate::{Outgoing, Provider, SendError};

/// How the worker paces and retries.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Attempts in all before a transiently failing message fails for good (8).
    pub max_attempts: u32,
    /// Delay before the first retry (1 s); it doubles from there.
    pub retry_base: Duration,
    /// Longest delay between attempts (5 minutes).
    pub retry_max: Duration,
    /// How long a claimed message is the claimer's; past it, another worker may claim it. Longer
    /// than a provider call can take.
    pub lease: Duration,
    /// Messages claimed at once.
    pub batch: i64,
    /// How often an idle worker looks for due messages.
    pub poll: Duration,
    /// This service's public base URL, for the providers' status callbacks.
    pub public_url: String,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            lease: Duration::from_secs(60),
            batch: 128,
            poll: Duration::from_millis(500),
            public_url: "http://127.0.0.1:8080".into(),
        }
    }
}

/// Why a message from a number its tenant no longer owns is not sent.
pub const NUMBER_REMOVED: &str = "number removed";

/// The `automatic` mark of an opt-out's confirmation.
pub const OPT_OUT_CONFIRMATION: &str = "opt_out";

/// Outcomes recorded in one transaction at most, on SQLite. Each outcome writes its message, an
/// event and its deliveries, and touches its chat: in the store's one writer, a transaction of a
/// whole batch (128) held every request's write back for tens of milliseconds (BENCHMARKS.md).
const RECORD_AT_MOST: usize = 32;

/// The same on PostgreSQL, where the worker's transaction holds no one else's writes back (save
/// its chats') and its statements each take the whole batch: the statements and the commit per
/// outcome fall with a bigger one. At 32, agents' replies at 3,000 a second outran the worker,
/// which left 26,000 messages to send when the load stopped (BENCHMARKS.md, 2026-12-07).
const RECORD_AT_MOST_POSTGRES: usize = 128;

/// How often the backlog gauge is read.
const BACKLOG_EVERY: Duration = Duration::from_secs(5);

/// The messages this instance's sends hand straight to its delivery worker
/// ([`Worker::with_handed_messages`]).
pub type HandedMessages = crate::handoff::Handed<MessageId>;

#[derive(Clone)]
pub struct Worker {
    store: Store,
    provider: Arc<dyn Provider>,
    outcomes: Arc<dyn Outcomes>,
    settings: DeliverySettings,
    handoff: Option<crate::Handoff>,
    /// The sends' side of the messages' hand-off, and the worker's, taken when it runs.
    messages: Option<crate::Handoff<MessageId>>,
    handed: Arc<std::sync::Mutex<Option<HandedMessages>>>,
}

impl Worker {
    pub fn new(
        store: Store,
        provider: Arc<dyn Provider>,
        outcomes: Arc<dyn Outcomes>,
        settings: DeliverySettings,
    ) -> Self {
        Self {
            store,
            provider,
            outcomes,
            settings,
            handoff: None,
            messages: None,
            handed: Arc::new(std::sync::Mutex::new(None)),
        }
    }

    /// The outcomes' event deliveries go straight to this instance's event worker.
    #[must_use]
    pub fn with_handoff(mut self, handoff: crate::Handoff) -> Self {
        self.handoff = Some(handoff);
        self
    }

    /// Records a batch of outcomes on the blocking pool, in one transaction.
    async fn record(&self, batch: Vec<(MessageId, Outcome)>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let (store, outcomes) = (self.store.clone(), self.outcomes.clone());
        let reservation = self.handoff.as_ref().and_then(|h| h.reserve(now_millis()));
        let lease = reservation.as_ref().map(crate::Reservation::lease_until);
        let recorded = blocking(move || {
            store.write(move |conn| outcomes.record(conn, &batch, Recording { now: now_millis(), lease }))
        })
        .await?;
        // The write has returned: its transaction (on SQLite, its group's) committed.
        (recorded.committed)();
        if let Some(reservation) = reservation {
            reservation.hand(recorded.leased);
        }
        Ok(())
    }

    /// Delivers until `shutdown` turns true. Claiming never waits for sending or recording: up
    /// to a batch of messages is being sent at any time, each on its own, and the outcomes are
    /// recorded as they come in, whatever arrived while the previous write ran in one
    /// transaction. (One loop that claimed, sent and recorded a batch at a time left thousands
    /// of messages queued after a burst: BENCHMARKS.md.) Handed messages are sent beside them.
    /// On shutdown the sends under way finish first, for at most `drain`; what is still being
    /// sent then, or was handed and not started, is handed back (due at once, for any instance).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>, drain: Duration) {
        tracing::info!(provider = self.provider.name(), "delivery worker started");
        let mut handed = self.handed.lock().ok().and_then(|mut handed| handed.take());
        let worker = Arc::new(self);
        let (done, finished) = mpsc::unbounded_channel::<Result<(MessageId, Outcome), MessageId>>();
        let recorder = tokio::spawn(worker.clone().record_as_done(finished));
        let mut in_flight = JoinSet::new();
        let capacity = worker.batch_size();
        let mut backlog_read = Instant::now() - BACKLOG_EVERY;
        let mut next_claim = Instant::now();
        let mut arrived: Vec<MessageId> = Vec::new();
        // Handed messages are read together once the first is [`crate::GATHER`] old, as a thin
        // claim waits (a read each cost more than the claims saved: BENCHMARKS.md).
        let mut gathering: Option<Instant> = None;
        loop {
            while in_flight.try_join_next().is_some() {}
            if *shutdown.borrow() {
                break;
            }
            if backlog_read.elapsed() >= BACKLOG_EVERY {
                backlog_read = Instant::now();
                worker.read_backlog().await;
            }
            if let Some(receiver) = handed.as_mut() {
                while let Ok(ids) = receiver.try_recv() {
                    arrived.extend(ids);
                }
            }
            if !arrived.is_empty() && gathering.get_or_insert_with(Instant::now).elapsed() >= crate::GATHER {
                gathering = None;
                for job in worker.take_handed(std::mem::take(&mut arrived)).await {
                    worker.start(&mut in_flight, job, true, &done, &shutdown, drain);
                }
            }
            // A claim costs about the same for a few rows as for many: wait for a quarter of
            // the batch to be free rather than claim for every send that finishes.
            let free = capacity.saturating_sub(in_flight.len());
            let room = free >= (capacity / 4).max(1);
            if room && Instant::now() >= next_claim {
                let jobs = worker.claim(free).await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "delivery: could not claim messages; retrying");
                    Vec::new()
                });
                // Nothing due: the next claim after the poll; a thin claim: after a moment's
                // gathering; a full one: at once.
                next_claim = Instant::now()
                    + if jobs.is_empty() {
                        worker.settings.poll
                    } else if jobs.len() < capacity / 4 {
                        crate::GATHER.min(worker.settings.poll)
                    } else {
                        Duration::ZERO
                    };
                for job in jobs {
                    worker.start(&mut in_flight, job, false, &done, &shutdown, drain);
                }
            }
            let mut until = if room { next_claim } else { Instant::now() + worker.settings.poll };
            if let Some(since) = gathering {
                until = until.min(since + crate::GATHER);
            }
            // While gathering, what is handed over waits in the channel: no wake-up for each.
            tokio::select! {
                () = tokio::time::sleep_until(tokio::time::Instant::from_std(until)) => {}
                _ = shutdown.changed() => {}
                Some(_) = in_flight.join_next(), if !room && !in_flight.is_empty() => {}
                Some(ids) = crate::handoff::next_handed(&mut handed), if gathering.is_none() => arrived.extend(ids),
            }
        }
        // No more hand-offs from now; the sends under way finish (or are interrupted) first.
        let stopping = Instant::now();
        if let Some(messages) = worker.messages.as_ref() {
            messages.close();
        }
        while in_flight.join_next().await.is_some() {}
        worker.stop_taking(handed, arrived, stopping + drain).await;
        drop(done);
        let _ = recorder.await;
        tracing::info!("delivery worker stopped");
    }

    /// Sends `job` on its own task; its outcome (or, when a shutdown interrupted it, its id) goes
    /// to the recorder. A message handed over frees its room in the hand-off when done.
    fn start(
        self: &Arc<Self>,
        in_flight: &mut JoinSet<()>,
        job: Job,
        handed: bool,
        done: &mpsc::UnboundedSender<Result<(MessageId, Outcome), MessageId>>,
        stop: &watch::Receiver<bool>,
        drain: Duration,
    ) {
        let (worker, done, stop) = (self.clone(), done.clone(), stop.clone());
        in_flight.spawn(async move {
            let id = job.message.id;
            let attempt = tokio::select! {
                outcome = worker.deliver(job) => Ok(outcome),
                () = crate::drained(stop, drain) => Err(id),
            };
            let _ = done.send(attempt);
            if let (true, Some(messages)) = (handed, worker.messages.as_ref()) {
                messages.finished(1);
            }
        });
    }

    /// Messages being sent at once at most, each claim's limit.
    fn batch_size(&self) -> usize {
        usize::try_from(self.settings.batch.max(1)).unwrap_or(128)
    }

    async fn read_backlog(&self) {
        let store = self.store.clone();
        match blocking(move || store.with_conn(outbox::backlog)).await {
            Ok(waiting) => metrics::gauge!("sms_delivery_backlog").set(waiting as f64),
            Err(e) => tracing::warn!(error = %e, "delivery: could not read the backlog"),
        }
    }

    /// Claims up to `limit` due messages.
    async fn claim(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        let store = self.store.clone();
        let (limit, lease) = (i64::try_from(limit).unwrap_or(self.settings.batch), self.settings.lease);
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
        blocking(move || {
            store.claim_then_read(
                move |conn| {
                    let now = now_millis();
                    outbox::claim_ids(conn, now, now + lease, limit)
                },
                outbox::jobs,
                |conn, ids| outbox::hand_back(conn, ids, now_millis()),
            )
        })
        .await
    }

    /// Records outcomes as the sends finish, and hands back the messages whose sends a shutdown
    /// interrupted; what arrived while the previous write ran, and within
    /// [`crate::RECORD_GATHER`] of the first, is written together.
    async fn record_as_done(
        self: Arc<Self>,
        mut finished: mpsc::UnboundedReceiver<Result<(MessageId, Outcome), MessageId>>,
    ) {
        let at_most = match self.store.backend() {
            sms_store::Backend::Postgres => RECORD_AT_MOST_POSTGRES,
            sms_store::Backend::Sqlite => RECORD_AT_MOST,
        };
        while let Some(arrived) = crate::next_batch_gathered(&mut finished, at_most, crate::RECORD_GATHER).await {
            let (outcomes, interrupted) = split(arrived);
            self.write_down(outcomes, interrupted).await;
        }
    }

    /// Records a batch's outcomes and hands back its interrupted messages.
    async fn write_down(&self, outcomes: Vec<(MessageId, Outcome)>, interrupted: Vec<MessageId>) {
        let count = outcomes.len();
        if let Err(e) = self.record(outcomes).await {
            // The leases run out and the messages are tried again: at least once, never lost.
            tracing::warn!(error = %e, count, "delivery: could not record the outcomes of a batch");
        }
        if interrupted.is_empty() {
            return;
        }
        let store = self.store.clone();
        let handed = interrupted.len();
        match blocking(move || store.write(move |conn| outbox::hand_back(conn, &interrupted, now_millis()))).await {
            Ok(_) => tracing::info!(count = handed, "delivery: shutting down; handed back messages still being sent"),
            Err(e) => {
                tracing::warn!(error = %e, count = handed, "delivery: could not hand back messages; their leases will run out")
            }
        }
    }

    /// Claims one batch of due messages, sends them concurrently and records each outcome.
    /// Answers how many were handled. (What [`Worker::run`] does continuously, one batch at a
    /// time.)
    pub async fn tick(&self) -> Result<usize, StoreError> {
        let jobs = self.claim(self.batch_size()).await?;
        let count = jobs.len();
        let outcomes = join_all(jobs.into_iter().map(|job| self.deliver(job))).await;
        self.write_down(outcomes, Vec::new()).await;
        Ok(count)
    }

    /// One attempt at a message: its outcome, recorded with the batch's.
    async fn deliver(&self, job: Job) -> (MessageId, Outcome) {
        // Checked again right before the send: the tenant may have been switched off, its number
        // taken away, or the consumer may have opted out, since the message was queued. The
        // confirmation of an opt-out is the one message that goes to an opted-out number.
        let refusal = if !job.tenant_active {
            Some("tenant deactivated")
        } else if !job.number_owned {
            Some(NUMBER_REMOVED)
        } else if job.opted_out && job.message.automatic.as_deref() != Some(OPT_OUT_CONFIRMATION) {
            Some("opted out")
        } else {
            None
        };
        if let Some(error) = refusal {
            metrics::counter!("sms_delivery_attempts_total", "provider" => self.provider.name(), "outcome" => "failed")
                .increment(1);
            return (job.message.id, Outcome::Failed { error: error.into() });
        }
        let message = &job.message;
        let outgoing = Outgoing {
            message_id: message.id,
            from: message.from_number.clone(),
            to: message.to_number.clone(),
            body: message.body.clone(),
            media_urls: crate::media_urls(message.media.as_deref()),
            status_callback: format!(
                "{}/webhooks/twilio/{}/status",
                self.settings.public_url.trim_end_matches('/'),
                job.subdomain
            ),
        };
        let outcome = self.provider.send(&outgoing).await;
        let id = message.id;
        let attempts = u32::try_from(message.attempts).unwrap_or(u32::MAX);
        let settings = &self.settings;
        let label = match &outcome {
            Ok(_) => "sent",
            Err(SendError::Permanent(_) | SendError::Unsubscribed(_)) => "failed",
            Err(SendError::Transient(_)) if attempts >= settings.max_attempts => "failed",
            Err(SendError::Transient(_)) => "retry",
        };
        tracing::info!(message_id = id.get(), attempt = attempts, outcome = label, "delivery attempt");
        metrics::counter!("sms_delivery_attempts_total", "provider" => self.provider.name(), "outcome" => label)
            .increment(1);
        let outcome = match outcome {
            Ok(provider_message_id) => Outcome::Sent { provider_message_id },
            Err(SendError::Permanent(error)) => Outcome::Failed { error },
            Err(SendError::Unsubscribed(error)) => Outcome::Unsubscribed { error },
            Err(SendError::Transient(reason)) if attempts >= settings.max_attempts => {
                Outcome::Failed { error: format!("{reason} (gave up after {attempts} attempts)") }
            }
            Err(SendError::Transient(error)) => {
                let delay = retry_delay(attempts, settings.retry_base, settings.retry_max, rand::random::<f64>());
                let next = now_millis() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(1));
                Outcome::Retry { next_attempt_at: next, error }
            }
        };
        (id, outcome)
    }
}

/// The outcomes apart from the messages whose sends were interrupted.
fn split(finished: Vec<Result<(MessageId, Outcome), MessageId>>) -> (Vec<(MessageId, Outcome)>, Vec<MessageId>) {
    let (outcomes, interrupted): (Vec<_>, Vec<_>) = finished.into_iter().partition(Result::is_ok);
    (outcomes.into_iter().filter_map(Result::ok).collect(), interrupted.into_iter().filter_map(Result::err).collect())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Unavailable(e.to_string()))?
}
