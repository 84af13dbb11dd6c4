//! The event deliveries a write leased to this instance's event worker
//! ([`sms_delivery::Handoff`]), gathered on the thread that runs the write and handed over once
//! it has committed (as the console's live changes are, in `live`). The workflows that write
//! events ask [`lease`] whether to write their deliveries leased, and note what they leased.

use std::cell::{Cell, RefCell};

use chrono::NaiveDateTime;
use sms_domain::DeliveryId;

thread_local! {
    static LEASE: Cell<Option<NaiveDateTime>> = const { Cell::new(None) };
    static LEASED: RefCell<Vec<DeliveryId>> = const { RefCell::new(Vec::new()) };
}

/// The work about to run on this thread writes its deliveries leased until `lease`, or due at
/// once (`None`: nobody reserved room for them).
pub(crate) fn begin(lease: Option<NaiveDateTime>) {
    LEASE.with(|l| l.set(lease));
    LEASED.with(|leased| leased.borrow_mut().clear());
}

/// Until when the running work leases the deliveries it writes, if it does.
pub(crate) fn lease() -> Option<NaiveDateTime> {
    LEASE.with(Cell::get)
}

/// Notes deliveries the running work wrote leased.
pub(crate) fn leased(ids: Vec<DeliveryId>) {
    LEASED.with(|leased| leased.borrow_mut().extend(ids));
}

/// The deliveries the work wrote leased; the thread leases nothing more until the next
/// [`begin`].
pub(crate) fn take() -> Vec<DeliveryId> {
    LEASE.with(|l| l.set(None));
    LEASED.with(|leased| std::mem::take(&mut *leased.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_leases_only_between_begin_and_take() {
        assert_eq!(lease(), None);
        let at = NaiveDateTime::default();
        begin(Some(at));
        assert_eq!(lease(), Some(at));
        leased(vec![DeliveryId::new(3)]);
        leased(vec![DeliveryId::new(4)]);
        assert_eq!(take(), vec![DeliveryId::new(3), DeliveryId::new(4)]);
        assert_eq!(lease(), None, "nothing is leased after the work");
        leased(vec![DeliveryId::new(5)]);
        begin(None);
        assert_eq!(take(), Vec::new(), "what a failed work left is not the next one's");
    }
}
