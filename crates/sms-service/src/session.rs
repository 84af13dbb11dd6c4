//! The session-lock side of the one-active-session rule: taking the consumer's lock before a
//! chat is written, and freeing it when a chat ends.

use std::time::{Duration, Instant};

use sms_domain::{E164Number, SmsError, TenantId};
use sms_lock::{LockGuard, LockKey, LockToken};
use sms_store::chats;
use sms_store::Chat;

use crate::error::{Result, ServiceError};
use crate::life::{self, AfterCommit};
use crate::Service;

/// How long a freshly taken lock lives before its chat is committed, by default. Short, so a
/// lock whose request died half-way (a killed process) frees the consumer soon; refreshed to
/// the full session lifetime once the chat exists.
pub const PENDING_TTL: Duration = Duration::from_secs(30);
/// Added to the session timeout so the lock outlives its chat's timeout until the chat is
/// ended and the lock released explicitly.
pub const TTL_MARGIN: Duration = Duration::from_secs(300);
/// How long a request waits for another request that holds the consumer's lock but has not
/// committed its chat yet.
const WAIT_FOR_HOLDER: Duration = Duration::from_secs(2);
const POLL_EVERY: Duration = Duration::from_millis(20);

/// The lock's lifetime for a chat of a tenant with this session timeout.
pub fn session_ttl(session_timeout_minutes: i32) -> Duration {
    Duration::from_secs(u64::try_from(session_timeout_minutes.max(1)).unwrap_or(1) * 60) + TTL_MARGIN
}

/// Event deliveries purged by one write of the sweep at most.
const PURGE_AT_ONCE: usize = 500;

impl Service {
    /// One attempt at the consumer's session lock: the guard, or `None` when someone holds it.
    pub(crate) async fn try_lock(&self, tenant_id: TenantId, number: &E164Number) -> Result<Option<LockGuard>> {
        let key = LockKey::new(tenant_id.get(), number.as_str());
        let lock = &self.inner.lock;
        let acquired = lock.acquire(&key, self.inner.pending_ttl).await.inspect_err(|_| {
            metrics::counter!("sms_session_lock_total", "outcome" => "error").increment(1);
        })?;
        Ok(acquired.map(|token| {
            metrics::counter!("sms_session_lock_total", "outcome" => "acquired").increment(1);
            LockGuard::new(lock.clone(), key, token)
        }))
    }

    /// Takes the consumer's session lock, or answers why not. A lock never outlives its
    /// reason: when it is held,
    /// - by the consumer's active chat: the active-session fault, naming the chat;
    /// - by an active chat past its timeout that nobody ended yet: end it, free its lock, retry;
    /// - by a chat that has ended (its release was lost, say while Redis was away, and Redis
    ///   came back with the key): take it over at once;
    /// - by a request still creating its chat: wait for it (up to 2 s), then answer its chat,
    ///   take the lock if it failed, or answer that the consumer is busy. A request that died
    ///   holding it frees it when the lock's pending lifetime ends.
    pub(crate) async fn lock(&self, tenant_id: TenantId, number: &E164Number) -> Result<LockGuard> {
        let deadline = Instant::now() + WAIT_FOR_HOLDER;
        let key = LockKey::new(tenant_id.get(), number.as_str());
        loop {
            if let Some(guard) = self.try_lock(tenant_id, number).await? {
                return Ok(guard);
            }
            metrics::counter!("sms_session_lock_total", "outcome" => "busy").increment(1);
            let lookup = number.clone();
            let active = self.db(move |conn| Ok(chats::active_chat(conn, tenant_id, &lookup)?)).await?;
            match active {
                Some(chat) if chat.expires_at > self.now() => {
                    return Err(SmsError::ActiveSession { chat_id: Some(chat.id) }.into());
                }
                Some(chat) => self.expire(chat).await?,
                None => {
                    let Some(holder) = self.inner.lock.holder(&key).await? else { continue };
                    let (lookup, held) = (number.clone(), holder.as_str().to_owned());
                    let owner = self.db(move |conn| Ok(chats::lock_owner(conn, tenant_id, &lookup, &held)?)).await?;
                    if owner.is_some_and(|chat| !chat.status.is_active()) {
                        metrics::counter!("sms_session_lock_total", "outcome" => "taken_over").increment(1);
                        let lock = &self.inner.lock;
                        if let Some(token) = lock.take_over(&key, &holder, self.inner.pending_ttl).await? {
                            tracing::info!("took over the session lock of an ended chat");
                            return Ok(LockGuard::new(lock.clone(), key, token));
                        }
                    } else if Instant::now() >= deadline {
                        return Err(ServiceError::Busy);
                    } else {
                        tokio::time::sleep(POLL_EVERY).await;
                    }
                }
            }
        }
    }

