//! The outbox worker.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use sms_domain::delivery::retry_delay;
use sms_domain::time::now_millis;
use sms_store::delivery::{self, Job};
use sms_store::{Store, StoreError};
use tokio::sync::watch;

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
            batch: 32,
            poll: Duration::from_millis(500),
            public_url: "http://127.0.0.1:8080".into(),
        }
    }
}

#[derive(Clone)]
pub struct Worker {
    store: Store,
    provider: Arc<dyn Provider>,
    settings: DeliverySettings,
}

impl Worker {
    pub fn new(store: Store, provider: Arc<dyn Provider>, settings: DeliverySettings) -> Self {
        Self { store, provider, settings }
    }

    /// Delivers until `shutdown` turns true; a batch under way is finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(provider = self.provider.name(), "delivery worker started");
        loop {
            if *shutdown.borrow() {
                break;
            }
            let handled = match self.tick().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "delivery: could not claim messages; retrying");
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
        tracing::info!("delivery worker stopped");
    }

    /// Claims one batch of due messages, sends them concurrently and records each outcome.
    /// Answers how many were handled.
    pub async fn tick(&self) -> Result<usize, StoreError> {
        let store = self.store.clone();
        let (batch, lease) = (self.settings.batch, self.settings.lease);
        let jobs = blocking(move || {
            let now = now_millis();
            let lease_until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
            store.with_conn(|conn| delivery::claim(conn, now, lease_until, batch))
        })
        .await?;
        let count = jobs.len();
        join_all(jobs.into_iter().map(|job| self.deliver(job))).await;
        Ok(count)
    }

    async fn deliver(&self, job: Job) {
        if !job.tenant_active {
            let (store, id) = (self.store.clone(), job.message.id);
            let failed = blocking(move || {
                store.with_conn(|conn| delivery::mark_failed(conn, id, "tenant deactivated", now_millis()))
            })
            .await;
            metrics::counter!("sms_delivery_attempts_total", "provider" => self.provider.name(), "outcome" => "failed")
                .increment(1);
            if let Err(e) = failed {
                tracing::warn!(message_id = id, error = %e, "delivery: could not fail a deactivated tenant's message");
            }
            return;
        }
        let message = &job.message;
        let outgoing = Outgoing {
            message_id: message.id,
            from: message.from_number.clone(),
            to: message.to_number.clone(),
            body: message.body.clone(),
            status_callback: format!(
                "{}/webhooks/twilio/{}/status",
                self.settings.public_url.trim_end_matches('/'),
                job.subdomain
            ),
        };
        let outcome = self.provider.send(&outgoing).await;
        let id = message.id;
        let attempts = u32::try_from(message.attempts).unwrap_or(u32::MAX);
        let settings = self.settings.clone();
        let store = self.store.clone();
        let label = match &outcome {
            Ok(_) => "sent",
            Err(SendError::Permanent(_)) => "failed",
            Err(SendError::Transient(_)) if attempts >= settings.max_attempts => "failed",
            Err(SendError::Transient(_)) => "retry",
        };
        tracing::info!(message_id = id, attempt = attempts, outcome = label, "delivery attempt");
        metrics::counter!("sms_delivery_attempts_total", "provider" => self.provider.name(), "outcome" => label)
            .increment(1);
        let recorded = blocking(move || {
            let now = now_millis();
            store.with_conn(|conn| match outcome {
                Ok(provider_id) => delivery::mark_sent(conn, id, provider_id.as_deref(), now),
                Err(SendError::Permanent(reason)) => delivery::mark_failed(conn, id, &reason, now),
                Err(SendError::Transient(reason)) if attempts >= settings.max_attempts => {
                    delivery::mark_failed(conn, id, &format!("{reason} (gave up after {attempts} attempts)"), now)
                }
                Err(SendError::Transient(reason)) => {
                    let delay = retry_delay(attempts, settings.retry_base, settings.retry_max, rand::random::<f64>());
                    let next = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(1));
                    delivery::mark_retry(conn, id, next, &reason, now)
                }
            })
        })
        .await;
        if let Err(e) = recorded {
            // The lease runs out and the message is tried again: at least once, never lost.
            tracing::warn!(message_id = id, error = %e, "delivery: could not record the outcome");
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Unavailable(e.to_string()))?
}
