//! The session-lock side of the one-active-session rule: taking the lock before a chat is
//! written, and freeing it when a chat ends.

use std::time::{Duration, Instant};

use sms_domain::time::now_millis;
use sms_domain::{E164Number, SmsError};
use sms_lock::{LockGuard, LockKey, LockToken};
use sms_store::chats::{self, EndedChat};

use crate::error::ApiError;
use crate::state::AppState;

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

/// One attempt at the consumer's session lock: the guard, or `None` when someone holds it.
pub async fn try_acquire(state: &AppState, tenant_id: i64, number: &E164Number) -> Result<Option<LockGuard>, ApiError> {
    let key = LockKey::new(tenant_id, number.as_str());
    let acquired = state.lock.acquire(&key, state.pending_ttl).await.inspect_err(|_| {
        metrics::counter!("sms_session_lock_total", "outcome" => "error").increment(1);
    })?;
    Ok(acquired.map(|token| {
        metrics::counter!("sms_session_lock_total", "outcome" => "acquired").increment(1);
        LockGuard::new(state.lock.clone(), key, token)
    }))
}

/// Takes the consumer's session lock, or answers row 12.
///
/// When the lock is held: by a live chat → row 12 with its id; by a chat past its timeout that
/// nobody ended yet → end it, free its lock and try again; by a request still creating its chat
/// → wait for it a little, then report its chat (or, if it failed, take the lock).
pub async fn acquire(state: &AppState, tenant_id: i64, number: &E164Number) -> Result<LockGuard, ApiError> {
    let deadline = Instant::now() + WAIT_FOR_HOLDER;
    loop {
        if let Some(guard) = try_acquire(state, tenant_id, number).await? {
            return Ok(guard);
        }
        metrics::counter!("sms_session_lock_total", "outcome" => "busy").increment(1);
        let lookup = number.clone();
        let active = state.db(move |conn| Ok(chats::active_chat(conn, tenant_id, &lookup)?)).await?;
        match active {
            Some(chat) if chat.expires_at > now_millis() => {
                return Err(SmsError::ActiveSession { chat_id: Some(chat.id) }.into());
            }
            Some(chat) => {
                let ended = state.db(move |conn| Ok(chats::expire_if_idle(conn, &chat, now_millis())?)).await?;
                if let Some(ended) = ended {
                    release_ended(state, &ended).await;
                }
            }
            None if Instant::now() >= deadline => {
                return Err(SmsError::ActiveSession { chat_id: None }.into());
            }
            None => tokio::time::sleep(POLL_EVERY).await,
        }
    }
}

/// Frees the lock of a chat that has ended, as its owner.
pub async fn release_ended(state: &AppState, ended: &EndedChat) {
    let Some(token) = ended.lock_token.clone() else { return };
    let key = LockKey::new(ended.tenant_id, &ended.end_user_number);
    if let Err(e) = state.lock.release(&key, &LockToken::from_stored(token)).await {
        tracing::warn!(chat_id = ended.chat_id, error = %e, "could not release the lock of an ended chat; it will expire");
    }
}

/// Ends every chat past its timeout and frees its lock, and forgets expired idempotency keys. Safe to run in every instance at once:
/// each chat is ended by exactly one of them. Answers how many chats this call ended.
pub async fn sweep_once(state: &AppState) -> Result<usize, ApiError> {
    let ended = state.db(|conn| Ok(chats::expire_idle(conn, now_millis(), 500)?)).await?;
    let purged = state.db(|conn| Ok(sms_store::idempotency::purge_expired(conn, now_millis())?)).await?;
    if purged > 0 {
        tracing::info!(count = purged, "purged expired idempotency keys");
    }
    for chat in &ended {
        release_ended(state, chat).await;
    }
    if !ended.is_empty() {
        tracing::info!(count = ended.len(), "ended idle chats");
    }
    Ok(ended.len())
}