    /// Ends a chat found past its timeout (if nobody else did) and frees its lock.
    async fn expire(&self, chat: Chat) -> Result<()> {
        let now = self.now();
        self.write(move |conn| Ok(life::expire(conn, &chat, now)?)).await?.run(self).await;
        Ok(())
    }

    /// The chat's activity moved its timeout on: its session lock's moves with it. Off the
    /// answer's path, as after a send: the activity is committed, a failed refresh changes
    /// nothing for the caller (the database still guards the session), and one that runs after
    /// the chat ended finds the lock released, or another chat's token on it, and does nothing.
    /// On a loaded machine the round trip to Redis was one more wake-up in every reply's time.
    pub(crate) fn refresh_lock(&self, chat: &Chat, end_user_number: &E164Number, session_timeout_minutes: i32) {
        let Some(token) = chat.lock_token.clone() else { return };
        let key = LockKey::new(chat.tenant_id.get(), end_user_number.as_str());
        let ttl = session_ttl(session_timeout_minutes);
        let (lock, chat_id) = (self.inner.lock.clone(), chat.id.get());
        tokio::spawn(async move {
            if let Err(e) = lock.refresh(&key, &LockToken::from_stored(token), ttl).await {
                tracing::warn!(chat_id, error = %e, "could not refresh the session lock");
            }
        });
    }

    /// Ends every chat past its timeout and frees its lock, forgets expired idempotency keys,
    /// replies kept aside past their retention, event deliveries that ended long ago and idle
    /// console sessions. Safe to run in every instance at once:
    /// each chat is ended by exactly one of them. Answers how many chats this call ended.
    ///
    /// Every change is a write like a request's ([`Service::write`]): on SQLite it queues for
    /// the store's writer among the requests' writes. Run beside it, each purge took SQLite's
    /// write lock on a connection of its own, and the writer, finding it taken, slept in
    /// SQLite's busy handler (1, 2, 5, 10, 15, 20 ms…): every sweep stalled every write for 33
    /// to 54 ms (BENCHMARKS.md). A chat is ended in a write of its own, so one chat's fault
    /// leaves the others ended; deliveries are purged [`PURGE_AT_ONCE`] at a time, so a large
    /// purge never holds the writer for long.
    pub async fn sweep_once(&self) -> Result<usize> {
        let now = self.now();
        let due = self.db(move |conn| Ok(chats::due_to_expire(conn, now, 500)?)).await?;
        let mut ended = AfterCommit::nothing();
        for chat in due {
            ended = ended.and(self.write(move |conn| Ok(life::expire(conn, &chat, now)?)).await?);
        }
        let purged = self.write(move |conn| Ok(sms_store::idempotency::purge_expired(conn, now)?)).await?;
        if purged > 0 {
            tracing::info!(count = purged, "purged expired idempotency keys");
        }
        let before = now - self.inner.unrouted_retention;
        let purged = self.write(move |conn| Ok(sms_store::inbound::purge_unrouted(conn, before)?)).await?;
        if purged > 0 {
            tracing::info!(count = purged, "purged replies kept aside past their retention");
        }
        let before = now - self.inner.unrouted_retention;
        self.write(move |conn| Ok(sms_store::receipts::purge(conn, before)?)).await?;
        let before = now - chrono::Duration::days(crate::EVENT_RETENTION_DAYS);
        let mut purged = 0;
        loop {
            let (deliveries, events) =
                self.write(move |conn| Ok(sms_store::deliveries::purge_finished(conn, before, PURGE_AT_ONCE)?)).await?;
            purged += deliveries;
            if deliveries < PURGE_AT_ONCE && events < PURGE_AT_ONCE {
                break;
            }
        }
        if purged > 0 {
            tracing::info!(count = purged, "purged event deliveries past their retention");
        }
        self.purge_console_sessions().await?;
        let count = ended.chats_ended();
        ended.run(self).await;
        if count > 0 {
            tracing::info!(count, "ended idle chats");
        }
        Ok(count)
    }
}
