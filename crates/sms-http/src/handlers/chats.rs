//! Chats after creation: read, list, end, their messages.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use sms_service::{ChatPage, EndRequest, Service};
use utoipa::IntoParams;

use super::{page, parse_id, PageParams};
use crate::error::{ApiError, ErrorBody};
use crate::wire::chat::{ChatObject, EndChatRequest, MessageObject};
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
