//! A tenant's API tokens: shown once at creation, revocable at once.

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use sms_domain::TokenId;
use sms_service::Service;

use super::super::{page, path_id, query};
use crate::auth::AdminAuth;
use crate::error::{ApiError, ErrorBody};
use crate::wire::admin::{ApiTokenCreated, ApiTokenOut};
use sms_service::PageQuery;

/// Issues an API token for the tenant; the token is in this answer only.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    responses(
        (status = 201, description = "The new token.", body = ApiTokenCreated),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[post("/admin/v1/tenants/{subdomain}/api-tokens")]
pub async fn create_api_token(
    _: AdminAuth,
    state: web::Data<Service>,
    subdomain: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(ApiTokenCreated::from(state.issue_api_token(&subdomain).await?)))
}

/// Lists the tenant's API tokens (never the tokens themselves).
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain."), PageQuery),
    responses(
        (status = 200, description = "A page of tokens.", body = Vec<ApiTokenOut>, headers(("X-Total-Count" = i64, description = "Items over all pages."))),
        (status = 400, description = "Paging out of range.", body = ErrorBody, example = json!({"message": "per must be an integer from 1 to 100"})),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[get("/admin/v1/tenants/{subdomain}/api-tokens")]
pub async fn list_api_tokens(
    _: AdminAuth,
    req: HttpRequest,
    state: web::Data<Service>,
    subdomain: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(page(&state.api_tokens(&subdomain, &query::<PageQuery>(&req)?).await?, ApiTokenOut::from))
}

/// Revokes an API token at once.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The token's id."),
    ),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, description = "No such tenant or token.", body = ErrorBody, example = json!({"message": "api token not found"})),
    ),
    security(("bearer" = []))
)]
#[delete("/admin/v1/tenants/{subdomain}/api-tokens/{id}")]
pub async fn revoke_api_token(
    _: AdminAuth,
    state: web::Data<Service>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    state.revoke_api_token(&path.0, path_id::<TokenId>(&path.1, "api token")?).await?;
    Ok(HttpResponse::NoContent().finish())
}
