//! A tenant's event webhook endpoints: register, list, read, change, delete, rotate the
//! secret; their deliveries, and a retry of one.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use sms_service::Service;
use utoipa::IntoParams;

use super::super::{page, PageParams};
use crate::auth::AdminAuth;
use crate::body;
use crate::error::{ApiError, ErrorBody};
use crate::wire::webhooks::{
    create_draft, update_draft, DeliveryOut, DeliveryState, WebhookCreate, WebhookCreated, WebhookOut, WebhookPatch,
    WebhookSecret,
};

/// Registers an endpoint that receives the tenant's events, signed per the Standard Webhooks
/// specification with a new secret, which this answer alone shows (and rotation's).
///
/// Each delivery is a `POST` of `{"type", "timestamp", "data"}` with `webhook-id` (the event's
/// id, the same on every retry), `webhook-timestamp` and `webhook-signature`. 2xx is delivered;
/// 410 disables the endpoint and its deliveries wait; anything else is retried with backoff
/// (`SMS_EVENTS_RETRY_BASE_MS`, doubling, at most `SMS_EVENTS_RETRY_MAX_SECS` apart,
/// `SMS_EVENTS_MAX_ATTEMPTS` in all), then `failed`. Events are not ordered: order them by
/// `timestamp` and drop repeats by `webhook-id`.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    request_body(content = WebhookCreate, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered; `secret` is shown here only.", body = WebhookCreated),
        (status = 400, description = "An invalid URL or event list.", body = ErrorBody, examples(
            ("url" = (value = json!({"message": "url is invalid"}))),
            ("events" = (value = json!({"message": "events is invalid"}))),
        )),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[post("/admin/v1/tenants/{subdomain}/webhooks")]
pub async fn create_webhook(
    _: AdminAuth,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<Service>,
    subdomain: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let draft = create_draft(&body::read_json_bytes(&req, payload).await?)?;
    let endpoint = state.create_webhook(&subdomain, draft).await?;
    let secret = endpoint.secret.clone();
    Ok(HttpResponse::Created().json(WebhookCreated { endpoint: WebhookOut::from(&endpoint), secret }))
}

/// Lists the tenant's endpoints, never their secrets.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain."), PageParams),
    responses(
        (status = 200, description = "A page of endpoints.", body = Vec<WebhookOut>, headers(("X-Total-Count" = i64, description = "Items over all pages."))),
        (status = 400, description = "Paging out of range.", body = ErrorBody, example = json!({"message": "per must be an integer from 1 to 100"})),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[get("/admin/v1/tenants/{subdomain}/webhooks")]
pub async fn list_webhooks(
    _: AdminAuth,
    req: HttpRequest,
    state: web::Data<Service>,
    subdomain: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(page(&state.webhooks(&subdomain, &PageParams::of(&req)?).await?, WebhookOut::from))
}

/// Reads an endpoint.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The endpoint's id."),
    ),
    responses(
        (status = 200, description = "The endpoint.", body = WebhookOut),
        (status = 404, description = "No such tenant or endpoint.", body = ErrorBody, example = json!({"message": "webhook not found"})),
    ),
    security(("bearer" = []))
)]
#[get("/admin/v1/tenants/{subdomain}/webhooks/{id}")]
pub async fn get_webhook(
    _: AdminAuth,
    state: web::Data<Service>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(WebhookOut::from(&state.webhook(&path.0, &path.1).await?)))
}

/// Changes an endpoint's URL, events, description or `disabled`. Enabling a disabled endpoint
/// sends the deliveries that waited for it.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The endpoint's id."),
    ),
    request_body(content = WebhookPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The endpoint as changed.", body = WebhookOut),
        (status = 400, description = "An invalid URL or event list.", body = ErrorBody, example = json!({"message": "events is invalid"})),
        (status = 404, description = "No such tenant or endpoint.", body = ErrorBody, example = json!({"message": "webhook not found"})),
    ),
    security(("bearer" = []))
)]
#[patch("/admin/v1/tenants/{subdomain}/webhooks/{id}")]
pub async fn patch_webhook(
    _: AdminAuth,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<Service>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let draft = update_draft(&body::read_json_bytes(&req, payload).await?)?;
    Ok(HttpResponse::Ok().json(WebhookOut::from(&state.update_webhook(&path.0, &path.1, draft).await?)))
}

