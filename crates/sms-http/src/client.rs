//! Who the client is: the peer's address, or, when the peer is a trusted proxy
//! (`SMS_TRUSTED_PROXIES`), the right-most `X-Forwarded-For` address that is not itself a
//! trusted proxy. Addresses further left were written by the client and prove nothing.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use actix_web::HttpRequest;
use sms_domain::network::Networks;

/// What the HTTP layer is configured with, beside the application.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Networks,
    /// How long a request body may take to arrive after its headers (`SMS_BODY_TIMEOUT_SECS`).
    pub body_timeout: Duration,
    /// Whether `/metrics` is served on the main address (not when `SMS_METRICS_BIND` gives it
    /// an address of its own).
    pub metrics_here: bool,
}

/// By default: no proxy trusted, 10 s for a body, `/metrics` on the main address.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for HttpSettings {
    fn default() -> Self {
        Self { trusted_proxies: Networks::default(), body_timeout: DEFAULT_BODY_TIMEOUT, metrics_here: true }
    }
}

/// The client's address as the failed-authentication limit counts it.
pub fn address(req: &HttpRequest) -> IpAddr {
    let peer = req.peer_addr().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    let settings = req.app_data::<actix_web::web::Data<HttpSettings>>();
    match settings {
        Some(settings) if settings.trusted_proxies.contains(peer) => {
            forwarded_for(req, &settings.trusted_proxies, peer)
        }
        _ => peer,
    }
}

/// The right-most address of `X-Forwarded-For` (every such header, in order) that is not a
/// trusted proxy; the peer when there is none, or when an entry cannot be read (the chain
/// cannot be followed past it).
fn forwarded_for(req: &HttpRequest, trusted: &Networks, peer: IpAddr) -> IpAddr {
    let entries: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    for entry in entries.iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(ip) => continue,
            Ok(ip) => return ip,
            Err(_) => return peer,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use actix_web::web::Data;

    fn from(peer: &str, forwarded: &[&str], trusted: &str) -> IpAddr {
        let settings = HttpSettings { trusted_proxies: Networks::parse(trusted).unwrap(), ..HttpSettings::default() };
        let mut req =
            TestRequest::default().peer_addr(format!("{peer}:4000").parse().unwrap()).app_data(Data::new(settings));
        for value in forwarded {
            req = req.append_header(("X-Forwarded-For", *value));
        }
        address(&req.to_http_request())
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_nobody_else_does() {
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        assert_eq!(from("203.0.113.7", &["198.51.100.1"], ""), ip("203.0.113.7"), "no proxy trusted");
        assert_eq!(from("10.0.0.2", &["198.51.100.1"], "10.0.0.0/8"), ip("198.51.100.1"));
        assert_eq!(
            from("10.0.0.2", &["6.6.6.6, 198.51.100.1, 10.0.0.9"], "10.0.0.0/8"),
            ip("198.51.100.1"),
            "the right-most address that is not a proxy, not what the client wrote"
        );
        assert_eq!(from("10.0.0.2", &["6.6.6.6", "198.51.100.1"], "10.0.0.0/8"), ip("198.51.100.1"), "two headers");
        assert_eq!(from("10.0.0.2", &[], "10.0.0.0/8"), ip("10.0.0.2"), "no header: the proxy itself");
        assert_eq!(from("10.0.0.2", &["garbage, 10.0.0.3"], "10.0.0.0/8"), ip("10.0.0.2"));
        assert_eq!(from("203.0.113.7", &["198.51.100.1"], "10.0.0.0/8"), ip("203.0.113.7"), "an untrusted peer");
    }
}
