//! `POST /apps/api/v1/sms`: the outbound SMS endpoint.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};
use sms_domain::time::now_millis;
use sms_domain::{segments, Addressed, Content, SendSmsBody, SmsError, TenantPolicy};
use sms_store::chats::{self, NewChatSpec, Refusal};
use sms_store::idempotency::{self, Begin};
use sms_store::{Agent, DbConn, StoreError, Tenant};

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
/// delivery. Nothing is written on any fault. The tenant's rate limit applies (429, after 401).
#[utoipa::path(
    tag = "sms",
    request_body(content = SendSmsRequest, content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key with the same body, within 24 hours, replays the first answer (marked `Idempotent-Replayed: true`) and creates nothing. 1 to 255 visible ASCII characters, per tenant.")),
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
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let bytes = body::read_json_bytes(&req, payload).await?;
    let Some(key) = idempotency_key(&req)? else {
        return create(&state, tenant, &bytes).await.map(|chat| HttpResponse::Ok().json(chat));
    };
    let tenant_id = tenant.id;
    let hash = request_hash(&bytes);
    let claim_key = key.clone();
    let begun = state
        .db(move |conn| {
            let now = now_millis();
            let lease = now + chrono::Duration::seconds(IDEMPOTENCY_LEASE_SECS);
            let expires = now + chrono::Duration::hours(IDEMPOTENCY_TTL_HOURS);
            Ok(idempotency::begin(conn, tenant_id, &claim_key, &hash, now, lease, expires)?)
        })
        .await?;
    match begun {
        Begin::Replay { status, body } => {
            let status = StatusCode::from_u16(u16::try_from(status).unwrap_or(200)).unwrap_or(StatusCode::OK);
            return Ok(HttpResponse::build(status)
                .content_type("application/json")
                .insert_header(("Idempotent-Replayed", "true"))
                .body(body));
        }
        Begin::Mismatch => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Idempotency-Key was already used with a different request body",
            ))
        }
        Begin::Running => return Err(ApiError::conflict("a request with this Idempotency-Key is still in progress")),
        Begin::Started => {}
    }
    let outcome = create(&state, tenant, &bytes).await;
    let (status, body) = match &outcome {
        Ok(chat) => (StatusCode::OK, serde_json::to_string(chat).unwrap_or_default()),
        Err(e) => (e.status(), e.body_json()),
    };
    // A server fault is not the answer to remember: the client's retry must run again.
    let remembered = state
        .db(move |conn| {
            if status.is_server_error() {
                Ok(idempotency::abandon(conn, tenant_id, &key)?)
            } else {
                Ok(idempotency::finish(conn, tenant_id, &key, i32::from(status.as_u16()), &body)?)
            }
        })
        .await;
    if let Err(e) = remembered {
        tracing::warn!(error = %e, "could not record the idempotent answer; a retry runs again");
    }
    outcome.map(|chat| HttpResponse::Ok().json(chat))
}

const IDEMPOTENCY_TTL_HOURS: i64 = 24;
/// How long a running request holds its key; a request that died frees it after this.
const IDEMPOTENCY_LEASE_SECS: i64 = 60;

/// The `Idempotency-Key` header: 1 to 255 visible ASCII characters.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else { return Ok(None) };
    let text = value.to_str().unwrap_or_default();
    if (1..=255).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(Some(text.to_owned()))
    } else {
        Err(ApiError::bad_request("Idempotency-Key must be 1 to 255 visible ASCII characters"))
    }
}

/// The body's identity: its JSON re-serialised with sorted keys (so spacing and key order do not
/// matter), or the raw bytes when it is not JSON.
fn request_hash(bytes: &[u8]) -> String {
    let canonical = serde_json::from_slice::<serde_json::Value>(bytes).ok().and_then(|v| serde_json::to_vec(&v).ok());
    hex::encode(Sha256::digest(canonical.as_deref().unwrap_or(bytes)))
}

