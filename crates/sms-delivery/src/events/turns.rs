//! Each endpoint's turns: at most `SMS_EVENTS_ENDPOINT_CONCURRENCY` requests in flight to one
//! endpoint per instance, so that one endpoint never holds back another's deliveries.

use std::collections::HashMap;
use std::sync::Arc;

use sms_domain::EndpointId;
use tokio::sync::Semaphore;

/// The requests in flight per endpoint, each endpoint's turns a semaphore of its own.
#[derive(Default)]
pub(super) struct Turns(HashMap<EndpointId, Arc<Semaphore>>);

impl Turns {
    pub(super) fn of(&mut self, endpoint: EndpointId, concurrency: usize) -> Arc<Semaphore> {
        self.0.entry(endpoint).or_insert_with(|| Arc::new(Semaphore::new(concurrency))).clone()
    }

    /// The endpoints with every turn taken: not claimed for until one frees.
    pub(super) fn busy(&mut self) -> Vec<EndpointId> {
        // Forget the endpoints nobody waits for.
        self.0.retain(|_, turns| Arc::strong_count(turns) > 1);
        self.0.iter().filter(|(_, turns)| turns.available_permits() == 0).map(|(id, _)| *id).collect()
    }
}
