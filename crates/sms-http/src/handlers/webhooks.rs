//! Provider callbacks: Twilio's delivery reports and the consumers' replies,
//! both signed with `X-Twilio-Signature`.

use actix_web::{post, web, HttpRequest, HttpResponse};
use sms_service::{Form, Service};

use crate::error::{ApiError, ErrorBody};
use crate::{body, client};

const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

/// The signature header; the service checks it against the URL Twilio signed and the body.
fn signature(req: &HttpRequest) -> &str {
    req.headers().get("X-Twilio-Signature").and_then(|v| v.to_str().ok()).unwrap_or_default()
}

fn path_and_query(req: &HttpRequest) -> String {
    req.uri().to_string()
}

/// A delivery report from Twilio (`StatusCallback`). Statuses only move forward: a late `sent`
/// does not overwrite `delivered` or `failed`.
#[utoipa::path(
    tag = "webhooks",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's status callback form: `MessageSid`, `MessageStatus`, `ErrorCode`, …"),
    responses(
        (status = 204, description = "Recorded (or ignored as stale or unknown)."),
        (status = 400, description = "A body that is not a form, or a form Twilio does not send (checked after the signature): a `MessageSid` that is not `SM`/`MM` and 32 hexadecimal digits, a parameter named twice, another account's `AccountSid`; nothing changes.", body = ErrorBody, examples(
            ("form" = (value = json!({"message": "invalid form body: invalid utf-8"}))),
            ("MessageSid" = (value = json!({"message": "MessageSid is invalid"}))),
            ("repeated" = (value = json!({"message": "Body appears more than once"}))),
        )),
        (status = 403, description = "Missing or wrong `X-Twilio-Signature`; nothing changed.", body = ErrorBody, example = json!({"message": "invalid signature"})),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    )
)]
#[post("/webhooks/twilio/{subdomain}/status")]
pub async fn twilio_status(
    req: HttpRequest,
    subdomain: web::Path<String>,
    payload: web::Payload,
    state: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let (bytes, path) = (body::read_limited(&req, payload).await?, path_and_query(&req));
    let form = Form { path_and_query: &path, body: &bytes, signature: signature(&req), client: client::address(&req) };
    state.twilio_status(&subdomain, form).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A consumer's reply. It joins the consumer's active chat with that number and restarts its
/// timeout, or is kept aside when there is none; inbound MMS media (`NumMedia`, `MediaUrl{N}`,
/// `MediaContentType{N}`) are kept in order. A keyword (the whole message, any case, trimmed of
/// white space and trailing `.` or `!`) then does what it asks: `STOP`, `STOPALL`,
/// `UNSUBSCRIBE`, `CANCEL`, `END`, `QUIT`, `REVOKE`, `OPTOUT` opt the number out of the
/// tenant's messages and end its active chat; `START`, `UNSTOP` (and `YES` from an opted-out
/// number) opt it back in; `HELP`, `INFO` ask for help. Each is answered once with the tenant's
/// `help_text`, `opt_out_text` or `opt_in_text` when set. A `MessageSid` already taken answers
/// the same and changes nothing. Answers empty TwiML.
#[utoipa::path(
    tag = "webhooks",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's incoming message form: `From`, `To`, `Body`, `MessageSid`, …"),
    responses(
        (status = 200, description = "Received.", content_type = "text/xml", body = String, example = json!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>")),
        (status = 400, description = "A body that is not a form, a form Twilio does not send (checked after the signature: a `MessageSid` that is not `SM`/`MM` and 32 hexadecimal digits, a parameter named twice, another account's `AccountSid`), or numbers that are not US numbers; nothing is recorded.", body = ErrorBody, examples(
            ("MessageSid" = (value = json!({"message": "MessageSid is invalid"}))),
            ("repeated" = (value = json!({"message": "Body appears more than once"}))),
            ("From" = (value = json!({"message": "From is not a valid US number"}))),
        )),
        (status = 403, description = "Missing or wrong `X-Twilio-Signature`; nothing changed.", body = ErrorBody, example = json!({"message": "invalid signature"})),
        (status = 404, description = "No such tenant, or `To` is not one of its numbers (nothing is recorded).", body = ErrorBody, examples(
            ("tenant" = (value = json!({"message": "tenant not found"}))),
            ("To" = (value = json!({"message": "outbound_number is not found"}))),
        )),
    )
)]
#[post("/webhooks/twilio/{subdomain}/inbound")]
pub async fn twilio_inbound(
    req: HttpRequest,
    subdomain: web::Path<String>,
    payload: web::Payload,
    state: web::Data<Service>,
) -> Result<HttpResponse, ApiError> {
    let (bytes, path) = (body::read_limited(&req, payload).await?, path_and_query(&req));
    let form = Form { path_and_query: &path, body: &bytes, signature: signature(&req), client: client::address(&req) };
    state.twilio_inbound(&subdomain, form).await?;
    Ok(HttpResponse::Ok().content_type("text/xml").body(EMPTY_TWIML))
}
