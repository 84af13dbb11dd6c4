//! Where the service may connect on a tenant's behalf (event webhooks, MMS media URLs): public
//! unicast addresses only, unless the operator allows a network (`SMS_EVENTS_ALLOWED_NETWORKS`:
//! an on-premises CRM, or tests on loopback). The special-purpose ranges come from the IANA
//! registries; an IPv4-mapped or -compatible IPv6 address is judged as the IPv4 address it holds.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// IPv4 ranges that are not public unicast: this network, private (RFC 1918), shared address
/// space (RFC 6598), loopback, link-local, IETF protocol assignments, documentation, 6to4 relay,
/// benchmarking, multicast, reserved and broadcast.
const V4_SPECIAL: [&str; 16] = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "255.255.255.255/32",
];

/// IPv6 ranges that are not public unicast: unspecified, loopback, NAT64, discard, IETF protocol
/// assignments (benchmarking among them), documentation, unique local, link-local, multicast.
/// (IPv4-mapped and -compatible addresses are judged by the IPv4 address they hold.)
const V6_SPECIAL: [&str; 9] = [
    "::/128",
    "::1/128",
    "64:ff9b::/96",
    "100::/64",
    "2001::/23",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

fn special_v4(ip: Ipv4Addr) -> bool {
    V4_SPECIAL.iter().filter_map(|net| Ipv4Net::from_str(net).ok()).any(|net| net.contains(&ip))
}

/// The IPv4 address an IPv6 address holds: IPv4-mapped (`::ffff:a.b.c.d`) or -compatible
/// (`::a.b.c.d`, deprecated but still routed by some stacks).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let [a, b, c, d, e, f, _, _] = ip.segments();
    ((a | b | c | d | e | f) == 0 && !ip.is_unspecified() && !ip.is_loopback()).then(|| {
        let [.., w, x, y, z] = ip.octets();
        Ipv4Addr::new(w, x, y, z)
    })
}

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !special_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => !special_v4(v4),
            None => !V6_SPECIAL.iter().filter_map(|net| Ipv6Net::from_str(net).ok()).any(|net| net.contains(&v6)),
        },
    }
}

/// A comma-separated list of networks that is not a list of CIDRs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a comma-separated list of CIDRs: {0}")]
pub struct InvalidNetworks(pub String);

/// A list of networks (`SMS_EVENTS_ALLOWED_NETWORKS`, `SMS_TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Networks(Vec<IpNet>);

impl Networks {
    /// `10.0.0.0/8, 192.168.1.7, ::1/128`: a bare address is a network of one.
    pub fn parse(list: &str) -> Result<Self, InvalidNetworks> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                IpNet::from_str(item)
                    .or_else(|_| IpAddr::from_str(item).map(IpNet::from))
                    .map_err(|_| InvalidNetworks(item.to_owned()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Where the service may connect for a tenant: public unicast addresses and the allowed networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destinations {
    allowed: Networks,
}

impl Destinations {
    pub fn new(allowed: Networks) -> Self {
        Self { allowed }
    }

    /// Whether the service may connect to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.allowed.contains(ip)
    }

    /// Whether a URL's host may be connected to, as far as the URL itself tells: an address
    /// written literally must be permitted; a name is checked when it is resolved, at
    /// connection time (an event webhook's URL).
    pub fn permits_url(&self, raw: &str) -> bool {
        url::Url::parse(raw).is_ok_and(|url| self.permits_parsed_url(&url))
    }

    /// [`Destinations::permits_url`] of a URL parsed already.
    pub fn permits_parsed_url(&self, url: &url::Url) -> bool {
        match url.host() {
            Some(url::Host::Ipv4(v4)) => self.permits(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => self.permits(IpAddr::V6(v6)),
            Some(url::Host::Domain(_)) => true,
            None => false,
        }
    }

    /// [`Destinations::permits_url`] for a URL this service does not fetch itself (an MMS
    /// medium, which the provider fetches): `localhost` is judged too, as the loopback
    /// addresses it names, since nothing checks the provider's resolution.
    pub fn permits_media_url(&self, raw: &str) -> bool {
        let local =
            url::Url::parse(raw).ok().and_then(|url| url.host_str().map(str::to_ascii_lowercase)).is_some_and(|host| {
                let host = host.trim_end_matches('.');
                host == "localhost" || host.ends_with(".localhost")
            });
        let loopback = self.permits(IpAddr::V4(Ipv4Addr::LOCALHOST)) && self.permits(IpAddr::V6(Ipv6Addr::LOCALHOST));
        self.permits_url(raw) && (!local || loopback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_public_unicast_is_public() {
        for public in ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(ip(public)), "{public}");
        }
        for special in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "::",
            "::1",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(ip(special)), "{special}");
        }
    }

    #[test]
    fn allowed_networks_let_their_addresses_through() {
        let none = Destinations::default();
        let loopback = Destinations::new(Networks::parse("127.0.0.0/8, ::1").unwrap());
        assert!(!none.permits_url("http://127.0.0.1:9000/x"));
        assert!(loopback.permits_url("http://127.0.0.1:9000/x"));
        assert!(!loopback.permits_url("http://10.0.0.1/x"), "only the allowed networks");
        assert!(!none.permits_url("http://[::ffff:127.0.0.1]/x"));
        assert!(none.permits_url("http://localhost:8080/x"), "a webhook's name is checked when resolved");
        assert!(!none.permits_media_url("http://localhost:8080/x"), "a medium's is not resolved here");
        assert!(!none.permits_media_url("http://media.localhost/x"));
        assert!(!none.permits_media_url("http://127.0.0.1/x.jpg"));
        assert!(none.permits_media_url("https://media.example.com/x.jpg"));
        assert!(loopback.permits_media_url("http://localhost:8080/x"));
        assert!(none.permits_url("https://crm.example.com/hooks"), "names are checked when resolved");
        assert!(none.permits_url("https://93.184.216.34/hooks"));
        assert_eq!(Networks::parse("10.0.0.0/8, nope"), Err(InvalidNetworks("nope".into())));
        assert_eq!(Networks::parse(""), Ok(Networks::default()));
    }
}
