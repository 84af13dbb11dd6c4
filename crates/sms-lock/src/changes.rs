//! Change notices between instances: when a tenant's credentials or settings change, every
//! instance hears of it and drops what it cached about tenants.
//!
//! Over Redis publish/subscribe. A subscriber reports whether it is listening, so a cache that
//! relies on the notices can stop serving while it might miss one: Redis does not keep a
//! message for a subscriber that was away.

use std::time::Duration;

use futures_util::StreamExt;

use crate::{LockError, RedisLock, RedisTarget};

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

/// What a listener of a [`RedisChannel`] hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Subscribed: from now on every message is heard; any sent while away was missed.
    Listening,
    /// A message's payload.
    Message(String),
    /// The subscription is gone; messages may be missed until the next `Listening`.
    Lost,
}

/// A publish/subscribe channel on the lock's Redis (`{prefix}{name}`): every subscribed
/// instance hears what any instance publishes.
pub struct RedisChannel {
    redis: RedisLock,
    channel: String,
}

impl RedisChannel {
    pub fn new(target: &RedisTarget, prefix: &str, name: &str) -> Result<Self, LockError> {
        Ok(Self { redis: RedisLock::new(target, prefix)?, channel: format!("{prefix}{name}") })
    }

    /// Tells every subscribed instance `payload`.
    pub async fn publish(&self, payload: &str) -> Result<(), LockError> {
        let channel = self.channel.clone();
        let payload = payload.to_owned();
        let _receivers: i64 = self
            .redis
            .run(|mut conn| {
                let mut cmd = redis::cmd("PUBLISH");
                cmd.arg(&channel).arg(&payload);
                async move { cmd.query_async(&mut conn).await }
            })
            .await?;
        Ok(())
    }

    /// Subscribes and reports what it hears to `on_heard`, resubscribing after every loss,
    /// for as long as the returned future runs (spawn it).
    pub async fn listen(&self, on_heard: impl Fn(Heard)) {
        let mut retry = RETRY_FIRST;
        loop {
            match tokio::time::timeout(SUBSCRIBE_TIMEOUT, self.subscribe()).await {
                Ok(Ok(mut pubsub)) => {
                    retry = RETRY_FIRST;
                    on_heard(Heard::Listening);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        on_heard(Heard::Message(message.get_payload::<String>().unwrap_or_default()));
                    }
                    on_heard(Heard::Lost);
                    tracing::warn!(channel = %self.channel, "lost a Redis subscription; resubscribing");
                }
                Ok(Err(e)) => tracing::debug!(error = %e, channel = %self.channel, "cannot subscribe yet"),
                Err(_) => tracing::debug!(channel = %self.channel, "subscribing timed out"),
            }
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(RETRY_MAX);
        }
    }

    async fn subscribe(&self) -> redis::RedisResult<redis::aio::PubSub> {
        let mut pubsub = self.redis.client().await?.get_async_pubsub().await?;
        pubsub.subscribe(&self.channel).await?;
        Ok(pubsub)
    }
}

/// The tenant change channel (`{prefix}tenant-changes`).
pub struct RedisChangeFeed(RedisChannel);

impl RedisChangeFeed {
    pub fn new(target: &RedisTarget, prefix: &str) -> Result<Self, LockError> {
        Ok(Self(RedisChannel::new(target, prefix, "tenant-changes")?))
    }

    /// Tells every subscribed instance that tenants changed.
    pub async fn publish(&self) -> Result<(), LockError> {
        self.0.publish("tenants").await
    }

    /// Subscribes and reports what it hears to `on_notice`, resubscribing after every loss,
    /// for as long as the returned future runs (spawn it).
    pub async fn listen(&self, on_notice: impl Fn(Notice)) {
        self.0
            .listen(|heard| {
                on_notice(match heard {
                    Heard::Listening => Notice::Listening,
                    Heard::Message(_) => Notice::Changed,
                    Heard::Lost => Notice::Lost,
                })
            })
            .await
    }
}
