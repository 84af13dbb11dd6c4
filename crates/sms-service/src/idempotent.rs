//! `Idempotency-Key`: a request that creates something (a chat, a message) runs once per key.
//! The same key with the same body replays the first answer and creates nothing; with another
//! body it is refused; while the first request runs it is a conflict. The answer of a request
//! that created something is kept in the same transaction as what it created.

use std::future::Future;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use sms_domain::{BodyError, IdempotencyKey, TenantId};
use sms_store::idempotency::{self, Begin};
use sms_store::{DbConn, Tenant};

use crate::error::{Result, ServiceError};
use crate::Service;

/// How long an idempotent answer is kept.
const IDEMPOTENCY_TTL_HOURS: i64 = 24;
/// How long a running request holds its key; a request that died frees it after this. Longer
/// than any request can run (every wait in it is bounded: the pool's 2 s, the lock's 1.5 s, the
/// holder's 2 s), and short, because a retry of a request that died meanwhile answers 409 until
/// then. A request that outlives its lease cannot record an answer: it rolls back instead.
const IDEMPOTENCY_LEASE_SECS: i64 = 15;

/// An answer as the client receives it, kept under its `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub status: u16,
    pub body: String,
}

/// What a send with an `Idempotency-Key` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    pub answer: Remembered,
    /// The answer is the first request's, replayed; nothing was created.
    pub replayed: bool,
}

/// Renders an outcome as the client receives it (the HTTP crate's wire form and status).
pub type Render<T> = Arc<dyn Fn(std::result::Result<&T, &ServiceError>) -> Remembered + Send + Sync>;

/// A request's claim on its `Idempotency-Key`.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    tenant_id: TenantId,
    key: String,
    /// Known only to this request: the store lets only its holder finish or give up the key.
    lease: String,
}

impl Claim {
    fn lease(&self) -> idempotency::Lease<'_> {
        idempotency::Lease { tenant_id: self.tenant_id, key: &self.key, token: &self.lease }
    }
}

impl Service {
    /// Runs `work` once per `key` of the tenant. `scope` tells operations apart (a key used
    /// for a send and then for a reply is another body); `render` turns an outcome into the
    /// answer the client receives, which is what is kept. `work` gets the parsed body and the
    /// request's claim, and answers what it created with the answer it kept in the same
    /// transaction. A retryable outcome (a server fault, a consumer busy with another request)
    /// is answered as an error and not kept.
    pub(crate) async fn once<'a, T, F, Fut>(
        &self,
        tenant: &Tenant,
        key: &IdempotencyKey,
        scope: &str,
        body: &[u8],
        render: Render<T>,
        work: F,
    ) -> Result<SendOutcome>
    where
        F: FnOnce(std::result::Result<serde_json::Value, BodyError>, (Claim, Render<T>)) -> Fut,
        Fut: Future<Output = Result<(T, Option<Remembered>)>> + 'a,
    {
        let parsed = sms_domain::json::parse_value(body);
        let hash = request_hash(scope, parsed.as_ref().ok(), body);
        let claim = Claim {
            tenant_id: tenant.id,
            key: key.as_str().to_owned(),
            lease: hex::encode(rand::random::<[u8; 16]>()),
        };
        let (begun_claim, now) = (claim.clone(), self.now());
        let begun = self
            .db(move |conn| {
                let lease = now + chrono::Duration::seconds(IDEMPOTENCY_LEASE_SECS);
                let expires = now + chrono::Duration::hours(IDEMPOTENCY_TTL_HOURS);
                Ok(idempotency::begin(conn, begun_claim.lease(), &hash, now, lease, expires)?)
            })
            .await?;
        match begun {
            Begin::Replay { status, body } => {
                let status = u16::try_from(status).unwrap_or(200);
                return Ok(SendOutcome { answer: Remembered { status, body }, replayed: true });
            }
            Begin::Mismatch => return Err(ServiceError::IdempotencyMismatch),
            Begin::Running => {
                return Err(ServiceError::Conflict("a request with this Idempotency-Key is still in progress"))
            }
            Begin::Started => {}
        }
        let error = match work(parsed, (claim.clone(), render.clone())).await {
            Ok((_, Some(answer))) => return Ok(SendOutcome { answer, replayed: false }),
            Ok((_, None)) => return Err(ServiceError::Internal("a created resource kept no answer".into())),
            Err(e) => e,
        };
        if error.is_retryable() {
            let given_up = claim.clone();
            if let Err(e) = self.write(move |conn| Ok(idempotency::abandon(conn, given_up.lease())?)).await {
                tracing::warn!(error = %e, "could not give up an idempotency key; it frees itself when its lease ends");
            }
            return Err(error);
        }
        // Nothing was created: the refusal is kept on its own, and a crash before it is kept
        // only means the retry is refused again.
        let answer = render(Err(&error));
        let kept = answer.clone();
        let recorded = self
            .db(move |conn| Ok(idempotency::finish(conn, claim.lease(), i32::from(kept.status), &kept.body)?))
            .await;
        match recorded {
            Ok(true) => {}
            Ok(false) => tracing::warn!("an idempotency key was taken over before its refusal was kept"),
            Err(e) => tracing::warn!(error = %e, "could not record the idempotent answer; a retry runs again"),
        }
        Ok(SendOutcome { answer, replayed: false })
    }
}

/// Keeps `answer` under the request's key, in the caller's transaction. A lease taken over by
/// another request (this one outlived it) rolls the chat back: that request answers for the key.
pub(crate) fn keep(conn: &mut DbConn, claim: &Claim, answer: Remembered) -> Result<Remembered> {
    if idempotency::finish(conn, claim.lease(), i32::from(answer.status), &answer.body)? {
        Ok(answer)
    } else {
        Err(ServiceError::Conflict("a request with this Idempotency-Key is still in progress"))
    }
}

/// The body's identity: its JSON re-serialised with sorted keys (so spacing and key order do not
/// matter), or the raw bytes when it is not JSON; after the operation's scope, when it has one.
fn request_hash(scope: &str, parsed: Option<&serde_json::Value>, raw: &[u8]) -> String {
    let canonical = parsed.and_then(|v| serde_json::to_vec(v).ok());
    let mut hash = Sha256::new();
    if !scope.is_empty() {
        hash.update(scope.as_bytes());
        hash.update(b"\n");
    }
    hash.update(canonical.as_deref().unwrap_or(raw));
    hex::encode(hash.finalize())
}
