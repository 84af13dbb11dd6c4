//! Request ids, access logs and request metrics.
//!
//! Every request gets an id: the client's `X-Request-Id` when it is a safe token, a new one
//! otherwise; it is returned in `X-Request-Id` and carried by every log line of the request.
//! Access logs and metrics name the route pattern, never the path or query, which may hold
//! phone numbers.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client's request id is kept when it is 1 to 128 characters of `[A-Za-z0-9._:-]`, so it
/// cannot inject anything into a log line.
fn accepted(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let safe = (1..=128).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    safe.then(|| text.to_owned())
}

/// The method as a metric label: one of the methods the API uses, or `other`, so no request
/// can add a time series (the route is a pattern or `unmatched` for the same reason).
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id =
        req.headers().get(&REQUEST_ID).and_then(accepted).unwrap_or_else(|| hex::encode(rand::random::<[u8; 16]>()));
    let method = method_label(req.method()).to_owned();
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, route = tracing::field::Empty);
    let started = Instant::now();
    let mut response = next.call(req).instrument(span.clone()).await?;
    // Named once routed: the router's match is kept, where before it the path is matched again.
    let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    span.record("route", route.as_str());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let labels = [("method", method), ("route", route), ("status", status.to_string())];
    metrics::counter!("sms_http_requests_total", &labels).increment(1);
    metrics::histogram!("sms_http_request_duration_seconds", &labels[..2]).record(elapsed.as_secs_f64());
    span.in_scope(
        || tracing::info!(target: "sms_http::access", status, latency_ms = elapsed.as_secs_f64() * 1000.0, "request"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_a_bounded_set() {
        use actix_web::http::Method;
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for made_up in ["M123", "PROPFIND", "get"] {
            let method = Method::from_bytes(made_up.as_bytes()).unwrap_or(Method::TRACE);
            assert_eq!(method_label(&method), "other", "{made_up}");
        }
    }

    #[test]
    fn only_safe_request_ids_are_kept() {
        assert_eq!(accepted(&HeaderValue::from_static("abc-123_x.y:z")), Some("abc-123_x.y:z".into()));
        assert_eq!(accepted(&HeaderValue::from_static("has space")), None);
        assert_eq!(accepted(&HeaderValue::from_static("")), None);
        let long = "a".repeat(129);
        assert_eq!(HeaderValue::from_str(&long).ok().as_ref().and_then(accepted), None);
    }
}
