//! Change notices between instances: when a tenant's credentials or settings change, every
//! instance hears of it and drops what it cached about tenants.
//!
//! Over Redis publish/subscribe. A subscriber reports whether it is listening, so a cache that
//! relies on the notices can stop serving while it might miss one: Redis does not keep a
//! message for a subscriber that was away.

use std::time::Duration;

use futures_util::StreamExt;

use crate::{LockError, RedisLock};

/// What a listener hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Subscribed: from now on every change is heard. Anything cached before may be stale.
    Listening,
    /// Some tenant changed.
    Changed,
    /// The subscription is gone; changes may be missed until the next `Listening`.
    Lost,
}

const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(2);
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// The change channel on the lock's Redis (`{prefix}tenant-changes`).
pub struct RedisChangeFeed {
    redis: RedisLock,
    channel: String,
}

impl RedisChangeFeed {
    pub fn new(url: &str, prefix: &str) -> Result<Self, LockError> {
        Ok(Self { redis: RedisLock::new(url, prefix)?, channel: format!("{prefix}tenant-changes") })
    }

    /// Tells every subscribed instance that tenants changed.
    pub async fn publish(&self) -> Result<(), LockError> {
        let channel = self.channel.clone();
        let _receivers: i64 = self
            .redis
            .run(|mut conn| {
                let mut cmd = redis::cmd("PUBLISH");
                cmd.arg(&channel).arg("tenants");
                async move { cmd.query_async(&mut conn).await }
            })
            .await?;
        Ok(())
    }

    /// Subscribes and reports what it hears to `on_notice`, resubscribing after every loss,
    /// for as long as the returned future runs (spawn it).
    pub async fn listen(&self, on_notice: impl Fn(Notice)) {
        let mut retry = RETRY_FIRST;
        loop {
            match tokio::time::timeout(SUBSCRIBE_TIMEOUT, self.subscribe()).await {
                Ok(Ok(mut pubsub)) => {
                    retry = RETRY_FIRST;
                    on_notice(Notice::Listening);
                    let mut messages = pubsub.on_message();
                    while messages.next().await.is_some() {
                        on_notice(Notice::Changed);
                    }
                    on_notice(Notice::Lost);
                    tracing::warn!("lost the tenant change subscription; resubscribing");
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "cannot subscribe to tenant changes yet"),
                Err(_) => tracing::debug!("subscribing to tenant changes timed out"),
            }
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(RETRY_MAX);
        }
    }

    async fn subscribe(&self) -> redis::RedisResult<redis::aio::PubSub> {
        let mut pubsub = self.redis.client().get_async_pubsub().await?;
        pubsub.subscribe(&self.channel).await?;
        Ok(pubsub)
    }
}
