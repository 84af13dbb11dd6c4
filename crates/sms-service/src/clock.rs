//! Time, as a value the service is given, so tests can fix it.

use chrono::NaiveDateTime;

/// What time it is, to the millisecond (what is stored reads back exactly as it was answered).
pub trait Clock: Send + Sync {
    fn now(&self) -> NaiveDateTime;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> NaiveDateTime {
        sms_domain::time::now_millis()
    }
}
