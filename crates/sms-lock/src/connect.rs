//! Where Redis is, and connections to it: one address (`REDIS_URL`), or a master found through
//! Redis Sentinel (`REDIS_SENTINELS`, `REDIS_SENTINEL_MASTER`) and found again after a failover.
//!
//! Each thread that sends commands has a [`ConnectionManager`] of its own, which reconnects by
//! itself: a multiplexed connection's I/O runs as a task on the runtime that first used it, and
//! one connection shared by every HTTP worker made the other workers' commands wait for that
//! worker's thread, behind whatever request it was running. Behind sentinels the master moves: a
//! connection that fails (dropped, refused, timed out, or answered `READONLY` by a master that was
//! demoted) drops every connection to that master, and the next command asks the sentinels for
//! the master again, checks with `ROLE` that it is one, and connects there. Until the sentinels
//! have promoted a replica the old address keeps failing, and requests that need Redis answer 503.

use std::sync::{Mutex, PoisonError};
use std::thread::ThreadId;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{ConnectionAddr, RedisError, RedisResult, ServerErrorKind};

use crate::LockError;

const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_millis(1000);

/// Where the service's Redis is.
#[derive(Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// `REDIS_URL`: one server, which never moves.
    Url(String),
    /// Redis Sentinel: the sentinels' addresses, the name they monitor the master under, the
    /// password of the master and replicas (`REDIS_PASSWORD`) and of the sentinels themselves
    /// (`REDIS_SENTINEL_PASSWORD`).
    Sentinel {
        sentinels: Vec<(String, u16)>,
        master: String,
        password: Option<String>,
        sentinel_password: Option<String>,
    },
}

impl std::fmt::Debug for RedisTarget {
    /// Never prints a password (a URL may hold one).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(_) => f.write_str("RedisTarget::Url(..)"),
            Self::Sentinel { sentinels, master, .. } => {
                f.debug_struct("RedisTarget::Sentinel").field("sentinels", sentinels).field("master", master).finish()
            }
        }
    }
}

impl RedisTarget {
    pub fn url(url: &str) -> Self {
        Self::Url(url.to_owned())
    }

    /// Reads `REDIS_SENTINELS`' list: `host:port` separated by commas (`[::1]:26379` for IPv6).
    pub fn parse_sentinels(list: &str) -> Result<Vec<(String, u16)>, String> {
        let mut sentinels = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let parsed = item.rsplit_once(':').and_then(|(host, port)| {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
                (!host.is_empty() && !host.contains(['/', '@', ' '])).then(|| (host.to_owned(), port))
            });
            match parsed {
                Some(sentinel) => sentinels.push(sentinel),
                None => return Err(format!("REDIS_SENTINELS: {item:?} is not host:port")),
            }
        }
        if sentinels.is_empty() {
            return Err("REDIS_SENTINELS names no sentinel".into());
        }
        Ok(sentinels)
    }
}

/// Connections to the target for one user (the lock, the limiter, a channel).
pub(crate) struct Connector {
    /// Behind sentinels: who names the master.
    sentinel: Option<tokio::sync::Mutex<SentinelClient>>,
    state: Mutex<State>,
}

struct State {
    /// The master in use; `None` behind sentinels until they are asked (again).
    master: Option<Master>,
    /// How many times the sentinels were asked.
    discoveries: u64,
}

/// A master and the connections to it, one per thread that sends commands (a handful: the HTTP
/// workers and the instance's main thread), each made on its thread's runtime.
struct Master {
    client: redis::Client,
    /// Which discovery found it (0 for a fixed address): a failure drops the master only if no
    /// later discovery replaced it.
    generation: u64,
    conns: Vec<(ThreadId, ConnectionManager)>,
}

impl Master {
    fn new(client: redis::Client, generation: u64) -> Self {
        Self { client, generation, conns: Vec::new() }
    }

    /// This thread's connection, made now if it has none (it connects on its first command).
    fn lease(&mut self) -> RedisResult<Lease> {
        let here = std::thread::current().id();
        let conn = match self.conns.iter().find(|(thread, _)| *thread == here) {
            Some((_, conn)) => conn.clone(),
            None => {
                let conn = ConnectionManager::new_lazy_with_config(self.client.clone(), manager_config())?;
                self.conns.push((here, conn.clone()));
                conn
            }
        };
        Ok(Lease { conn, generation: self.generation })
    }
}

/// A connection and the discovery its master came from (0 for a fixed address).
pub(crate) struct Lease {
    pub conn: ConnectionManager,
    generation: u64,
}

fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500))
}

