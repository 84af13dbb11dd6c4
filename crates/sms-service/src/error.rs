//! The faults of the workflows. No transport here: the HTTP crate maps each to a status and the
//! JSON envelope, in one place.

use std::time::Duration;

use sms_domain::admin::AdminInputError;
use sms_domain::{BodyError, SmsError};
use sms_lock::LockError;
use sms_store::{Fault, StoreError};

/// Which API a credential was refused for (they challenge differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Realm {
    Tenant,
    Admin,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    /// A fault of a send the contract names, with its exact message (the active-session fault
    /// carries the chat's id).
    #[error(transparent)]
    Rejected(SmsError),
    /// The body is not the JSON the operation takes.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// An admin's input is invalid.
    #[error(transparent)]
    Input(#[from] AdminInputError),
    /// Any other invalid input (a query parameter, a header, a callback form).
    #[error("{0}")]
    Invalid(String),
    /// Missing or wrong credentials.
    #[error("{message}")]
    Unauthorized { message: &'static str, realm: Realm },
    /// Valid credentials without the right to this API.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A provider callback whose signature does not check out.
    #[error("invalid signature")]
    BadSignature,
    /// The resource does not exist for this caller (another tenant's answers the same).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Something a request names does not exist, with the exact message the contract gives
    /// (an inbound callback's `To` that is not the tenant's: `outbound_number is not found`).
    #[error("{0}")]
    Missing(&'static str),
    /// The resource is not in a state that allows the operation, or a unique value is taken.
    #[error("{0}")]
    Conflict(&'static str),
    /// Another request for the same consumer holds the session lock and has not committed a
    /// chat: retryable, and never remembered under an `Idempotency-Key`.
    #[error("another request for this consumer is in progress")]
    Busy,
    /// An `Idempotency-Key` was used with another request body.
    #[error("Idempotency-Key was already used with a different request body")]
    IdempotencyMismatch,
    /// Over the tenant's rate limit; a request is allowed again after this long.
    #[error("rate limit exceeded")]
    RateLimited(Duration),
    /// The client's address failed authentication too often this minute; it is heard again
    /// after this long.
    #[error("too many failed attempts")]
    TooManyFailures(Duration),
    /// A console sign-in failed; the page says only that, whatever was wrong.
    #[error("Sign-in failed")]
    SignInFailed,
    /// The database or the session lock cannot be reached; nothing was written.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A fault of the service's own.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

impl ServiceError {
    pub fn tenant_unauthorized(message: &'static str) -> Self {
        Self::Unauthorized { message, realm: Realm::Tenant }
    }

    pub fn admin_unauthorized(message: &'static str) -> Self {
        Self::Unauthorized { message, realm: Realm::Admin }
    }

    /// Whether the fault is the server's.
    pub fn is_server_fault(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Internal(_))
    }

    /// Whether a retry may get another answer, so the answer is not kept under an
    /// `Idempotency-Key`: a server fault, or a consumer busy with another request.
    pub fn is_retryable(&self) -> bool {
        self.is_server_fault() || matches!(self, Self::Busy)
    }
}

impl From<SmsError> for ServiceError {
    fn from(err: SmsError) -> Self {
        Self::Rejected(err)
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(cause) => Self::Unavailable(format!("database: {cause}")),
            StoreError::ActiveChat { chat_id } => Self::Rejected(SmsError::ActiveSession { chat_id }),
            StoreError::Conflict => Self::Conflict("conflict with an existing resource"),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<sms_domain::UnsupportedMessageType> for ServiceError {
    fn from(err: sms_domain::UnsupportedMessageType) -> Self {
        Self::Invalid(err.to_string())
    }
}

impl From<LockError> for ServiceError {
    fn from(err: LockError) -> Self {
        Self::Unavailable(err.to_string())
    }
}

impl From<sms_agents::LookupError> for ServiceError {
    fn from(err: sms_agents::LookupError) -> Self {
        match err {
            sms_agents::LookupError::Rejected(e) => e.into(),
            sms_agents::LookupError::Store(e) => e.into(),
        }
    }
}

/// A connection that failed with one of these may be dead; a refusal leaves it as good as
/// before.
impl Fault for ServiceError {
    fn connection_fault(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Internal(_))
    }
}

/// Maps a unique-constraint refusal to a conflict named for what was duplicated.
pub(crate) fn conflict_as(message: &'static str) -> impl Fn(StoreError) -> ServiceError {
    move |e| match e {
        StoreError::Conflict => ServiceError::Conflict(message),
        other => other.into(),
    }
}
