//! The delivery worker's side of the messages' hand-off ([`crate::handoff`]): the usual send
//! writes its message leased to this instance's worker and hands its id over once committed;
//! the worker reads and sends it without a claim, and hands back on shutdown what it was given
//! and did not start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sms_domain::time::now_millis;
use sms_domain::MessageId;
use sms_store::outbox::{self, Job};

use super::{blocking, HandedMessages, Worker};

impl Worker {
    /// A hand-off by which this instance's sends give the worker their messages, written
    /// already leased to it: no claim is needed for them ([`crate::handoff`]). Room for two
    /// batches (what is gathered for a read and what is being sent); each message is leased for
    /// the worker's lease.
    pub fn messages_handoff(batch: i64, lease: Duration) -> (crate::Handoff<MessageId>, HandedMessages) {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
        crate::Handoff::new(usize::try_from(batch.max(1)).unwrap_or(128).saturating_mul(2), lease)
    }

    /// The worker sends what the messages' hand-off gives it.
    #[must_use]
    pub fn with_handed_messages(mut self, handoff: crate::Handoff<MessageId>, handed: HandedMessages) -> Self {
        self.messages = Some(handoff);
        self.handed = Arc::new(std::sync::Mutex::new(Some(handed)));
        self
    }

    /// The messages handed over, read for sending (as a claim reads what it claimed).
    pub(super) async fn take_handed(&self, ids: Vec<MessageId>) -> Vec<Job> {
        let (store, count) = (self.store.clone(), ids.len());
        let read = blocking(move || store.with_conn(|conn| outbox::jobs(conn, &ids))).await;
        let jobs = read.unwrap_or_else(|e| {
            // Their leases run out and any worker claims them then: at least once, never lost.
            tracing::warn!(error = %e, count, "delivery: could not read handed messages; their leases will run out");
            Vec::new()
        });
        if let Some(messages) = self.messages.as_ref() {
            messages.finished(count - jobs.len().min(count));
        }
        jobs
    }

    /// On shutdown, the hand-off closed: the sends that reserved room before are waited for
    /// (until `deadline` at most), and every message handed over and not started is handed
    /// back, due at once.
    pub(super) async fn stop_taking(
        &self,
        mut handed: Option<HandedMessages>,
        mut arrived: Vec<MessageId>,
        deadline: Instant,
    ) {
        let Some(messages) = self.messages.as_ref() else { return };
        arrived.extend(messages.rest(handed.as_mut(), deadline).await);
        if arrived.is_empty() {
            return;
        }
        let (store, count) = (self.store.clone(), arrived.len());
        messages.finished(count);
        match blocking(move || store.write(move |conn| outbox::hand_back(conn, &arrived, now_millis()))).await {
            Ok(_) => tracing::info!(count, "delivery: shutting down; handed back messages not yet sent"),
            Err(e) => {
                tracing::warn!(error = %e, count, "delivery: could not hand back messages; their leases will run out")
            }
        }
    }
}
