//! The event worker's side of the hand-off ([`crate::handoff`]): reading what it is handed, and
//! handing it back when it stops.

use std::time::{Duration, Instant};

use sms_domain::time::now_millis;
use sms_domain::DeliveryId;
use sms_store::deliveries::{self, Claimed};
use sms_store::StoreError;

use super::EventWorker;

impl EventWorker {
    /// Reads the deliveries handed over; those the worker may not post now (their endpoint was
    /// disabled, their tenant deactivated) are handed back to wait like any other.
    pub(super) async fn take_handed(&self, ids: Vec<DeliveryId>) -> Vec<Claimed> {
        let (store, count) = (self.store.clone(), ids.len());
        // In the store's writer, as a claim's read is: on SQLite the read takes its turn among
        // the writes instead of holding a read transaction open beside them.
        let read = tokio::task::spawn_blocking(move || {
            store.write(move |conn| {
                let (ready, waiting) = deliveries::handed(conn, &ids, now_millis())?;
                let back: Vec<DeliveryId> = waiting.iter().map(|claimed| claimed.id).collect();
                if !back.is_empty() {
                    deliveries::hand_back(conn, &back, now_millis())?;
                }
                Ok::<_, StoreError>((ready, back.len()))
            })
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))
        .and_then(|read| read);
        match read {
            Ok((ready, waiting)) => {
                self.handoff.finished(count - ready.len());
                if waiting > 0 {
                    tracing::info!(count = waiting, "events: handed deliveries wait for their endpoint or tenant");
                }
                ready
            }
            Err(e) => {
                // Their leases run out and they are claimed then: at least once, never lost.
                self.handoff.finished(count);
                tracing::warn!(error = %e, count, "events: could not read handed deliveries; their leases will run out");
                Vec::new()
            }
        }
    }

    /// On shutdown: no more hand-offs; the writes that reserved room before are waited for (at
    /// most `drain`), and everything handed over and not started is handed back, due at once.
    pub(super) async fn stop_taking(
        &self,
        mut handed: Option<crate::handoff::Handed<DeliveryId>>,
        mut arrived: Vec<DeliveryId>,
        drain: Duration,
    ) {
        self.handoff.close();
        arrived.extend(self.handoff.rest(handed.as_mut(), Instant::now() + drain).await);
        if arrived.is_empty() {
            return;
        }
        let (store, count) = (self.store.clone(), arrived.len());
        self.handoff.finished(count);
        let back = tokio::task::spawn_blocking(move || {
            store.write(move |conn| deliveries::hand_back(conn, &arrived, now_millis()))
        })
        .await;
        match back {
            Ok(Ok(_)) => tracing::info!(count, "events: shutting down; handed back deliveries not yet posted"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, count, "events: could not hand back deliveries; their leases will run out")
            }
            Err(e) => {
                tracing::warn!(error = %e, count, "events: could not hand back deliveries; their leases will run out")
            }
        }
    }
}