impl Connector {
    /// Connects lazily: nothing is asked of Redis or the sentinels until the first command.
    pub(crate) fn new(target: &RedisTarget) -> Result<Self, LockError> {
        let config = |e: RedisError| LockError::Config(e.to_string());
        let (sentinel, master) = match target {
            RedisTarget::Url(url) => {
                let client = redis::Client::open(url.as_str()).map_err(config)?;
                (None, Some(Master::new(client, 0)))
            }
            RedisTarget::Sentinel { sentinels, master, password, sentinel_password } => {
                let addresses = sentinels.iter().map(|(host, port)| ConnectionAddr::Tcp(host.clone(), *port));
                let mut builder =
                    SentinelClientBuilder::new(addresses, master, SentinelServerType::Master).map_err(config)?;
                if let Some(password) = password {
                    builder = builder.set_client_to_redis_password(password);
                }
                if let Some(password) = sentinel_password {
                    builder = builder.set_client_to_sentinel_password(password);
                }
                (Some(tokio::sync::Mutex::new(builder.build().map_err(config)?)), None)
            }
        };
        Ok(Self { sentinel, state: Mutex::new(State { master, discoveries: 0 }) })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This thread's connection to the master: the one in use, or, behind sentinels after a
    /// failure, one to the master they name now.
    pub(crate) async fn lease(&self) -> RedisResult<Lease> {
        if let Some(master) = self.state().master.as_mut() {
            return master.lease();
        }
        let Some(sentinel) = &self.sentinel else { return Err(no_master()) };
        // One discovery at a time; whoever waited uses what the first one found.
        let mut sentinel = sentinel.lock().await;
        if let Some(master) = self.state().master.as_mut() {
            return master.lease();
        }
        let client = sentinel.async_get_client().await?;
        let mut state = self.state();
        state.discoveries += 1;
        let generation = state.discoveries;
        let lease = state.master.insert(Master::new(client, generation)).lease();
        drop(state);
        tracing::info!(generation, "connected to the Redis master the sentinels name");
        lease
    }

    /// A command on `lease` failed with `error` (`None`: it timed out). Behind sentinels, a
    /// failure that may mean the master moved drops every connection to it, so the next command
    /// looks the master up again.
    pub(crate) fn failed(&self, lease: &Lease, error: Option<&RedisError>) {
        if self.sentinel.is_none() || error.is_some_and(|e| !master_may_have_moved(e)) {
            return;
        }
        let mut state = self.state();
        if state.master.as_ref().is_some_and(|m| m.generation == lease.generation) {
            state.master = None;
            tracing::warn!("lost the Redis master; asking the sentinels again");
        }
    }

    /// A client for a connection of its own (a subscription), to the master as of now.
    pub(crate) async fn client(&self) -> RedisResult<redis::Client> {
        match &self.sentinel {
            None => self.state().master.as_ref().map(|m| m.client.clone()).ok_or_else(no_master),
            Some(sentinel) => sentinel.lock().await.async_get_client().await,
        }
    }
}

/// A fixed address always has its master; only the sentinels' may be unknown.
fn no_master() -> RedisError {
    RedisError::from((redis::ErrorKind::Client, "no Redis master known"))
}

/// A dropped or refused connection, or a demoted master's `READONLY`.
pub(crate) fn master_may_have_moved(e: &RedisError) -> bool {
    is_stale_connection(e)
        || e.is_connection_refusal()
        || e.is_timeout()
        || matches!(e.kind(), redis::ErrorKind::Server(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown))
}

/// The connection, not the command, failed: worth one more try on a fresh connection.
pub(crate) fn is_stale_connection(e: &RedisError) -> bool {
    e.is_connection_dropped() || e.is_io_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_lists_are_read() {
        assert_eq!(
            RedisTarget::parse_sentinels(" 10.0.0.1:26379, redis-1.redis:26380 ,[::1]:26381"),
            Ok(vec![("10.0.0.1".into(), 26379), ("redis-1.redis".into(), 26380), ("::1".into(), 26381)])
        );
        for bad in ["", " , ", "10.0.0.1", "10.0.0.1:0", "10.0.0.1:port", ":26379", "redis://a:26379"] {
            assert!(RedisTarget::parse_sentinels(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_target_never_prints_its_password() {
        let url = format!("{:?}", RedisTarget::url("redis://:hunter2@10.0.0.1:6379"));
        let sentinel = format!(
            "{:?}",
            RedisTarget::Sentinel {
                sentinels: vec![("10.0.0.1".into(), 26379)],
                master: "mymaster".into(),
                password: Some("hunter2".into()),
                sentinel_password: Some("hunter3".into()),
            }
        );
        assert!(!url.contains("hunter2") && !sentinel.contains("hunter"), "{url} {sentinel}");
    }
}
