//! Connecting only where the service may go on a tenant's behalf: the HTTP client of the event
//! worker resolves names through [`Permitted`], which refuses a host unless every address it
//! resolves to is permitted (public unicast, or in `SMS_EVENTS_ALLOWED_NETWORKS`). The check is
//! made on the addresses the connection will use, so a name cannot be rebound between a check
//! and the connection. Literal addresses, which the client does not resolve, are checked by the
//! caller before the request ([`Destinations::permits_url`]).

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sms_domain::network::Destinations;

/// What a delivery refused at connection time records: nothing about the address.
pub const DESTINATION_NOT_ALLOWED: &str = "destination not allowed";

/// A host that resolves to an address the service may not connect to.
#[derive(Debug, thiserror::Error)]
#[error("{DESTINATION_NOT_ALLOWED}")]
pub struct Refused;

/// The resolver hook of the event worker's HTTP client.
pub struct Permitted {
    destinations: Destinations,
}

impl Permitted {
    pub fn new(destinations: Destinations) -> Self {
        Self { destinations }
    }
}

impl Resolve for Permitted {
    fn resolve(&self, name: Name) -> Resolving {
        let destinations = self.destinations.clone();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if resolved.is_empty() || !resolved.iter().all(|address| destinations.permits(address.ip())) {
                return Err(Box::new(Refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(resolved.into_iter()) as Addrs)
        })
    }
}

/// Whether a request failed because its destination was refused.
pub fn refused(error: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<Refused>().is_some() {
            return true;
        }
        cause = e.source();
    }
    false
}
