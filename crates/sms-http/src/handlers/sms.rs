//! `POST /apps/api/v1/sms`: the outbound SMS endpoint.

use actix_web::{post, web, HttpRequest, HttpResponse};
use sms_service::Service;

use sms_domain::SendSmsBody;

use super::{idempotency_key, remembered, render};

use crate::error::{ApiError, ErrorBody};
use crate::wire::chat::ChatObject;
use crate::{auth, body};

/// Sends an SMS to a consumer, opening a new chat.
///
/// Checks, first fault wins: credentials (401), the tenant's rate limit (429); body size (413),
/// content type (415), JSON (400); then, each answering 400, the faults in the order of the 400
/// examples below: the chat type, the tenant's switches, the end user's number, the outbound
/// number, the message and ticket, the agent, the opt-out, the tenant's quiet hours in the
/// consumer's local time, and last the one-active-session rule, whose answer carries the active
/// chat's `chat_id`. On success the chat and its first message are stored in one transaction and
/// the message is queued for delivery. Nothing is written on any fault.
#[utoipa::path(
    tag = "sms",
    request_body(content = SendSmsBody, content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key with the same body, within 24 hours, replays the first answer (marked `Idempotent-Replayed: true`) and creates nothing. 1 to 255 visible ASCII characters, per tenant.")),
    responses(
        (status = 200, description = "The chat was created.", body = ChatObject),
        (status = 400, description = "A fault of the request; the first in the order of the examples is reported.", body = ErrorBody),
        (status = 409, description = "A request with the same `Idempotency-Key` is still running.", body = ErrorBody, example = json!({"message": "a request with this Idempotency-Key is still in progress"})),
        (status = 422, description = "The `Idempotency-Key` was used with another body.", body = ErrorBody, example = json!({"message": "Idempotency-Key was already used with a different request body"})),
        (status = 429, description = "The tenant's rate limit; `Retry-After` says when to try again.", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds until a request is allowed.")), example = json!({"message": "rate limit exceeded"})),
        (status = 401, description = "Missing or wrong credentials.", body = ErrorBody, example = json!({"message": "authentication required"})),
        (status = 403, description = "An admin token on the tenant API.", body = ErrorBody, example = json!({"message": "an admin token cannot use the tenant API"})),
        (status = 413, description = "Body over 65536 bytes.", body = ErrorBody, example = json!({"message": "request body is larger than 65536 bytes"})),
        (status = 415, description = "Not application/json.", body = ErrorBody, example = json!({"message": "Content-Type must be application/json"})),
        (status = 503, description = "Database or session lock unreachable; nothing was written.", body = ErrorBody, example = json!({"message": "service unavailable"})),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[post("/apps/api/v1/sms")]
pub async fn send_sms(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let bytes = body::read_json_bytes(&req, payload).await?;
    let Some(key) = idempotency_key(&req)? else {
        let bundle = state.send(&tenant, &bytes).await?;
        return Ok(HttpResponse::Ok().json(ChatObject::from(&bundle)));
    };
    let outcome = state.send_once(&tenant, &key, &bytes, render(200, |b| ChatObject::from(b))).await?;
    Ok(remembered(outcome))
}
