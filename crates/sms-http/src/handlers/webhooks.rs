//! Provider callbacks (SPEC section 8): Twilio's delivery reports and the consumers' replies,
//! both signed with `X-Twilio-Signature`.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use sms_domain::delivery::{keyword, DeliveryStatus, Keyword};
use sms_domain::time::now_millis;
use sms_domain::{segments, E164Number};
use sms_lock::{LockKey, LockToken};
use sms_store::delivery::{self, Inbound, StatusReport};
use sms_store::Tenant;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::{body, session};

const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

/// The form parameters of a callback, once its signature is checked; then its tenant.
async fn verified(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    subdomain: String,
) -> Result<(Vec<(String, String)>, Tenant), ApiError> {
    let bytes = body::read_limited(req, payload).await?;
    let params: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&bytes).map_err(|e| ApiError::bad_request(format!("invalid form body: {e}")))?;
    let presented = req.headers().get("X-Twilio-Signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let url = format!("{}{}", state.webhooks.public_url.trim_end_matches('/'), req.uri());
    let valid = state
        .webhooks
        .twilio_auth_token
        .as_deref()
        .is_some_and(|token| sms_delivery::twilio::verify(token, &url, &params, presented));
    if !valid {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "invalid signature"));
    }
    let tenant = state
        .db(move |conn| {
            sms_store::tenants::find_by_subdomain(conn, &subdomain)?.ok_or_else(|| ApiError::not_found("tenant"))
        })
        .await?;
    Ok((params, tenant))
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A delivery report from Twilio (`StatusCallback`). Statuses only move forward: a late `sent`
/// does not overwrite `delivered` or `failed`.
#[utoipa::path(
    tag = "webhooks",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's status callback form: `MessageSid`, `MessageStatus`, `ErrorCode`, …"),
    responses(
        (status = 204, description = "Recorded (or ignored as stale or unknown)."),
        (status = 400, description = "A body that is not a form.", body = ErrorBody, example = json!({"message": "invalid form body: invalid utf-8"})),
        (status = 403, description = "Missing or wrong `X-Twilio-Signature`; nothing changed.", body = ErrorBody, example = json!({"message": "invalid signature"})),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    )
)]
#[post("/webhooks/twilio/{subdomain}/status")]
pub async fn twilio_status(
    req: HttpRequest,
    subdomain: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (params, tenant) = verified(&req, payload, &state, subdomain.into_inner()).await?;
    let sid = param(&params, "MessageSid").unwrap_or_default().to_owned();
    let Some(status) = param(&params, "MessageStatus").and_then(DeliveryStatus::from_twilio) else {
        return Ok(HttpResponse::NoContent().finish());
    };
    let error = param(&params, "ErrorCode").filter(|c| !c.is_empty()).map(|code| {
        let text = param(&params, "ErrorMessage").unwrap_or_default();
        if text.is_empty() {
            format!("twilio error {code}")
        } else {
            format!("twilio error {code}: {text}")
        }
    });
    let report = state
        .db(move |conn| Ok(delivery::apply_status(conn, tenant.id, &sid, status, error.as_deref(), now_millis())?))
        .await?;
    if report == StatusReport::Unknown {
        tracing::warn!("delivery report for an unknown message");
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A consumer's reply. `STOP` (and `STOPALL`, `UNSUBSCRIBE`, `CANCEL`, `END`, `QUIT`) opts the
/// number out of the tenant's messages and ends its active chat; `START`/`UNSTOP` opts it back
/// in; anything else joins the consumer's active chat with that number and restarts its timeout,
/// or is kept aside when there is none. Answers empty TwiML.
#[utoipa::path(
    tag = "webhooks",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's incoming message form: `From`, `To`, `Body`, `MessageSid`, …"),
    responses(
        (status = 200, description = "Received.", content_type = "text/xml", body = String, example = json!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>")),
        (status = 400, description = "A body that is not a form, or numbers that are not US numbers.", body = ErrorBody, example = json!({"message": "From is not a valid US number"})),
        (status = 403, description = "Missing or wrong `X-Twilio-Signature`; nothing changed.", body = ErrorBody, example = json!({"message": "invalid signature"})),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    )
)]
#[post("/webhooks/twilio/{subdomain}/inbound")]
pub async fn twilio_inbound(
    req: HttpRequest,
    subdomain: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (params, tenant) = verified(&req, payload, &state, subdomain.into_inner()).await?;
    let number = |name: &str| {
        E164Number::parse(param(&params, name).unwrap_or_default())
            .map_err(|_| ApiError::bad_request(format!("{name} is not a valid US number")))
    };
    let (from, to) = (number("From")?, number("To")?);
    let text = param(&params, "Body").unwrap_or_default().to_owned();
    let sid = param(&params, "MessageSid").map(str::to_owned);
    let tenant_id = tenant.id;
    match keyword(&text) {
        Some(Keyword::OptOut) => {
            let ended = state.db(move |conn| Ok(delivery::opt_out(conn, tenant_id, &from, now_millis())?)).await?;
            if let Some(ended) = ended {
                session::release_ended(&state, &ended).await;
            }
            tracing::info!(tenant_id, "consumer opted out");
        }
        Some(Keyword::OptIn) => {
            state.db(move |conn| Ok(delivery::opt_in(conn, tenant_id, from.as_str())?)).await?;
            tracing::info!(tenant_id, "consumer opted back in");
        }
        None => {
            let timeout = chrono::Duration::minutes(i64::from(tenant.session_timeout_minutes));
            let parts = segments::count(&text);
            let inbound = state
                .db(move |conn| {
                    Ok(delivery::record_inbound(
                        conn,
                        tenant_id,
                        &from,
                        &to,
                        &text,
                        parts,
                        sid.as_deref(),
                        now_millis(),
                        timeout,
                    )?)
                })
                .await?;
            match inbound {
                Inbound::Joined { chat, end_user_number } => {
                    // The chat's timeout started again; so does its session lock's.
                    if let Some(token) = chat.lock_token {
                        let key = LockKey::new(tenant_id, &end_user_number);
                        let ttl = session::session_ttl(tenant.session_timeout_minutes);
                        if let Err(e) = state.lock.refresh(&key, &LockToken::from_stored(token), ttl).await {
                            tracing::warn!(chat_id = chat.id, error = %e, "could not refresh the session lock");
                        }
                    }
                    tracing::info!(chat_id = chat.id, "reply joined its chat");
                }
                Inbound::Unrouted => tracing::info!(tenant_id, "reply without an active chat kept aside"),
            }
        }
    }
    Ok(HttpResponse::Ok().content_type("text/xml").body(EMPTY_TWIML))
}
