//! A tenant's outbound numbers.

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use sms_domain::NumberId;
use sms_service::Service;

use super::super::{page, path_id, query};
use crate::auth::AdminAuth;
use crate::body::JsonBody;
use crate::error::{ApiError, ErrorBody};
use crate::wire::admin::{OutboundNumberCreate, OutboundNumberOut};
use sms_service::PageQuery;

/// Registers an outbound number for the tenant.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    request_body = OutboundNumberCreate,
    responses(
        (status = 201, description = "Registered.", body = OutboundNumberOut),
        (status = 400, description = "Missing, invalid or non-US number.", body = ErrorBody, example = json!({"message": "Non-US phone number not allowed"})),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
        (status = 409, description = "The number is registered already (by any tenant).", body = ErrorBody, example = json!({"message": "outbound number is already registered"})),
    ),
    security(("bearer" = []))
)]
#[post("/admin/v1/tenants/{subdomain}/outbound-numbers")]
pub async fn create_outbound_number(
    _: AdminAuth,
    state: web::Data<Service>,
    subdomain: web::Path<String>,
    body: JsonBody<OutboundNumberCreate>,
) -> Result<HttpResponse, ApiError> {
    let number = state.add_outbound_number(&subdomain, body.0.number.as_deref()).await?;
    Ok(HttpResponse::Created().json(OutboundNumberOut::from(&number)))
}

/// Lists the tenant's outbound numbers.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain."), PageQuery),
    responses(
        (status = 200, description = "A page of numbers.", body = Vec<OutboundNumberOut>, headers(("X-Total-Count" = i64, description = "Items over all pages."))),
        (status = 400, description = "Paging out of range.", body = ErrorBody, example = json!({"message": "per must be an integer from 1 to 100"})),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[get("/admin/v1/tenants/{subdomain}/outbound-numbers")]
pub async fn list_outbound_numbers(
    _: AdminAuth,
    req: HttpRequest,
    state: web::Data<Service>,
    subdomain: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(page(&state.outbound_numbers(&subdomain, &query::<PageQuery>(&req)?).await?, OutboundNumberOut::from))
}

/// Takes an outbound number away from the tenant. In the same transaction its active chats end
/// (`disconnected_by_system`, with their `chat.ended` events) and its messages not yet sent fail
/// with error `number removed`; replies in those chats answer 409 and the delivery worker sends
/// nothing from a number the tenant no longer owns. The number may then be registered again.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The number's id."),
    ),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, description = "No such tenant or number.", body = ErrorBody, example = json!({"message": "outbound number not found"})),
    ),
    security(("bearer" = []))
)]
#[delete("/admin/v1/tenants/{subdomain}/outbound-numbers/{id}")]
pub async fn delete_outbound_number(
    _: AdminAuth,
    state: web::Data<Service>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    state.remove_outbound_number(&path.0, path_id::<NumberId>(&path.1, "outbound number")?).await?;
    Ok(HttpResponse::NoContent().finish())
}
