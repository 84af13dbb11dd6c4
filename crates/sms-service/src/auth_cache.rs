//! A short-lived cache of authenticated tenants, so the tenant API does not read the tenant and
//! its token hashes on every request.
//!
//! Only successful authentications are cached, each for at most the TTL
//! (`SMS_AUTH_CACHE_TTL_SECS`). Any change to a tenant or its tokens (an admin PATCH, a token
//! revocation) empties this instance's cache at once and, through the change feed, every other
//! instance's; an instance that cannot hear the feed does not use its cache. A read that began
//! before a change never fills the cache after it: a fill carries the generation it started
//! under, and every change moves the generation on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sms_store::Tenant;

/// At most this many entries; a full cache is emptied rather than grown.
const MAX_ENTRIES: usize = 10_000;

/// What a tenant was authenticated by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CacheKey {
    /// HTTP Basic: the subdomain and the SHA-256 of the API token (never the token itself).
    Basic { subdomain: String, token_hash: String },
    /// A verified tenant JWT names the tenant; only the tenant's row is cached.
    Jwt { subdomain: String },
}

/// Permission to fill the cache with what a read returns, if nothing changed meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

struct Entries {
    generation: u64,
    map: HashMap<CacheKey, (Tenant, Instant)>,
}

pub struct AuthCache {
    ttl: Duration,
    listening: AtomicBool,
    entries: Mutex<Entries>,
}

impl AuthCache {
    /// A cache whose entries live `ttl` (zero: no caching). `listening` says whether changes
    /// made by other instances are heard yet; an instance alone hears all its changes.
    pub fn new(ttl: Duration, listening: bool) -> Self {
        Self {
            ttl,
            listening: AtomicBool::new(listening),
            entries: Mutex::new(Entries { generation: 0, map: HashMap::new() }),
        }
    }

    /// The tenant cached under `key`, if fresh.
    pub fn get(&self, key: &CacheKey) -> Option<Tenant> {
        if !self.in_use() {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        let (tenant, at) = entries.map.get(key)?;
        (at.elapsed() < self.ttl).then(|| tenant.clone())
    }

    /// Taken before reading the database; `None` when the cache is not in use.
    pub fn ticket(&self) -> Option<Ticket> {
        if !self.in_use() {
            return None;
        }
        self.entries.lock().ok().map(|e| Ticket(e.generation))
    }

    /// Remembers `tenant` under `key`, unless something changed since `ticket` was taken.
    pub fn fill(&self, ticket: Ticket, key: CacheKey, tenant: Tenant) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.generation != ticket.0 || !self.in_use() {
            return;
        }
        if entries.map.len() >= MAX_ENTRIES {
            entries.map.clear();
        }
        entries.map.insert(key, (tenant, Instant::now()));
    }

    /// A tenant or its tokens changed: forget everything, and refuse fills begun before.
    pub fn invalidate(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.generation = entries.generation.wrapping_add(1);
            entries.map.clear();
        }
    }

    /// Whether other instances' changes are heard; while not, nothing is served from the cache.
    pub fn set_listening(&self, listening: bool) {
        self.invalidate();
        self.listening.store(listening, Ordering::SeqCst);
    }

    /// Whether the cache is in use: a TTL, and changes of other instances heard.
    pub fn in_use(&self) -> bool {
        !self.ttl.is_zero() && self.listening.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn tenant(id: i64) -> Tenant {
        Tenant {
            id: id.into(),
            subdomain: format!("t{id}"),
            name: "T".into(),
            lang: "en".into(),
            sms_enabled: true,
            outbound_sms_enabled: true,
            session_timeout_minutes: 60,
            rate_limit_per_second: 10,
            rate_limit_burst: 20,
            created_at: NaiveDateTime::default(),
            active: true,
            help_text: None,
            opt_out_text: None,
            opt_in_text: None,
            quiet_hours_start: None,
            quiet_hours_end: None,
            jwt_revoked_at: None,
        }
    }

    fn key(token: &str) -> CacheKey {
        CacheKey::Basic { subdomain: "t1".into(), token_hash: token.into() }
    }

    #[test]
    fn serves_what_was_filled_until_the_ttl() {
        let cache = AuthCache::new(Duration::from_millis(50), true);
        assert!(cache.get(&key("a")).is_none());
        let ticket = cache.ticket().expect("cache in use");
        cache.fill(ticket, key("a"), tenant(1));
        assert_eq!(cache.get(&key("a")).map(|t| t.id.get()), Some(1));
        assert!(cache.get(&key("b")).is_none());
        assert!(cache.get(&CacheKey::Jwt { subdomain: "t1".into() }).is_none());
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get(&key("a")).is_none());
    }

    #[test]
    fn a_change_empties_it_and_refuses_fills_begun_before() {
        let cache = AuthCache::new(Duration::from_secs(60), true);
        let before = cache.ticket().expect("cache in use");
        cache.fill(before, key("a"), tenant(1));
        cache.invalidate();
        assert!(cache.get(&key("a")).is_none());
        cache.fill(before, key("a"), tenant(1));
        assert!(cache.get(&key("a")).is_none(), "a read from before the change must not be cached");
        let after = cache.ticket().expect("cache in use");
        cache.fill(after, key("a"), tenant(1));
        assert!(cache.get(&key("a")).is_some());
    }

    #[test]
    fn not_used_while_changes_cannot_be_heard_or_with_no_ttl() {
        let deaf = AuthCache::new(Duration::from_secs(60), false);
        assert!(deaf.ticket().is_none());
        deaf.set_listening(true);
        let ticket = deaf.ticket().expect("listening now");
        deaf.fill(ticket, key("a"), tenant(1));
        assert!(deaf.get(&key("a")).is_some());
        deaf.set_listening(false);
        assert!(deaf.get(&key("a")).is_none());

        let off = AuthCache::new(Duration::ZERO, true);
        assert!(off.ticket().is_none());
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = AuthCache::new(Duration::from_secs(60), true);
        for i in 0..=MAX_ENTRIES {
            let ticket = cache.ticket().expect("cache in use");
            cache.fill(ticket, key(&i.to_string()), tenant(1));
        }
        assert!(cache.get(&key("0")).is_none());
        assert!(cache.get(&key(&MAX_ENTRIES.to_string())).is_some());
    }
}
