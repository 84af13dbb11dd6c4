//! Chats after creation: read, list, end, their messages.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use sms_service::{ChatPage, EndRequest, Service};
use utoipa::IntoParams;

use super::{page, parse_id, remembered, render, PageParams};
use crate::error::{ApiError, ErrorBody};
use crate::wire::chat::{ChatObject, EndChatRequest, MessageObject, ReplyRequest};
use crate::{auth, body};

/// Filters and paging of the chat list.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChatListParams {
    /// Only chats in this status.
    #[param(inline, value_type = Option<sms_domain::ChatStatus>)]
    status: Option<String>,
    /// The consumer's number, any common US format.
    end_user_number: Option<String>,
    /// From 1; default 1.
    #[param(value_type = Option<i64>, minimum = 1)]
    page: Option<String>,
    /// 1 to 100; default 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    per: Option<String>,
}

impl ChatListParams {
    /// Parses the query string by hand: an empty value (`?status=`) is a value, not an absence.
    fn from_query(query: &str) -> Result<Self, ApiError> {
        let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
            .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?
            .into_inner();
        let take = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        Ok(Self {
            status: take("status"),
            end_user_number: take("end_user_number"),
            page: take("page"),
            per: take("per"),
        })
    }
}

impl From<ChatListParams> for ChatPage {
    fn from(p: ChatListParams) -> Self {
        Self { status: p.status, end_user_number: p.end_user_number, page: p.page, per: p.per }
    }
}

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
    let bundle = state.chat(&tenant, parse_id(&id, "chat")?).await?;
    Ok(HttpResponse::Ok().json(ChatObject::from(&bundle)))
}

/// Lists the tenant's chats, newest first; the total over all pages is in `X-Total-Count`.
#[utoipa::path(
    tag = "chats",
    params(ChatListParams),
    responses(
        (status = 200, description = "A page of chats.", body = Vec<ChatObject>, headers(("X-Total-Count" = i64, description = "Chats matching the filters, over all pages."))),
        (status = 400, description = "An unknown status, an invalid number, or paging out of range.", body = ErrorBody, example = json!({"message": "per must be an integer from 1 to 100"})),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/apps/api/v1/chats")]
pub async fn list_chats(req: HttpRequest, state: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let query = ChatPage::from(ChatListParams::from_query(req.query_string())?);
    let (page, total) = state.chats(&tenant, &query).await?;
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
    request_body(content = Option<EndChatRequest>, content_type = "application/json"),
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
    let request: Option<EndChatRequest> = body::read_optional_json(&req, payload).await?;
    let request = request.map(EndRequest::from).unwrap_or_default();
    let bundle = state.end_chat(&tenant, &id, &request).await?;
    Ok(HttpResponse::Ok().json(ChatObject::from(&bundle)))
}

/// The chat's messages, oldest first, both directions; paged like the chat list.
#[utoipa::path(
    tag = "chats",
    params(("id" = i64, Path, description = "The chat's id."), PageParams),
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
    let messages = state.chat_messages(&tenant, parse_id(&id, "chat")?, &PageParams::of(&req)?).await?;
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
    request_body(content = ReplyRequest, content_type = "application/json"),
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
    let Some(key) = req.headers().get("Idempotency-Key") else {
        let message = state.reply(&tenant, &id, &bytes).await?;
        return Ok(HttpResponse::Created().json(MessageObject::from(&message)));
    };
    let key = key.to_str().unwrap_or_default();
    Ok(remembered(state.reply_once(&tenant, &id, key, &bytes, render(201, |m| MessageObject::from(m))).await?))
}
