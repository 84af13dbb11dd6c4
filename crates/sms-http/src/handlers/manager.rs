//! The platform's Manager API exports (SPEC section 13.2): bare JSON arrays with the platform's
//! paging headers, for the data pipelines written against it.

use actix_web::{get, web, HttpRequest, HttpResponse};
use sms_service::{AgentExport, AgentExportQuery, Asked, ChatExport, ChatExportQuery, Exported, Organization, Service};

use super::query;
use crate::auth;
use crate::error::{ApiError, ErrorBody};

/// The tenant's organization settings: the platform's "Get organization settings", a credential
/// check for data pipelines.
#[utoipa::path(
    tag = "manager",
    responses((status = 200, description = "The tenant's settings.", body = Organization)),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/manager/api/v1/settings/organization")]
pub async fn organization(req: HttpRequest, state: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    Ok(HttpResponse::Ok().json(state.organization(&tenant)))
}

/// Exports the tenant's chats: the platform's "List chats", for reporting.
///
/// A bare array of chat objects with the figures of reports. Paging headers: `total` and
/// `X-Total-Count` (all matching chats), `per-page`, and `Link` with the absolute URLs of the
/// same query's next and previous pages (built from `SMS_PUBLIC_URL`). Ties on the sort column
/// are broken by `id` in the same direction. An incremental export asks for
/// `sort_column=updated_at&updated_at[from]=<the last updated_at seen>` and misses no change.
#[utoipa::path(
    tag = "manager",
    params(ChatExportQuery),
    responses(
        (status = 200, description = "A page of chats.", body = Vec<ChatExport>, headers(
            ("total" = i64, description = "Chats matching the query, over all pages."),
            ("per-page" = i64, description = "The page size."),
            ("X-Total-Count" = i64, description = "As `total`."),
            ("Link" = String, description = "`<URL>; rel=\"next\"` and `<URL>; rel=\"prev\"` where they apply, joined by `, `."),
        )),
        (status = 400, description = "A query fault, naming the parameter.", body = ErrorBody, examples(
            ("sort" = (value = json!({"message": "sort_column must be one of id, created_at, updated_at"}))),
            ("date" = (value = json!({"message": "updated_at[from] must be an RFC 3339 date-time or a date (YYYY-MM-DD)"}))),
            ("per" = (value = json!({"message": "per must be an integer from 1 to 100"}))),
        )),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/manager/api/v1/chats")]
pub async fn export_chats(req: HttpRequest, state: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let exported = state.export_chats(&tenant, &query::<ChatExportQuery>(&req)?, asked(&req)).await?;
    Ok(paged(exported))
}

/// Exports the tenant's agents: the platform's "List agents", for reporting.
///
/// Paged and sorted as the chat export; `sort_column` is `id`, `created_at` or
/// `status_updated_at`.
#[utoipa::path(
    tag = "manager",
    params(AgentExportQuery),
    responses(
        (status = 200, description = "A page of agents.", body = Vec<AgentExport>, headers(
            ("total" = i64, description = "Agents matching the query, over all pages."),
            ("per-page" = i64, description = "The page size."),
            ("X-Total-Count" = i64, description = "As `total`."),
            ("Link" = String, description = "`<URL>; rel=\"next\"` and `<URL>; rel=\"prev\"` where they apply, joined by `, `."),
        )),
        (status = 400, description = "A query fault, naming the parameter.", body = ErrorBody, example = json!({"message": "sort_column must be one of id, created_at, status_updated_at"})),
    ),
    security(("basic" = []), ("bearer" = []))
)]
#[get("/manager/api/v1/agents")]
pub async fn export_agents(req: HttpRequest, state: web::Data<Service>) -> Result<HttpResponse, ApiError> {
    let tenant = auth::tenant(&req, &state).await?;
    let exported = state.export_agents(&tenant, &query::<AgentExportQuery>(&req)?, asked(&req)).await?;
    Ok(paged(exported))
}

fn asked(req: &HttpRequest) -> Asked<'_> {
    Asked { path: req.path(), query: req.query_string() }
}

fn paged<T: serde::Serialize>(exported: Exported<T>) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response
        .insert_header(("total", exported.total.to_string()))
        .insert_header(("per-page", exported.per.to_string()))
        .insert_header(("X-Total-Count", exported.total.to_string()));
    if !exported.links.is_empty() {
        response.insert_header(("Link", exported.links.join(", ")));
    }
    response.json(exported.items)
}