/// Validates the request and opens the chat.
///
/// The usual case takes the consumer's lock first and then, in one trip to the database, runs
/// the table checks and writes the chat. When the lock is held, the checks run on their own
/// first, so a fault earlier in the SPEC's order still wins over row 12.
async fn create(state: &AppState, tenant: Tenant, bytes: &[u8]) -> Result<ChatObject, ApiError> {
    let request = SendSmsBody::from_json(bytes)?;
    let policy = TenantPolicy { sms_enabled: tenant.sms_enabled, outbound_sms_enabled: tenant.outbound_sms_enabled };
    let addressed = request.addressing(policy)?;
    let tenant_id = tenant.id;

    let (guard, checked) = match session::try_acquire(state, tenant_id, &addressed.end_user).await? {
        Some(guard) => (guard, None),
        None => {
            let (request, addressing) = (request.clone(), addressed.clone());
            let checked = state.db(move |conn| send_checks(conn, tenant_id, &request, &addressing)).await?;
            (session::acquire(state, tenant_id, &addressed.end_user).await?, Some(checked))
        }
    };
    let token = guard.token().map(|t| t.as_str().to_owned());
    let ttl = session::session_ttl(tenant.session_timeout_minutes);
    let end_user = addressed.end_user.clone();
    let created = state
        .db(move |conn| {
            let now = now_millis();
            let spec = |content, agent| chat_spec(&tenant, &addressed, token.as_deref(), now, content, agent);
            if let Some((content, agent)) = &checked {
                return chats::create(conn, &spec(content, agent.as_ref())).map_err(store_error);
            }
            let selector = request.agent_selector();
            match request.content() {
                // The usual send (a valid message, no agent): the table checks travel with the
                // write, and only a refusal costs a second query (to say which check failed).
                Ok(content) if selector.id.is_none() && selector.email.is_none() => {
                    match chats::create_checked(conn, &spec(&content, None)).map_err(store_error)? {
                        Ok(created) => Ok(created),
                        Err(Refusal::OutboundNotRegistered) => Err(SmsError::OutboundNumberNotFound.into()),
                        Err(Refusal::OptedOut) => Err(SmsError::OptedOut.into()),
                    }
                }
                _ => {
                    let (content, agent) = send_checks(conn, tenant_id, &request, &addressed)?;
                    chats::create(conn, &spec(&content, agent.as_ref())).map_err(store_error)
                }
            }
        })
        .await;
    match created {
        Ok(created) => {
            // The session now belongs to the chat: hold the lock for the chat's lifetime. Off
            // the answer's path: the chat is committed, and a failure changes nothing for the
            // client (the database still guards the session). A refresh that runs after the
            // chat was ended finds the lock released and does nothing.
            let key = sms_lock::LockKey::new(tenant_id, end_user.as_str());
            if let Some(token) = guard.keep() {
                let lock = state.lock.clone();
                actix_web::rt::spawn(async move {
                    if let Err(e) = lock.refresh(&key, &token, ttl).await {
                        tracing::warn!(error = %e, "could not extend the session lock; the database still guards the session");
                    }
                });
            }
            if let Some(expired) = &created.expired {
                session::release_ended(state, expired).await;
            }
            tracing::info!(chat_id = created.bundle.chat.id, end_user = %end_user.masked(), "outbound chat created");
            Ok(ChatObject::from(&created.bundle))
        }
        Err(e) => {
            guard.release().await;
            Err(e)
        }
    }
}

/// What the store needs to open the chat.
fn chat_spec<'a>(
    tenant: &'a Tenant,
    addressed: &'a Addressed,
    lock_token: Option<&'a str>,
    now: chrono::NaiveDateTime,
    content: &'a Content,
    agent: Option<&'a Agent>,
) -> NewChatSpec<'a> {
    NewChatSpec {
        tenant_id: tenant.id,
        lang: &tenant.lang,
        chat_type: addressed.chat_type.as_str(),
        end_user_number: &addressed.end_user,
        outbound_number: &addressed.outbound,
        ticket_id: content.ticket_id.as_deref(),
        agent,
        message: &content.message,
        segments: segments::count(&content.message),
        lock_token,
        now,
        session_timeout: chrono::Duration::minutes(i64::from(tenant.session_timeout_minutes)),
    }
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::ActiveChat { chat_id } => SmsError::ActiveSession { chat_id }.into(),
        other => ApiError::from(other),
    }
}

/// The checks that read the tenant's tables, answered in the SPEC's order: the outbound number
/// (row 10), the message and ticket (row 11, lengths), the agent, the opt-out.
fn send_checks(
    conn: &mut DbConn,
    tenant_id: i64,
    request: &SendSmsBody,
    addressed: &Addressed,
) -> Result<(Content, Option<Agent>), ApiError> {
    let checks = sms_store::numbers::send_checks(conn, tenant_id, &addressed.outbound, &addressed.end_user)?;
    if !checks.outbound_registered {
        return Err(SmsError::OutboundNumberNotFound.into());
    }
    let content = request.content()?;
    let agent = sms_agents::resolve(conn, tenant_id, &request.agent_selector())?;
    if checks.opted_out {
        return Err(SmsError::OptedOut.into());
    }
    Ok((content, agent))
}
