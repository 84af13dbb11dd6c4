//! A tenant's event webhook endpoints: register, list, read, change, delete, rotate the
//! secret; their deliveries, and a retry of one.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use sms_domain::events::{EndpointCreate, EndpointPatch};
use sms_domain::{DeliveryId, EndpointId};
use sms_service::admin::DeliveryPage;
use sms_service::{PageQuery, Service};

use super::super::{page, path_id, query};
use crate::auth::AdminAuth;
use crate::body::JsonBody;
use crate::error::{ApiError, ErrorBody};
use crate::wire::webhooks::{DeliveryOut, WebhookCreated, WebhookOut, WebhookSecret};

/// Registers an endpoint that receives the tenant's events, signed per the Standard Webhooks
/// specification with a new secret, which this answer alone shows (and rotation's).
///
/// Each delivery is a `POST` of `{"type", "timestamp", "data"}` with `webhook-id` (the event's
/// id, the same on every retry), `webhook-timestamp` and `webhook-signature`. 2xx is delivered;
/// 410 disables the endpoint and its deliveries wait; anything else is retried with backoff
/// (`SMS_EVENTS_RETRY_BASE_MS`, doubling, at most `SMS_EVENTS_RETRY_MAX_SECS` apart,
/// `SMS_EVENTS_MAX_ATTEMPTS` in all), then `failed`. Events are not ordered: order them by
/// `timestamp` and drop repeats by `webhook-id`.
///
/// The URL must not name the service's own network: an address written in it must be public
/// unicast (not loopback, private, link-local, shared, unique local, multicast, documentation or
/// benchmarking, nor their IPv4-mapped forms) unless it is in `SMS_EVENTS_ALLOWED_NETWORKS`; a
/// name is checked on every address it resolves to, when a delivery connects (refused: error
/// `destination not allowed`). At most `SMS_EVENTS_ENDPOINT_CONCURRENCY` requests to one
/// endpoint are in flight per instance; a delivery that waited for a disabled endpoint for
/// `SMS_EVENTS_DISABLED_RETENTION_HOURS` fails with `endpoint disabled`. `format` is `standard`.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    request_body(content = EndpointCreate, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered; `secret` is shown here only.", body = WebhookCreated),
        (status = 400, description = "An invalid URL (or one naming the service's own network), event list or format.", body = ErrorBody, examples(
            ("url" = (value = json!({"message": "url is invalid"}))),
            ("events" = (value = json!({"message": "events is invalid"}))),
            ("format" = (value = json!({"message": "format is invalid"}))),
        )),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[post("/admin/v1/tenants/{subdomain}/webhooks")]
pub async fn create_webhook(
    _: AdminAuth,
    state: web::Data<Service>,
    subdomain: web::Path<String>,
    body: JsonBody<EndpointCreate>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = state.create_webhook(&subdomain, body.0.into_draft()?).await?;
    let secret = endpoint.secret.clone();
    Ok(HttpResponse::Created().json(WebhookCreated { endpoint: WebhookOut::from(&endpoint), secret }))
}

/// Lists the tenant's endpoints, never their secrets.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain."), PageQuery),
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
    Ok(page(&state.webhooks(&subdomain, &query::<PageQuery>(&req)?).await?, WebhookOut::from))
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
    Ok(HttpResponse::Ok()
        .json(WebhookOut::from(&state.webhook(&path.0, path_id::<EndpointId>(&path.1, "webhook")?).await?)))
}

/// Changes an endpoint's URL, events, description or `disabled`. Enabling a disabled endpoint
/// sends the deliveries that waited for it.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The endpoint's id."),
    ),
    request_body(content = EndpointPatch, content_type = "application/json"),
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
    state: web::Data<Service>,
    path: web::Path<(String, String)>,
    body: JsonBody<EndpointPatch>,
) -> Result<HttpResponse, ApiError> {
    let draft = body.0.into_update()?;
    let id = path_id::<EndpointId>(&path.1, "webhook")?;
    Ok(HttpResponse::Ok().json(WebhookOut::from(&state.update_webhook(&path.0, id, draft).await?)))
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
    state.delete_webhook(&path.0, path_id::<EndpointId>(&path.1, "webhook")?).await?;
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
    let secret = state.rotate_webhook_secret(&path.0, path_id::<EndpointId>(&path.1, "webhook")?).await?;
    Ok(HttpResponse::Ok().json(WebhookSecret { secret }))
}

/// The endpoint's deliveries, newest first, with their attempts.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The endpoint's id."),
        DeliveryPage,
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
    let id = path_id::<EndpointId>(&path.1, "webhook")?;
    let deliveries = state.webhook_deliveries(&path.0, id, &query::<DeliveryPage>(&req)?).await?;
    Ok(page(&deliveries, DeliveryOut::from))
}

/// Queues a test delivery to this endpoint alone: one event of type `webhook.test` (`data`:
/// `{"endpoint_id"}`), whatever types the endpoint receives, signed, retried and listed like any
/// other. Answers the delivery.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The endpoint's id."),
    ),
    responses(
        (status = 202, description = "Queued.", body = DeliveryOut),
        (status = 404, description = "No such tenant or endpoint.", body = ErrorBody, example = json!({"message": "webhook not found"})),
    ),
    security(("bearer" = []))
)]
#[post("/admin/v1/tenants/{subdomain}/webhooks/{id}/test")]
pub async fn test_webhook(
    _: AdminAuth,
    state: web::Data<Service>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let delivery = state.test_webhook(&path.0, path_id::<EndpointId>(&path.1, "webhook")?).await?;
    Ok(HttpResponse::Accepted().json(DeliveryOut::from(&delivery)))
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
    let (id, delivery_id) = (path_id::<EndpointId>(&path.1, "webhook")?, path_id::<DeliveryId>(&path.2, "delivery")?);
    let delivery = state.retry_webhook_delivery(&path.0, id, delivery_id).await?;
    Ok(HttpResponse::Accepted().json(DeliveryOut::from(&delivery)))
}
