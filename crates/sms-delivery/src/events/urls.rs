//! Endpoints' URLs as the event worker parsed them lately.

use sms_domain::network::Destinations;

/// How many endpoints' URLs a worker remembers.
const REMEMBERED: usize = 1024;

/// Endpoints' URLs as parsed lately, `None` where the destination is not permitted: an
/// endpoint's deliveries come one after another, and parsing its URL anew for the check and
/// again for the request was a twentieth of a send's instructions (BENCHMARKS.md, eighteenth
/// session). Whether a URL is permitted depends on nothing but the destinations, which are the
/// worker's settings.
pub(super) struct PermittedUrls {
    destinations: Destinations,
    parsed: quick_cache::sync::Cache<String, Option<reqwest::Url>>,
}

impl PermittedUrls {
    pub(super) fn new(destinations: Destinations) -> Self {
        Self { destinations, parsed: quick_cache::sync::Cache::new(REMEMBERED) }
    }

    /// The endpoint's URL parsed, when its destination is permitted as far as the URL tells
    /// (an address written literally); a name is checked when it is resolved.
    pub(super) fn get(&self, raw: &str) -> Option<reqwest::Url> {
        if let Some(known) = self.parsed.get(raw) {
            return known;
        }
        let parsed = reqwest::Url::parse(raw).ok().filter(|url| self.destinations.permits_parsed_url(url));
        self.parsed.insert(raw.to_owned(), parsed.clone());
        parsed
    }
}
