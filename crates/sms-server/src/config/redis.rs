//! Where Redis is: `REDIS_URL`, or the Sentinel variables of section 15.

use sms_domain::Secret;

use super::var;
use crate::StartupError;

/// Redis behind Redis Sentinel (section 15 of the SPEC).
#[derive(Clone)]
pub struct SentinelConfig {
    pub sentinels: Vec<(String, u16)>,
    pub master: String,
    pub password: Option<Secret>,
    pub sentinel_password: Option<Secret>,
}

impl std::fmt::Debug for SentinelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelConfig").field("sentinels", &self.sentinels).field("master", &self.master).finish()
    }
}

impl SentinelConfig {
    /// Reads the Sentinel variables. Either of the two that name the master without the other,
    /// a password without them, or `REDIS_URL` beside them stops the server, naming them: a pod
    /// left on the in-process lock beside its siblings would rest the one-session rule on the
    /// database's index alone.
    pub(super) fn from_env() -> Result<Option<Self>, StartupError> {
        let refuse = |why: &str| Err(StartupError::Config(why.to_owned()));
        let (sentinels, master) = (var("REDIS_SENTINELS"), var("REDIS_SENTINEL_MASTER"));
        let password = std::env::var("REDIS_PASSWORD").ok().filter(|p| !p.is_empty());
        let sentinel_password = std::env::var("REDIS_SENTINEL_PASSWORD").ok().filter(|p| !p.is_empty());
        match (sentinels, master) {
            (None, None) if password.is_some() || sentinel_password.is_some() => refuse(
                "REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD go with REDIS_SENTINELS; with REDIS_URL, put the password \
                 in the URL (redis://:password@host:6379)",
            ),
            (None, None) => Ok(None),
            (Some(_), Some(_)) if var("REDIS_URL").is_some() => {
                refuse("REDIS_URL and REDIS_SENTINELS are both set: set one of them")
            }
            (Some(list), Some(master)) => Ok(Some(Self {
                sentinels: sms_lock::RedisTarget::parse_sentinels(&list).map_err(StartupError::Config)?,
                master,
                password: password.map(Secret::from),
                sentinel_password: sentinel_password.map(Secret::from),
            })),
            (Some(_), None) => refuse("REDIS_SENTINELS is set without REDIS_SENTINEL_MASTER (the master's name)"),
            (None, Some(_)) => {
                refuse("REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS (the sentinels' host:port)")
            }
        }
    }
}

impl super::Config {
    /// Where Redis is, if anywhere.
    pub fn redis_target(&self) -> Option<sms_lock::RedisTarget> {
        if let Some(s) = &self.redis_sentinel {
            return Some(sms_lock::RedisTarget::Sentinel {
                sentinels: s.sentinels.clone(),
                master: s.master.clone(),
                password: s.password.as_ref().map(|p| p.expose().to_owned()),
                sentinel_password: s.sentinel_password.as_ref().map(|p| p.expose().to_owned()),
            });
        }
        self.redis_url.as_deref().map(sms_lock::RedisTarget::url)
    }
}
