//! The platform's own Apps API routes for a chat (SPEC section 13.1): each is its twin of
//! section 5 or 10 in the platform's shape, one call into the same workflow.

use actix_web::{patch, post, web, HttpRequest, HttpResponse};
use sms_domain::{ChatId, ChatMessageBody, ChatUpdateBody, DisconnectedBy};
use sms_service::Service;

use super::{idempotency_key, path_id, remembered, render};
use crate::error::{ApiError, ErrorBody};
use crate::wire::chat::{ChatObject, MessageObject};
use crate::{auth, body};

/// Updates a chat: the platform's "Update a chat". Only finishing it is supported.
///
/// `{"chat": {"status": "finished"}}` ends the chat as `POST /apps/api/v1/chats/{id}/end`
/// does, `disconnected_by_agent`; `finished_by_user_id`, when sent, must be an agent of the
/// tenant. The platform's other keys of `chat` (`escalation_id`, `deflection_channel`) are
/// accepted and ignored.
#[utoipa::path(
    tag = "platform",
    params(("id" = i64, Path, description = "The chat's id.")),
    request_body(content = ChatUpdateBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The ended chat.", body = ChatObject),
        (status = 400, description = "`chat.status` absent or other than `finished`, an unknown `finished_by_user_id`, or a malformed body.", body = ErrorBody, examples(
            ("status" = (value = json!({"message": "status is invalid"}))),
            ("agent" = (value = json!({"message": "agent is not found"}))),
        )),
        (status = 404, description = "No such chat in this tenant.", body = ErrorBody, example = json!({"message": "chat not found"})),
        (status = 409, description = "The chat is not active.", body = ErrorBody, example = json!({"message": "chat is not active"})),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[patch("/apps/api/v1/chats/{id}")]
pub async fn update_chat(
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let request: Option<ChatUpdateBody> = body::read_optional_json(&req, payload).await?;
    // The body's fault is answered before the chat is looked for, as on `…/end`.
    let agent = request.unwrap_or_default().finished_by().map_err(|e| ApiError::bad_request(e.to_string()))?;
    let chat_id = path_id::<ChatId>(&id, "chat")?;
    let bundle = state.end_chat(&tenant, chat_id, DisconnectedBy::Agent, agent).await?;
    Ok(HttpResponse::Ok().json(ChatObject::from(&bundle)))
}

/// Sends a message into a chat: the platform's "Send a message", a reply by `from_user_id`.
///
/// The same checks, effect and answer as `POST /apps/api/v1/chats/{id}/messages`, with
/// `from_user_id` standing for `agentId` and `message.content` for `message`. `message` absent
/// or not an object, or its `content` absent, null or blank: `message is required`; a `type`
/// other than `text`: `message type is not supported`.
#[utoipa::path(
    tag = "platform",
    params(
        ("id" = i64, Path, description = "The chat's id."),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe, as on a reply: the same key with the same body, within 24 hours, replays the first answer (marked `Idempotent-Replayed: true`) and writes nothing."),
    ),
    request_body(content = ChatMessageBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The message, queued for delivery.", body = MessageObject),
        (status = 400, description = "A fault of the request, in the order of a reply's checks.", body = ErrorBody, examples(
            ("message missing" = (value = json!({"message": "message is required"}))),
            ("message type" = (value = json!({"message": "message type is not supported"}))),
            ("message too long" = (value = json!({"message": "message is too long"}))),
            ("agent not found" = (value = json!({"message": "agent is not found"}))),
            ("opted out" = (value = json!({"message": "end_user_number has opted out"}))),
        )),
        (status = 404, description = "No such chat in this tenant.", body = ErrorBody, example = json!({"message": "chat not found"})),
        (status = 409, description = "The chat is not active, or a request with the same `Idempotency-Key` is still running.", body = ErrorBody, example = json!({"message": "chat is not active"})),
        (status = 422, description = "The `Idempotency-Key` was used with another body.", body = ErrorBody, example = json!({"message": "Idempotency-Key was already used with a different request body"})),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[post("/apps/api/v1/chats/{id}/message")]
pub async fn chat_message(
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let bytes = body::read_json_bytes(&req, payload).await?;
    let key = idempotency_key(&req)?;
    let request: ChatMessageBody = sms_domain::json::parse_object(&bytes)?;
    let chat_id = path_id::<ChatId>(&id, "chat")?;
    let Some(key) = key else {
        let message = state.chat_message(&tenant, chat_id, &request).await?;
        return Ok(HttpResponse::Created().json(MessageObject::from(&message)));
    };
    Ok(remembered(
        state.chat_message_once(&tenant, chat_id, &key, &bytes, render(201, |m| MessageObject::from(m))).await?,
    ))
}
