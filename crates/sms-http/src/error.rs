//! The single JSON error envelope and the status mapping of every fault.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use sms_domain::{BodyError, SmsError};
use sms_lock::LockError;
use sms_store::StoreError;
use utoipa::ToSchema;

/// Every error of every endpoint answers this body.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"message": "outbound_number is not found"}))]
pub struct ErrorBody {
    /// What went wrong, for people and for clients that match on it.
    pub message: String,
    /// Row 12 only: the id of the consumer's active chat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<i64>,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    chat_id: Option<i64>,
    challenge: Option<&'static str>,
    allow: Option<String>,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), chat_id: None, challenge: None, allow: None, retry_after: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 401 with a `WWW-Authenticate` challenge naming the accepted scheme(s).
    pub fn unauthorized(message: impl Into<String>, challenge: &'static str) -> Self {
        Self { challenge: Some(challenge), ..Self::new(StatusCode::UNAUTHORIZED, message) }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn method_not_allowed(allow: String) -> Self {
        Self { allow: Some(allow), ..Self::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed") }
    }

    /// 429 with `Retry-After` in whole seconds (at least 1).
    pub fn rate_limited(retry_after: std::time::Duration) -> Self {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        Self { retry_after: Some(seconds.max(1)), ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded") }
    }

    pub fn unavailable() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "service unavailable")
    }

    /// An internal fault: the cause is logged here, once; the client sees an opaque message.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The envelope as JSON text, as the response carries it.
    pub fn body_json(&self) -> String {
        serde_json::to_string(&ErrorBody { message: self.message.clone(), chat_id: self.chat_id }).unwrap_or_default()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(challenge) = self.challenge {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge)));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if let Some(allow) = &self.allow {
            if let Ok(value) = HeaderValue::from_str(allow) {
                response.insert_header((header::ALLOW, value));
            }
        }
        response.json(ErrorBody { message: self.message.clone(), chat_id: self.chat_id })
    }
}

impl From<SmsError> for ApiError {
    fn from(err: SmsError) -> Self {
        let chat_id = match &err {
            SmsError::ActiveSession { chat_id } => *chat_id,
            _ => None,
        };
        Self { chat_id, ..Self::bad_request(err.to_string()) }
    }
}

impl From<BodyError> for ApiError {
    fn from(err: BodyError) -> Self {
        Self::bad_request(err.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                Self::unavailable()
            }
            StoreError::ActiveChat { chat_id } => SmsError::ActiveSession { chat_id }.into(),
            StoreError::Conflict => Self::conflict("conflict with an existing resource"),
            other => Self::internal(&other),
        }
    }
}

impl From<LockError> for ApiError {
    fn from(err: LockError) -> Self {
        tracing::warn!(error = %err, "session lock unavailable");
        Self::unavailable()
    }
}

impl From<sms_agents::LookupError> for ApiError {
    fn from(err: sms_agents::LookupError) -> Self {
        match err {
            sms_agents::LookupError::Rejected(e) => e.into(),
            sms_agents::LookupError::Store(e) => e.into(),
        }
    }
}
