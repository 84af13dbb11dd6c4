//! Chats after creation: read, list, end, their messages.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use sms_domain::{AssignBody, ChatId, EndChatBody, ReplyBody};
use sms_service::{ChatPage, PageQuery, Service};

use super::{idempotency_key, page, path_id, query, remembered, render};
use crate::error::{ApiError, ErrorBody};
use crate::wire::chat::{ChatObject, MessageObject};
use crate::{auth, body};

/// Reads a chat of the authenticated tenant.
#[utoipa::path(
    tag = "chats",
    params(("id" = i64, Path, description = "The chat's id.")),
    responses(
        (status = 200, description = "The chat.", body = ChatObject),
        (status = 404, description = "No such chat in this tenant.", body = ErrorBody, example = json!({"message": "chat not found"})),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/apps/api/v1/chats/{id}")]
pub async fn get_chat(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let bundle = state.chat(&tenant, path_id::<ChatId>(&id, "chat")?).await?;
    Ok(HttpResponse::Ok().json(ChatObject::from(&bundle)))
}

/// Lists the tenant's chats, newest first; the total over all pages is in `X-Total-Count`.
#[utoipa::path(
    tag = "chats",
    params(ChatPage),
    responses(
        (status = 200, description = "A page of chats.", body = Vec<ChatObject>, headers(("X-Total-Count" = i64, description = "Chats matching the filters, over all pages."))),
        (status = 400, description = "An unknown status, an invalid number, or paging out of range.", body = ErrorBody, example = json!({"message": "per must be an integer from 1 to 100"})),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/apps/api/v1/chats")]
pub async fn list_chats(req: HttpRequest, state: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let (page, total) = state.chats(&tenant, &query::<ChatPage>(&req)?).await?;
    let body: Vec<ChatObject> = page.iter().map(ChatObject::from).collect();
    Ok(HttpResponse::Ok().insert_header(("X-Total-Count", total.to_string())).json(body))
}

/// Ends an active chat and frees the consumer's session.
///
/// The body is optional; `disconnected_by` defaults to `agent`. Every participant is
/// disconnected and `chat_duration` counts from `created_at`.
#[utoipa::path(
    tag = "chats",
    params(("id" = i64, Path, description = "The chat's id.")),
    request_body(content = Option<EndChatBody>, content_type = "application/json"),
    responses(
        (status = 200, description = "The ended chat.", body = ChatObject),
        (status = 400, description = "An unknown `disconnected_by` or a malformed body.", body = ErrorBody, example = json!({"message": "disconnected_by must be one of agent, end_user, system"})),
        (status = 404, description = "No such chat in this tenant.", body = ErrorBody, example = json!({"message": "chat not found"})),
        (status = 409, description = "The chat is not active.", body = ErrorBody, example = json!({"message": "chat is not active"})),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[post("/apps/api/v1/chats/{id}/end")]
pub async fn end_chat(
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let request: Option<EndChatBody> = body::read_optional_json(&req, payload).await?;
    // The body's fault is answered before the chat is looked for.
    let by = request.unwrap_or_default().by().map_err(|e| ApiError::bad_request(e.to_string()))?;
    let bundle = state.end_chat(&tenant, path_id::<ChatId>(&id, "chat")?, by, None).await?;
    Ok(HttpResponse::Ok().json(ChatObject::from(&bundle)))
}

/// The chat's messages, oldest first, both directions; paged like the chat list.
#[utoipa::path(
    tag = "chats",
    params(("id" = i64, Path, description = "The chat's id."), PageQuery),
    responses(
        (status = 200, description = "A page of the messages.", body = Vec<MessageObject>, headers(("X-Total-Count" = i64, description = "Messages over all pages."))),
        (status = 400, description = "Paging out of range.", body = ErrorBody, example = json!({"message": "page must be an integer of at least 1"})),
        (status = 404, description = "No such chat in this tenant.", body = ErrorBody, example = json!({"message": "chat not found"})),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/apps/api/v1/chats/{id}/messages")]
pub async fn chat_messages(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let messages = state.chat_messages(&tenant, path_id::<ChatId>(&id, "chat")?, &query::<PageQuery>(&req)?).await?;
    Ok(page(&messages, MessageObject::from))
}

/// Replies inside a chat: an outbound message from the chat's number to its consumer, queued
/// for delivery.
///
/// Checks, first fault wins: credentials (401), the tenant's rate limit (429), the body (413,
/// 415, 400 for JSON and types); the chat missing or another tenant's (404); then, each
/// answering 400 unless noted: `SMS is not enabled`, `message is required` (absent, null or
/// blank, and no media), `message is too long`, `media_urls is invalid`, the agent (`agent is
/// not found`, `agentId and agentEmail refer to different agents`, `agent is not active`), the
/// chat not active (409 `chat is not active`), the consumer opted out (`end_user_number has
/// opted out`). Nothing is written on a fault.
///
/// On success the message and its outbox entry are written in one transaction; the chat's
/// timeout starts again and its session lock is refreshed; a chat without an agent is assigned
/// to the agent named (`chat.assigned`). Quiet hours do not apply inside an open chat. With
/// `media_urls` the message is sent as MMS.
#[utoipa::path(
    tag = "chats",
    params(
        ("id" = i64, Path, description = "The chat's id."),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe, as on `POST /apps/api/v1/sms`: the same key with the same body, within 24 hours, replays the first answer (marked `Idempotent-Replayed: true`) and writes nothing."),
    ),
    request_body(content = ReplyBody, content_type = "application/json"),
    responses(
        (status = 201, description = "The message, queued for delivery.", body = MessageObject),
        (status = 400, description = "A fault of the request; the first in the documented order is reported.", body = ErrorBody, examples(
            ("SMS disabled" = (value = json!({"message": "SMS is not enabled"}))),
            ("message missing" = (value = json!({"message": "message is required"}))),
            ("message too long" = (value = json!({"message": "message is too long"}))),
            ("media invalid" = (value = json!({"message": "media_urls is invalid"}))),
            ("agent not found" = (value = json!({"message": "agent is not found"}))),
            ("agent inactive" = (value = json!({"message": "agent is not active"}))),
            ("opted out" = (value = json!({"message": "end_user_number has opted out"}))),
        )),
        (status = 404, description = "No such chat in this tenant.", body = ErrorBody, example = json!({"message": "chat not found"})),
        (status = 409, description = "The chat is not active, or a request with the same `Idempotency-Key` is still running.", body = ErrorBody, example = json!({"message": "chat is not active"})),
        (status = 422, description = "The `Idempotency-Key` was used with another body.", body = ErrorBody, example = json!({"message": "Idempotency-Key was already used with a different request body"})),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[post("/apps/api/v1/chats/{id}/messages")]
pub async fn reply(
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let bytes = body::read_json_bytes(&req, payload).await?;
    let key = idempotency_key(&req)?;
    // The body's faults are answered before the chat is looked for.
    let request: ReplyBody = sms_domain::json::parse_object(&bytes)?;
    let chat_id = path_id::<ChatId>(&id, "chat")?;
    let Some(key) = key else {
        let message = state.reply(&tenant, chat_id, request).await?;
        return Ok(HttpResponse::Created().json(MessageObject::from(&message)));
    };
    Ok(remembered(state.reply_once(&tenant, chat_id, &key, &bytes, render(201, |m| MessageObject::from(m))).await?))
}

/// Assigns an active chat to an agent, without a message.
///
/// An unassigned chat is assigned as a reply naming the agent would (`status` `assigned`,
/// `assigned_at`, an agent participant, `agent_info`, `chat.assigned`); a chat of another
/// agent is reassigned (the previous agent's participant is disconnected, the new agent's
/// joins, `chat.assigned` again); the same agent again changes nothing. The chat's timeout
/// does not move. The console's `Assign to me` is this call.
#[utoipa::path(
    tag = "chats",
    params(("id" = i64, Path, description = "The chat's id.")),
    request_body(content = AssignBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The chat, assigned.", body = ChatObject),
        (status = 400, description = "No agent named, or the agent's fault; the first in the documented order is reported.", body = ErrorBody, examples(
            ("agent required" = (value = json!({"message": "agent is required"}))),
            ("agent not found" = (value = json!({"message": "agent is not found"}))),
            ("agent inactive" = (value = json!({"message": "agent is not active"}))),
        )),
        (status = 404, description = "No such chat in this tenant.", body = ErrorBody, example = json!({"message": "chat not found"})),
        (status = 409, description = "The chat is not active.", body = ErrorBody, example = json!({"message": "chat is not active"})),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[post("/apps/api/v1/chats/{id}/assign")]
pub async fn assign(
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let bytes = body::read_json_bytes(&req, payload).await?;
    // The body's faults are answered before the chat is looked for.
    let request: AssignBody = sms_domain::json::parse_object(&bytes)?;
    let bundle = state.assign(&tenant, path_id::<ChatId>(&id, "chat")?, request.agent_selector()).await?;
    Ok(HttpResponse::Ok().json(ChatObject::from(&bundle)))
}
