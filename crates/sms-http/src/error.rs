//! The single JSON error envelope and the status mapping of every fault.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use sms_domain::{BodyError, SmsError};
use sms_service::{Realm, ServiceError};
use utoipa::ToSchema;

use crate::auth::{ADMIN_CHALLENGE, TENANT_CHALLENGE};

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
    /// The connection is closed after the answer (a body that never arrived).
    close: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let message = message.into();
        Self { status, message, chat_id: None, challenge: None, allow: None, retry_after: None, close: false }
    }

    /// 408: the body did not arrive in time; the connection is freed.
    pub fn body_timed_out() -> Self {
        Self { close: true, ..Self::new(StatusCode::REQUEST_TIMEOUT, "request body timed out") }
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
        Self::too_many("rate limit exceeded", retry_after)
    }

    fn too_many(message: &str, retry_after: std::time::Duration) -> Self {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        Self { retry_after: Some(seconds.max(1)), ..Self::new(StatusCode::TOO_MANY_REQUESTS, message) }
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
        if self.close {
            response.force_close();
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
        Self { chat_id: chat_id.map(i64::from), ..Self::bad_request(err.to_string()) }
    }
}

impl From<BodyError> for ApiError {
    fn from(err: BodyError) -> Self {
        Self::bad_request(err.to_string())
    }
}

impl From<sms_domain::admin::AdminInputError> for ApiError {
    fn from(err: sms_domain::admin::AdminInputError) -> Self {
        ServiceError::from(err).into()
    }
}

/// The one mapping of the workflows' faults to statuses. Server faults log their cause here,
/// once, and answer an opaque message.
impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Rejected(e) => e.into(),
            ServiceError::Body(e) => e.into(),
            ServiceError::Input(e) => Self::bad_request(e.to_string()),
            ServiceError::Invalid(message) => Self::bad_request(message),
            ServiceError::Missing(message) => Self::new(StatusCode::NOT_FOUND, message),
            ServiceError::Unauthorized { message, realm } => {
                let challenge = match realm {
                    Realm::Tenant => TENANT_CHALLENGE,
                    Realm::Admin => ADMIN_CHALLENGE,
                };
                Self::unauthorized(message, challenge)
            }
            ServiceError::Forbidden(message) => Self::forbidden(message),
            e @ ServiceError::BadSignature => Self::forbidden(e.to_string()),
            e @ ServiceError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, e.to_string()),
            ServiceError::Conflict(message) => Self::conflict(message),
            e @ ServiceError::Busy => Self::conflict(e.to_string()),
            e @ ServiceError::IdempotencyMismatch => Self::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
            ServiceError::RateLimited(retry_after) => Self::rate_limited(retry_after),
            e @ ServiceError::TooManyFailures(retry_after) => Self::too_many(&e.to_string(), retry_after),
            ServiceError::Unavailable(cause) => {
                tracing::warn!(%cause, "dependency unavailable");
                Self::unavailable()
            }
            e @ ServiceError::SignInFailed => Self::new(StatusCode::UNAUTHORIZED, e.to_string()),
            ServiceError::Internal(cause) => Self::internal(&cause),
        }
    }
}
