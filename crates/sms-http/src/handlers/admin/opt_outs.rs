//! The consumers who opted out of a tenant's messages.

use actix_web::{delete, get, web, HttpRequest, HttpResponse};
use sms_service::Service;

use super::super::{page, query};
use crate::auth::AdminAuth;
use crate::error::{ApiError, ErrorBody};
use crate::wire::admin::OptOutOut;
use sms_service::PageQuery;

/// Lists the consumers who opted out of the tenant's messages (by replying STOP).
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain."), PageQuery),
    responses(
        (status = 200, description = "A page of opted-out numbers.", body = Vec<OptOutOut>, headers(("X-Total-Count" = i64, description = "Items over all pages."))),
        (status = 400, description = "Paging out of range.", body = ErrorBody, example = json!({"message": "per must be an integer from 1 to 100"})),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[get("/admin/v1/tenants/{subdomain}/opt-outs")]
pub async fn list_opt_outs(
    _: AdminAuth,
    req: HttpRequest,
    state: web::Data<Service>,
    subdomain: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(page(&state.opt_outs(&subdomain, &query::<PageQuery>(&req)?).await?, OptOutOut::from))
}

/// Removes an opt-out, so the tenant may text the number again.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("number" = String, Path, description = "The number, any common US format (URL-encoded)."),
    ),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, description = "No such tenant, or the number is not opted out.", body = ErrorBody, example = json!({"message": "opt-out not found"})),
    ),
    security(("bearer" = []))
)]
#[delete("/admin/v1/tenants/{subdomain}/opt-outs/{number}")]
pub async fn delete_opt_out(
    _: AdminAuth,
    state: web::Data<Service>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    state.remove_opt_out(&path.0, &path.1).await?;
    Ok(HttpResponse::NoContent().finish())
}
