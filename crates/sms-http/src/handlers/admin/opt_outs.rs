//! The consumers who opted out of a tenant's messages.

use actix_web::http::header;
use actix_web::{delete, get, web, HttpRequest, HttpResponse};
use sms_service::Service;

use super::super::{page, query};
use crate::auth::AdminAuth;
use crate::error::{ApiError, ErrorBody};
use crate::wire::admin::OptOutOut;
use sms_service::PageQuery;

/// Lists the consumers who opted out of the tenant's messages, each with where it came from.
///
/// With `Accept: text/csv` the whole list (no paging) streams as CSV: a header row
/// (`number,created_at,keyword,outbound_number,message_id`), RFC 4180 quoting, and every cell
/// that begins with `=`, `+`, `-` or `@` prefixed with `'` so that no spreadsheet runs it.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain."), PageQuery),
    responses(
        (status = 200, description = "A page of opted-out numbers, or with `Accept: text/csv` all of them.", headers(("X-Total-Count" = i64, description = "Items over all pages (JSON only).")), content(
            (Vec<OptOutOut> = "application/json"),
            (String = "text/csv", example = "number,created_at,keyword,outbound_number,message_id\r\n'+14155550100,2026-12-05T10:04:40.000Z,Stop,'+16285550199,12\r\n"),
        )),
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
    if wants_csv(&req) {
        let lines = state.opt_outs_csv(&subdomain).await?;
        return Ok(csv_response(&format!("opt-outs-{subdomain}.csv"), lines));
    }
    Ok(page(&state.opt_outs(&subdomain, &query::<PageQuery>(&req)?).await?, OptOutOut::from))
}

/// Whether the client asks for CSV rather than JSON.
pub fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|kind| kind.trim().starts_with("text/csv")))
}

/// A CSV download that streams `lines` as they are read. A fault after the first line can
/// only cut the body short (the status is sent): it is logged, and the client sees a
/// truncated file rather than a wrong one.
pub fn csv_response(
    filename: &str,
    lines: impl futures_util::Stream<Item = Result<String, sms_service::ServiceError>> + 'static,
) -> HttpResponse {
    use futures_util::StreamExt;
    let body = lines.map(|line| {
        line.map(actix_web::web::Bytes::from).map_err(|e| {
            tracing::warn!(error = %e, "a CSV export stopped early");
            actix_web::error::ErrorInternalServerError("export stopped")
        })
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body)
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
