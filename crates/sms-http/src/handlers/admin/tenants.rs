//! Tenants.

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use sms_domain::admin::{TenantDraft, TenantUpdate};
use sms_service::Service;

use super::super::{page, query};
use crate::auth::AdminAuth;
use crate::body::{JsonBody, OptionalJsonBody};
use crate::error::{ApiError, ErrorBody};
use crate::wire::admin::{TenantCreate, TenantJwtOut, TenantJwtRequest, TenantOut, TenantPatch};
use sms_service::PageQuery;

/// Creates a tenant.
#[utoipa::path(
    tag = "admin",
    request_body = TenantCreate,
    responses(
        (status = 201, description = "Created.", body = TenantOut),
        (status = 400, description = "Invalid fields.", body = ErrorBody, example = json!({"message": "subdomain must be 1 to 63 characters of a-z, 0-9 and -"})),
        (status = 409, description = "The subdomain is taken.", body = ErrorBody, example = json!({"message": "tenant already exists"})),
    ),
    security(("bearer" = []))
)]
#[post("/admin/v1/tenants")]
pub async fn create_tenant(
    _: AdminAuth,
    state: web::Data<Service>,
    body: JsonBody<TenantCreate>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.create_tenant(TenantDraft::try_from(body.0)?).await?;
    Ok(HttpResponse::Created().json(TenantOut::from(&tenant)))
}

/// Lists tenants.
#[utoipa::path(
    tag = "admin",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of the tenants.", body = Vec<TenantOut>, headers(("X-Total-Count" = i64, description = "Items over all pages."))),
        (status = 400, description = "Paging out of range.", body = ErrorBody, example = json!({"message": "per must be an integer from 1 to 100"})),
    ),
    security(("bearer" = []))
)]
#[get("/admin/v1/tenants")]
pub async fn list_tenants(_: AdminAuth, req: HttpRequest, state: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    Ok(page(&state.tenants(&query::<PageQuery>(&req)?).await?, TenantOut::from))
}

/// Reads a tenant.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    responses(
        (status = 200, description = "The tenant.", body = TenantOut),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[get("/admin/v1/tenants/{subdomain}")]
pub async fn get_tenant(
    _: AdminAuth,
    state: web::Data<Service>,
    subdomain: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(TenantOut::from(&state.tenant(&subdomain).await?)))
}

/// Changes a tenant's settings; `subdomain` cannot change.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    request_body = TenantPatch,
    responses(
        (status = 200, description = "The tenant as changed.", body = TenantOut),
        (status = 400, description = "Invalid fields, or a new subdomain.", body = ErrorBody, example = json!({"message": "subdomain cannot be changed"})),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[patch("/admin/v1/tenants/{subdomain}")]
pub async fn patch_tenant(
    _: AdminAuth,
    state: web::Data<Service>,
    subdomain: web::Path<String>,
    body: JsonBody<TenantPatch>,
) -> Result<HttpResponse, ApiError> {
    let tenant = state.update_tenant(&subdomain, TenantUpdate::try_from(body.0)?).await?;
    Ok(HttpResponse::Ok().json(TenantOut::from(&tenant)))
}

/// Revokes every tenant JWT of the tenant issued until now: from this moment they answer 401
/// on every instance, while its API tokens, admin tokens and other tenants' JWTs keep working.
/// Tenant JWTs issued afterwards work.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[post("/admin/v1/tenants/{subdomain}/jwt/revoke")]
pub async fn revoke_tenant_jwts(
    _: AdminAuth,
    state: web::Data<Service>,
    subdomain: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.revoke_tenant_jwts(&subdomain).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Issues a tenant JWT, so an integration never needs the secret that also signs admin tokens.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    request_body(content = Option<TenantJwtRequest>, content_type = "application/json"),
    responses(
        (status = 201, description = "The token.", body = TenantJwtOut),
        (status = 400, description = "A lifetime out of range.", body = ErrorBody, example = json!({"message": "ttl_seconds must be between 1 and 2592000"})),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[post("/admin/v1/tenants/{subdomain}/jwt")]
pub async fn issue_tenant_jwt(
    _: AdminAuth,
    state: web::Data<Service>,
    subdomain: web::Path<String>,
    body: OptionalJsonBody<TenantJwtRequest>,
) -> Result<HttpResponse, ApiError> {
    let issued = state.issue_tenant_jwt(&subdomain, body.0.unwrap_or_default().ttl_seconds).await?;
    Ok(HttpResponse::Created().json(TenantJwtOut::from(issued)))
}
