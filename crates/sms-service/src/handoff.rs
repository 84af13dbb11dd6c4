//! What a write leased to this instance's workers: event deliveries to the event worker
//! ([`sms_delivery::Handoff`]) and the usual send's message to the delivery worker, gathered on
//! the thread that runs the write and handed over once it has committed (as the console's live
//! changes are, in `live`). The workflows that write them ask [`leases`] whether to write them
//! leased, and note what they leased.

use std::cell::{Cell, RefCell};

use chrono::NaiveDateTime;
use sms_domain::{DeliveryId, MessageId};
use sms_store::chats::Leases;

thread_local! {
    static LEASES: Cell<Leases> = const { Cell::new(Leases { deliveries: None, message: None }) };
    static LEASED: RefCell<Leased> = const { RefCell::new(Leased { deliveries: Vec::new(), messages: Vec::new() }) };
}

/// What one write leased.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Leased {
    pub deliveries: Vec<DeliveryId>,
    pub messages: Vec<MessageId>,
}

/// The work about to run on this thread writes what `leases` names leased until then, the rest
/// due at once (`None`: nobody reserved room for it).
pub(crate) fn begin(leases: Leases) {
    LEASES.with(|l| l.set(leases));
    LEASED.with(|leased| *leased.borrow_mut() = Leased::default());
}

/// Until when the running work leases the event deliveries it writes, if it does.
pub(crate) fn lease() -> Option<NaiveDateTime> {
    LEASES.with(Cell::get).deliveries
}

/// Until when the running work leases what it writes, if it does.
pub(crate) fn leases() -> Leases {
    LEASES.with(Cell::get)
}

/// Notes deliveries the running work wrote leased.
pub(crate) fn leased(ids: Vec<DeliveryId>) {
    LEASED.with(|leased| leased.borrow_mut().deliveries.extend(ids));
}

/// Notes a message the running work wrote leased.
pub(crate) fn message_leased(id: MessageId) {
    LEASED.with(|leased| leased.borrow_mut().messages.push(id));
}

/// What the work wrote leased; the thread leases nothing more until the next [`begin`].
pub(crate) fn take() -> Leased {
    LEASES.with(|l| l.set(Leases::default()));
    LEASED.with(|leased| std::mem::take(&mut *leased.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_leases_only_between_begin_and_take() {
        assert_eq!(lease(), None);
        let at = NaiveDateTime::default();
        begin(Leases { deliveries: Some(at), message: Some(at) });
        assert_eq!(lease(), Some(at));
        assert_eq!(leases().message, Some(at));
        leased(vec![DeliveryId::new(3)]);
        leased(vec![DeliveryId::new(4)]);
        message_leased(MessageId::new(9));
        let taken = take();
        assert_eq!(taken.deliveries, vec![DeliveryId::new(3), DeliveryId::new(4)]);
        assert_eq!(taken.messages, vec![MessageId::new(9)]);
        assert_eq!(lease(), None, "nothing is leased after the work");
        assert_eq!(leases(), Leases::default());
        leased(vec![DeliveryId::new(5)]);
        message_leased(MessageId::new(10));
        begin(Leases::default());
        assert_eq!(take(), Leased::default(), "what a failed work left is not the next one's");
    }
}
