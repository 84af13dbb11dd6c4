//! The HTTP handlers, one module per area.

pub mod admin;
pub mod chats;
pub mod manager;
pub mod ops;
pub mod platform;
pub mod sms;
pub mod webhooks;

use sms_domain::IdempotencyKey;

use crate::error::ApiError;

/// The query string as `T` (the paging of every list, the chat list's filters): a malformed
/// query answers 400.
pub(crate) fn query<T: serde::de::DeserializeOwned>(req: &actix_web::HttpRequest) -> Result<T, ApiError> {
    actix_web::web::Query::<T>::from_query(req.query_string())
        .map(actix_web::web::Query::into_inner)
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))
}

/// A page of a list in its wire form, with the total over all pages.
pub(crate) fn page<'a, R, W: serde::Serialize>(
    (records, total): &'a (Vec<R>, i64),
    wire: impl Fn(&'a R) -> W,
) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .insert_header(("X-Total-Count", total.to_string()))
        .json(records.iter().map(wire).collect::<Vec<_>>())
}

/// The id a path segment names; anything but an integer names no resource: 404 `{what} not
/// found`, as a missing one.
pub(crate) fn path_id<T: std::str::FromStr>(raw: &str, what: &'static str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::from(sms_service::ServiceError::NotFound(what)))
}

/// The request's `Idempotency-Key`, if it sent one; one that is not a valid key answers 400.
pub(crate) fn idempotency_key(req: &actix_web::HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    req.headers()
        .get("Idempotency-Key")
        .map(|value| IdempotencyKey::parse(value.as_bytes()).map_err(|e| ApiError::bad_request(e.to_string())))
        .transpose()
}

/// How an outcome of an idempotent request is kept: `success` and the wire form of what was
/// created, or the error as the client receives it.
pub(crate) fn render<T: 'static, W: serde::Serialize + 'static>(
    success: u16,
    wire: fn(&T) -> W,
) -> sms_service::Render<T> {
    use actix_web::ResponseError;
    std::sync::Arc::new(move |outcome| match outcome {
        Ok(created) => {
            sms_service::Remembered { status: success, body: serde_json::to_string(&wire(created)).unwrap_or_default() }
        }
        Err(e) => {
            let error = crate::error::ApiError::from(e.clone());
            sms_service::Remembered { status: error.status_code().as_u16(), body: error.body_json() }
        }
    })
}

/// The answer of an idempotent request, marked `Idempotent-Replayed: true` when it is the first
/// request's, replayed.
pub(crate) fn remembered(outcome: sms_service::SendOutcome) -> actix_web::HttpResponse {
    use actix_web::http::StatusCode;
    let status = StatusCode::from_u16(outcome.answer.status).unwrap_or(StatusCode::OK);
    let mut response = actix_web::HttpResponse::build(status);
    response.content_type("application/json");
    if outcome.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response.body(outcome.answer.body)
}
