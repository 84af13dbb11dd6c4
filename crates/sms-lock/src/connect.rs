//! Where Redis is, and connections to it: one address (`REDIS_URL`), or a master found through
//! Redis Sentinel (`REDIS_SENTINELS`, `REDIS_SENTINEL_MASTER`) and found again after a failover.
//!
//! With one address, each thread that sends commands has a [`ConnectionManager`] of its own,
//! which reconnects by itself: a multiplexed connection's I/O runs as a task on the runtime that
//! first used it, so one connection shared by every HTTP worker would make the other workers'
//! commands wait for that worker's thread, behind whatever request it is running. Behind sentinels the
//! master moves: a connection that fails (dropped, refused, timed out, or answered `READONLY` by
//! a master that was demoted) is dropped, and the next command asks the sentinels for the master
//! again, checks with `ROLE` that it is one, and connects there. Until the sentinels have
//! promoted a replica the old address keeps failing, and requests that need Redis answer 503.

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

/// Connections to the target for one user (the lock, the limiter, a channel): to a fixed
/// address, one per thread that sends commands; behind sentinels, one shared by every thread.
pub(crate) struct Connector {
    mode: Mode,
}

enum Mode {
    /// The connections, by the thread whose runtime runs their I/O (a handful: the HTTP workers
    /// and the instance's main thread).
    Fixed {
        client: redis::Client,
        conns: Mutex<Vec<(ThreadId, ConnectionManager)>>,
    },
    Sentinel {
        sentinel: tokio::sync::Mutex<SentinelClient>,
        current: Mutex<Option<Current>>,
    },
}

#[derive(Clone)]
struct Current {
    conn: ConnectionManager,
    /// Which discovery made it: a failure drops the connection only if no later one replaced it.
    generation: u64,
}

/// A connection and the discovery it came from (0 for a fixed address).
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
        let mode = match target {
            RedisTarget::Url(url) => {
                let client = redis::Client::open(url.as_str()).map_err(config)?;
                Mode::Fixed { client, conns: Mutex::new(Vec::new()) }
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
                Mode::Sentinel {
                    sentinel: tokio::sync::Mutex::new(builder.build().map_err(config)?),
                    current: Mutex::new(None),
                }
            }
        };
        Ok(Self { mode })
    }

    /// A connection to the master: the one in use, or, behind sentinels, a new one to the master
    /// they name now.
    pub(crate) async fn lease(&self) -> RedisResult<Lease> {
        match &self.mode {
            Mode::Fixed { client, conns } => {
                let here = std::thread::current().id();
                let mut conns = conns.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some((_, conn)) = conns.iter().find(|(thread, _)| *thread == here) {
                    return Ok(Lease { conn: conn.clone(), generation: 0 });
                }
                // Made here, on this thread's runtime, which runs its I/O once it connects.
                let conn = ConnectionManager::new_lazy_with_config(client.clone(), manager_config())?;
                conns.push((here, conn.clone()));
                Ok(Lease { conn, generation: 0 })
            }
            Mode::Sentinel { sentinel, current } => {
                if let Some(found) = read(current) {
                    return Ok(Lease { conn: found.conn, generation: found.generation });
                }
                // One discovery at a time; whoever waited uses what the first one found.
                let mut sentinel = sentinel.lock().await;
                if let Some(found) = read(current) {
                    return Ok(Lease { conn: found.conn, generation: found.generation });
                }
                let client = sentinel.async_get_client().await?;
                let conn = ConnectionManager::new_lazy_with_config(client, manager_config())?;
                let mut slot = current.lock().unwrap_or_else(PoisonError::into_inner);
                let generation = slot.as_ref().map_or(0, |c| c.generation) + 1;
                *slot = Some(Current { conn: conn.clone(), generation });
                drop(slot);
                tracing::info!(generation, "connected to the Redis master the sentinels name");
                Ok(Lease { conn, generation })
            }
        }
    }

    /// A command on `lease` failed with `error` (`None`: it timed out). Behind sentinels, a
    /// failure that may mean the master moved drops the connection, so the next command looks
    /// the master up again.
    pub(crate) fn failed(&self, lease: &Lease, error: Option<&RedisError>) {
        let Mode::Sentinel { current, .. } = &self.mode else { return };
        if error.is_some_and(|e| !master_may_have_moved(e)) {
            return;
        }
        let mut slot = current.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.as_ref().is_some_and(|c| c.generation == lease.generation) {
            *slot = None;
            tracing::warn!("lost the Redis master; asking the sentinels again");
        }
    }

    /// A client for a connection of its own (a subscription), to the master as of now.
    pub(crate) async fn client(&self) -> RedisResult<redis::Client> {
        match &self.mode {
            Mode::Fixed { client, .. } => Ok(client.clone()),
            Mode::Sentinel { sentinel, .. } => sentinel.lock().await.async_get_client().await,
        }
    }
}

fn read(current: &Mutex<Option<Current>>) -> Option<Current> {
    current.lock().unwrap_or_else(PoisonError::into_inner).clone()
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
