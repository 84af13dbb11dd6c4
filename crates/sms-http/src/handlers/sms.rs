//! `POST /apps/api/v1/sms`: the outbound SMS endpoint.

use actix_web::{post, web, HttpRequest, HttpResponse};
use sms_domain::time::now_millis;
use sms_domain::{segments, SendSmsBody, SmsError, TenantPolicy};
use sms_store::chats::{self, NewChatSpec};
use sms_store::StoreError;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::wire::chat::{ChatObject, SendSmsRequest};
use crate::{auth, body, session};

/// Sends an SMS to a consumer, opening a new chat.
///
/// Checks, first fault wins: credentials (401); body size (413), content type (415), JSON
/// (400); then, each answering 400, the faults in the order of the examples below (chat type,
/// the tenant's switches, the end user's number, the outbound number, the message), the message
/// and ticket lengths (`message is too long`, `ticket_id is too long`), the agent (`agent is not
/// found`, `agentId and agentEmail refer to different agents`, `agent is not active`), and last
/// the one-active-session rule, whose answer carries the active chat's `chat_id`. On success the
/// chat and its first message are stored in one transaction and the message is queued for
/// delivery. Nothing is written on any fault.
#[utoipa::path(
    tag = "sms",
    request_body(content = SendSmsRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The chat was created.", body = ChatObject),
        (status = 400, description = "A fault of the request; the first in the documented order is reported.", body = ErrorBody, examples(
            ("chat_type missing" = (value = json!({"message": "chat_type needs to be provided"}))),
            ("chat_type invalid" = (value = json!({"message": "valid chat type needs to be provided"}))),
            ("SMS disabled" = (value = json!({"message": "SMS is not enabled"}))),
            ("outbound disabled" = (value = json!({"message": "Outbound SMS is not enabled"}))),
            ("end user missing" = (value = json!({"message": "end_user_number is required"}))),
            ("end user invalid" = (value = json!({"message": "end_user_number is invalid"}))),
            ("non-US" = (value = json!({"message": "Non-US phone number not allowed"}))),
            ("outbound missing" = (value = json!({"message": "outbound_number is required"}))),
            ("outbound invalid" = (value = json!({"message": "outbound_number is invalid"}))),
            ("outbound not found" = (value = json!({"message": "outbound_number is not found"}))),
            ("message missing" = (value = json!({"message": "message is required"}))),
            ("opted out" = (value = json!({"message": "end_user_number has opted out"}))),
            ("active session" = (value = json!({"message": "Outbound SMS failed. Consumer is already in an active SMS session.", "chat_id": 114}))),
        )),
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
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let bytes = body::read_json_bytes(&req, payload).await?;
    let request = SendSmsBody::from_json(&bytes)?;
    let policy = TenantPolicy { sms_enabled: tenant.sms_enabled, outbound_sms_enabled: tenant.outbound_sms_enabled };
    let addressed = request.addressing(policy)?;

    let tenant_id = tenant.id;
    let outbound = addressed.outbound.clone();
    let addressed_end_user = addressed.end_user.clone();
    let (content, agent) = state
        .db(move |conn| {
            if !sms_store::numbers::is_tenant_number(conn, tenant_id, &outbound)? {
                return Err(SmsError::OutboundNumberNotFound.into());
            }
            let content = request.content()?;
            let agent = sms_agents::resolve(conn, tenant_id, &request.agent_selector())?;
            if sms_store::delivery::is_opted_out(conn, tenant_id, &addressed_end_user)? {
                return Err(SmsError::OptedOut.into());
            }
            Ok((content, agent))
        })
        .await?;

    let guard = session::acquire(&state, tenant_id, &addressed.end_user).await?;
    let token = guard.token().map(|t| t.as_str().to_owned());
    let ttl = session::session_ttl(tenant.session_timeout_minutes);
    let end_user = addressed.end_user.clone();
    let created = state
        .db(move |conn| {
            let spec = NewChatSpec {
                tenant_id,
                lang: &tenant.lang,
                chat_type: addressed.chat_type.as_str(),
                end_user_number: &addressed.end_user,
                outbound_number: &addressed.outbound,
                ticket_id: content.ticket_id.as_deref(),
                agent: agent.as_ref(),
                message: &content.message,
                segments: segments::count(&content.message),
                lock_token: token.as_deref(),
                now: now_millis(),
                session_timeout: chrono::Duration::minutes(i64::from(tenant.session_timeout_minutes)),
            };
            chats::create(conn, &spec).map_err(|e| match e {
                StoreError::ActiveChat { chat_id } => SmsError::ActiveSession { chat_id }.into(),
                other => ApiError::from(other),
            })
        })
        .await;
    match created {
        Ok(created) => {
            // The session now belongs to the chat: hold the lock for the chat's lifetime.
            let key = sms_lock::LockKey::new(tenant_id, end_user.as_str());
            if let Some(token) = guard.keep() {
                if let Err(e) = state.lock.refresh(&key, &token, ttl).await {
                    tracing::warn!(error = %e, "could not extend the session lock; the database still guards the session");
                }
            }
            if let Some(expired) = &created.expired {
                session::release_ended(&state, expired).await;
            }
            tracing::info!(chat_id = created.bundle.chat.id, end_user = %end_user.masked(), "outbound chat created");
            Ok(HttpResponse::Ok().json(ChatObject::from(&created.bundle)))
        }
        Err(e) => {
            guard.release().await;
            Err(e)
        }
    }
}
