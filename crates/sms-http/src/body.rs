//! Reading request bodies: size (413), then content type (415), then JSON (400).

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest body accepted: 64 KiB.
pub const MAX_BODY_BYTES: usize = 65_536;

/// Reads the whole body, refusing more than [`MAX_BODY_BYTES`], and one that has not fully
/// arrived within the body timeout (`SMS_BODY_TIMEOUT_SECS`): 408, and the connection is freed.
pub async fn read_limited(req: &HttpRequest, payload: web::Payload) -> Result<web::Bytes, ApiError> {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let timeout = req
        .app_data::<web::Data<crate::client::HttpSettings>>()
        .map_or(crate::client::DEFAULT_BODY_TIMEOUT, |settings| settings.body_timeout);
    tokio::time::timeout(timeout, read_all(payload)).await.map_err(|_| ApiError::body_timed_out())?
}

async fn read_all(mut payload: web::Payload) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body is larger than 65536 bytes")
}

/// Refuses any content type but `application/json` (parameters such as `charset` allowed).
pub fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    match req.mime_type() {
        Ok(Some(mime)) if mime.essence_str() == "application/json" => Ok(()),
        _ => Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json")),
    }
}

/// Reads and checks a JSON body in the documented order: size, then content type.
pub async fn read_json_bytes(req: &HttpRequest, payload: web::Payload) -> Result<web::Bytes, ApiError> {
    let bytes = read_limited(req, payload).await?;
    require_json(req)?;
    Ok(bytes)
}

/// An optional JSON object body: empty (or `null`) is `None`; otherwise as [`JsonBody`].
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = web::Payload::from_request(&req, payload).into_inner();
        Box::pin(async move {
            let payload = payload.map_err(|e| ApiError::bad_request(e.to_string()))?;
            read_optional_json(&req, payload).await.map(Self)
        })
    }
}

/// Reads an optional JSON object body: none at all, only white space or `null` is `None` (as
/// an optional request body of the OpenAPI document allows); otherwise size, content type and
/// JSON are checked as for any body.
pub async fn read_optional_json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Option<T>, ApiError> {
    let bytes = read_limited(req, payload).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    require_json(req)?;
    if bytes.trim_ascii() == b"null" {
        return Ok(None);
    }
    Ok(Some(sms_domain::json::parse_object(&bytes)?))
}

/// A JSON object body, parsed with faults that name the field. Put it after the auth extractor
/// so that missing credentials are reported first.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = web::Payload::from_request(&req, payload).into_inner();
        Box::pin(async move {
            let payload = payload.map_err(|e| ApiError::bad_request(e.to_string()))?;
            let bytes = read_json_bytes(&req, payload).await?;
            Ok(JsonBody(sms_domain::json::parse_object(&bytes)?))
        })
    }
}
