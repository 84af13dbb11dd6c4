//! Chats after creation (SPEC section 5).

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use sms_domain::time::now_millis;
use sms_domain::{ChatStatus, DisconnectedBy, E164Number, PhoneError};
use sms_store::chats::{self, ChatFilter, EndOutcome};
use utoipa::IntoParams;

use super::parse_id;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::wire::chat::{ChatObject, EndChatRequest, MessageObject};
use crate::{auth, body, session};

pub const MAX_PER_PAGE: i64 = 100;

/// A chat's status.
#[derive(Debug, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum StatusName {
    Selecting,
    Queued,
    Assigned,
    Finished,
}

/// Filters and paging of the chat list.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChatListParams {
    /// Only chats in this status.
    #[param(inline, value_type = Option<StatusName>)]
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

    fn filter(&self) -> Result<ChatFilter, ApiError> {
        let status =
            match self.status.as_deref() {
                None => None,
                Some(s) => Some(ChatStatus::parse(s).ok_or_else(|| {
                    ApiError::bad_request("status must be one of selecting, queued, assigned, finished")
                })?),
            };
        let end_user_number = match self.end_user_number.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(n) => Some(E164Number::parse(n).map_err(|e| match e {
                PhoneError::Invalid => ApiError::bad_request("end_user_number is invalid"),
                PhoneError::NonUs => ApiError::bad_request("Non-US phone number not allowed"),
            })?),
        };
        let page = match self.page.as_deref() {
            None => 1,
            Some(p) => p
                .parse::<i64>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| ApiError::bad_request("page must be an integer of at least 1"))?,
        };
        let per = match self.per.as_deref() {
            None => MAX_PER_PAGE,
            Some(p) => p
                .parse::<i64>()
                .ok()
                .filter(|p| (1..=MAX_PER_PAGE).contains(p))
                .ok_or_else(|| ApiError::bad_request("per must be an integer from 1 to 100"))?,
        };
        Ok(ChatFilter { status, end_user_number, page, per })
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
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let chat_id = parse_id(&id, "chat")?;
    let bundle = state.db(move |conn| Ok(chats::find(conn, tenant.id, chat_id)?)).await?;
    let bundle = bundle.ok_or_else(|| ApiError::not_found("chat"))?;
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
pub async fn list_chats(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let filter = ChatListParams::from_query(req.query_string())?.filter()?;
    let (page, total) = state.db(move |conn| Ok(chats::list(conn, tenant.id, &filter)?)).await?;
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
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let bytes = body::read_limited(&req, payload).await?;
    let by = if bytes.iter().all(u8::is_ascii_whitespace) {
        DisconnectedBy::Agent
    } else {
        body::require_json(&req)?;
        // `null` is an absent body, as the document's optional request body allows.
        let request: Option<EndChatRequest> =
            if bytes.trim_ascii() == b"null" { None } else { Some(sms_domain::json::parse_object(&bytes)?) };
        match request.and_then(|r| r.disconnected_by).as_deref() {
            None => DisconnectedBy::Agent,
            Some(value) => DisconnectedBy::parse_short(value)
                .ok_or_else(|| ApiError::bad_request("disconnected_by must be one of agent, end_user, system"))?,
        }
    };
    let chat_id = parse_id(&id, "chat")?;
    let outcome = state.db(move |conn| Ok(chats::end(conn, tenant.id, chat_id, by, now_millis())?)).await?;
    match outcome {
        EndOutcome::NotFound => Err(ApiError::not_found("chat")),
        EndOutcome::NotActive => Err(ApiError::conflict("chat is not active")),
        EndOutcome::Ended { bundle, ended } => {
            session::release_ended(&state, &ended).await;
            Ok(HttpResponse::Ok().json(ChatObject::from(bundle.as_ref())))
        }
    }
}

/// The chat's messages, oldest first, both directions.
#[utoipa::path(
    tag = "chats",
    params(("id" = i64, Path, description = "The chat's id.")),
    responses(
        (status = 200, description = "The messages.", body = Vec<MessageObject>),
        (status = 404, description = "No such chat in this tenant.", body = ErrorBody, example = json!({"message": "chat not found"})),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/apps/api/v1/chats/{id}/messages")]
pub async fn chat_messages(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let chat_id = parse_id(&id, "chat")?;
    let messages = state
        .db(move |conn| {
            if chats::find(conn, tenant.id, chat_id)?.is_none() {
                return Err(ApiError::not_found("chat"));
            }
            Ok(chats::messages(conn, chat_id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(messages.iter().map(MessageObject::from).collect::<Vec<_>>()))
}
