//! Work handed straight to this instance's workers: event deliveries to the event worker, and
//! (on PostgreSQL) the messages a send writes to the delivery worker.
//!
//! A delivery written by a send, a reply or a delivery outcome is claimed by some instance's
//! worker, which rewrites it to take its lease and then reads it back. When this instance's
//! worker has room, the writer instead writes the delivery already leased to it (its first
//! attempt counted, due again when the lease ends) and, once the transaction has committed,
//! hands its id over: the claim's update and search are saved, and the post goes out at once.
//! The database still guards each delivery as a claim does: if this instance dies first, the
//! lease runs out and any instance's worker posts it then, at least once, never lost. On
//! shutdown the worker stops taking deliveries, waits for the writes that reserved room, and
//! hands back what it was given and did not post, due at once for another instance.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use sms_domain::DeliveryId;
use tokio::sync::mpsc;

/// The writers' side of the hand-off: cheap to clone, shared by every workflow of the instance.
/// `I` is what is handed over: event deliveries by default, or messages.
pub struct Handoff<I = DeliveryId> {
    inner: Arc<Shared<I>>,
}

impl<I> Clone for Handoff<I> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

struct Shared<I> {
    /// Whether the worker still takes deliveries (until it shuts down).
    open: AtomicBool,
    /// Writes that reserved room and have not yet handed their deliveries over (or failed).
    reserved: AtomicUsize,
    /// Deliveries handed over and not yet done with.
    outstanding: AtomicUsize,
    /// How many may be outstanding before writers leave their deliveries due instead.
    room: usize,
    lease: chrono::Duration,
    sender: mpsc::UnboundedSender<Vec<I>>,
}

/// Room reserved for one write's deliveries: written leased until [`Reservation::lease_until`],
/// then handed over with [`Reservation::hand`] once the write committed. Dropped without handing
/// (the write failed), it frees its room.
pub struct Reservation<I = DeliveryId> {
    handoff: Handoff<I>,
    until: NaiveDateTime,
}

impl<I> Handoff<I> {
    /// A hand-off of at most `room` outstanding deliveries, each leased for `lease`, and the
    /// worker's end of it.
    pub(crate) fn new(room: usize, lease: chrono::Duration) -> (Self, Handed<I>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let shared = Shared {
            open: AtomicBool::new(true),
            reserved: AtomicUsize::new(0),
            outstanding: AtomicUsize::new(0),
            room,
            lease,
            sender,
        };
        (Self { inner: Arc::new(shared) }, receiver)
    }

    /// Room for a write about to happen at `now`, if the worker takes deliveries and is not
    /// already given as many as it may hold (then the write leaves its deliveries due, for a
    /// claim).
    pub fn reserve(&self, now: NaiveDateTime) -> Option<Reservation<I>> {
        let shared = &self.inner;
        if !shared.open.load(Ordering::Acquire) {
            return None;
        }
        let taken = shared.outstanding.load(Ordering::Relaxed) + shared.reserved.load(Ordering::Relaxed);
        if taken >= shared.room {
            return None;
        }
        shared.reserved.fetch_add(1, Ordering::AcqRel);
        // Closed meanwhile: the worker may already have stopped waiting for reservations.
        if !shared.open.load(Ordering::Acquire) {
            shared.reserved.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Reservation { handoff: self.clone(), until: now + shared.lease })
    }

    /// The worker is done with `count` of the deliveries it was handed.
    pub(crate) fn finished(&self, count: usize) {
        let _ =
            self.inner.outstanding.fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| Some(n.saturating_sub(count)));
    }

    /// No more reservations: the worker is shutting down.
    pub(crate) fn close(&self) {
        self.inner.open.store(false, Ordering::Release);
    }

    /// Writes that reserved room and are still under way.
    pub(crate) fn reserved(&self) -> usize {
        self.inner.reserved.load(Ordering::Acquire)
    }

    /// Once closed, on shutdown: waits (until `deadline` at most) for the writes that reserved
    /// room, then answers what was handed over and not yet taken from `handed`.
    pub(crate) async fn rest(&self, handed: Option<&mut Handed<I>>, deadline: Instant) -> Vec<I> {
        while self.reserved() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut rest = Vec::new();
        if let Some(receiver) = handed {
            while let Ok(ids) = receiver.try_recv() {
                rest.extend(ids);
            }
        }
        rest
    }
}

/// The worker's end of a hand-off.
pub type Handed<I> = mpsc::UnboundedReceiver<Vec<I>>;

/// The next hand-over, when the worker has a hand-off to hear from.
pub(crate) async fn next_handed<I>(handed: &mut Option<Handed<I>>) -> Option<Vec<I>> {
    match handed {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

impl<I> Reservation<I> {
    /// Until when the write's deliveries are leased to this instance's worker.
    pub fn lease_until(&self) -> NaiveDateTime {
        self.until
    }

    /// Hands the committed write's leased deliveries to the worker.
    pub fn hand(self, ids: Vec<I>) {
        if ids.is_empty() {
            return;
        }
        let shared = &self.handoff.inner;
        shared.outstanding.fetch_add(ids.len(), Ordering::AcqRel);
        let count = ids.len();
        if shared.sender.send(ids).is_err() {
            // The worker is gone: the leases run out and any instance posts them then.
            self.handoff.finished(count);
        }
    }
}

impl<I> Drop for Reservation<I> {
    fn drop(&mut self) {
        self.handoff.inner.reserved.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_700_000_000, 0).map(|t| t.naive_utc()).unwrap_or_default()
    }

    #[test]
    fn reservations_stop_at_the_room_and_when_closed() {
        let (handoff, mut receiver) = Handoff::new(3, chrono::Duration::seconds(50));
        let first = handoff.reserve(at()).expect("room for the first write");
        assert_eq!(first.lease_until(), at() + chrono::Duration::seconds(50));
        first.hand(vec![DeliveryId::new(1), DeliveryId::new(2)]);
        assert_eq!(receiver.try_recv().ok(), Some(vec![DeliveryId::new(1), DeliveryId::new(2)]));
        let second = handoff.reserve(at()).expect("room for one more");
        assert!(handoff.reserve(at()).is_none(), "two outstanding and one reserved fill a room of 3");
        drop(second);
        assert_eq!(handoff.reserved(), 0, "a write that failed frees its room");
        handoff.finished(2);
        let third = handoff.reserve(at()).expect("room again once the worker is done");
        handoff.close();
        assert!(handoff.reserve(at()).is_none(), "a closed hand-off takes nothing");
        assert_eq!(handoff.reserved(), 1, "the write under way still holds its reservation");
        third.hand(Vec::new());
        assert_eq!(handoff.reserved(), 0);
    }

    #[test]
    fn a_hand_to_a_stopped_worker_frees_its_room() {
        let (handoff, receiver) = Handoff::new(1, chrono::Duration::seconds(50));
        drop(receiver);
        let reservation = handoff.reserve(at()).expect("room");
        reservation.hand(vec![DeliveryId::new(7)]);
        assert!(handoff.reserve(at()).is_some(), "nothing is outstanding for a worker that is gone");
    }
}