/// Deletes an endpoint; its pending deliveries are dropped.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The endpoint's id."),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such tenant or endpoint.", body = ErrorBody, example = json!({"message": "webhook not found"})),
    ),
    security(("bearer" = []))
)]
#[delete("/admin/v1/tenants/{subdomain}/webhooks/{id}")]
pub async fn delete_webhook(
    _: AdminAuth,
    state: web::Data<Service>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    state.delete_webhook(&path.0, &path.1).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Gives the endpoint a new secret. For 24 hours every delivery carries two signatures, one
/// under each secret, so the receiver can switch over without losing one.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The endpoint's id."),
    ),
    responses(
        (status = 200, description = "The new secret; shown here only.", body = WebhookSecret),
        (status = 404, description = "No such tenant or endpoint.", body = ErrorBody, example = json!({"message": "webhook not found"})),
    ),
    security(("bearer" = []))
)]
#[post("/admin/v1/tenants/{subdomain}/webhooks/{id}/rotate-secret")]
pub async fn rotate_webhook_secret(
    _: AdminAuth,
    state: web::Data<Service>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(WebhookSecret { secret: state.rotate_webhook_secret(&path.0, &path.1).await? }))
}

/// Filters and paging of an endpoint's deliveries.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DeliveryListParams {
    /// Only deliveries in this state.
    #[param(inline, value_type = Option<DeliveryState>)]
    status: Option<String>,
    /// From 1; default 1.
    #[param(value_type = Option<i64>, minimum = 1)]
    page: Option<String>,
    /// 1 to 100; default 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    per: Option<String>,
}

/// The endpoint's deliveries, newest first, with their attempts.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The endpoint's id."),
        DeliveryListParams,
    ),
    responses(
        (status = 200, description = "A page of deliveries.", body = Vec<DeliveryOut>, headers(("X-Total-Count" = i64, description = "Items over all pages."))),
        (status = 400, description = "An unknown status, or paging out of range.", body = ErrorBody, example = json!({"message": "status must be one of pending, delivered, failed"})),
        (status = 404, description = "No such tenant or endpoint.", body = ErrorBody, example = json!({"message": "webhook not found"})),
    ),
    security(("bearer" = []))
)]
#[get("/admin/v1/tenants/{subdomain}/webhooks/{id}/deliveries")]
pub async fn list_webhook_deliveries(
    _: AdminAuth,
    req: HttpRequest,
    state: web::Data<Service>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?
        .into_inner();
    let status = pairs.iter().find(|(k, _)| k == "status").map(|(_, v)| v.clone());
    let deliveries = state.webhook_deliveries(&path.0, &path.1, status, &PageParams::of(&req)?).await?;
    Ok(page(&deliveries, DeliveryOut::from))
}

/// Sends a delivery again: pending, due now, its attempts starting over.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The endpoint's id."),
        ("delivery_id" = i64, Path, description = "The delivery's id."),
    ),
    responses(
        (status = 202, description = "Pending again.", body = DeliveryOut),
        (status = 404, description = "No such tenant, endpoint or delivery.", body = ErrorBody, example = json!({"message": "delivery not found"})),
    ),
    security(("bearer" = []))
)]
#[post("/admin/v1/tenants/{subdomain}/webhooks/{id}/deliveries/{delivery_id}/retry")]
pub async fn retry_webhook_delivery(
    _: AdminAuth,
    state: web::Data<Service>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let delivery = state.retry_webhook_delivery(&path.0, &path.1, &path.2).await?;
    Ok(HttpResponse::Accepted().json(DeliveryOut::from(&delivery)))
}
