//! Operational endpoints: liveness and readiness. No auth.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use sms_service::Service;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `"ok"`.
    pub status: String,
}

/// Readiness of each dependency.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `"ready"`; absent when not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `"not ready"`; present only when not ready (the error envelope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `"ok"` or `"unavailable"`.
    pub database: String,
    /// `"ok"` or `"unavailable"`.
    pub session_lock: String,
}

/// The process is up.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Up.", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok".into() })
}

/// The OpenAPI document, serialised once at start.
pub struct OpenApiDocument(pub String);

/// This document (OpenAPI 3.1). The docs UI at `/docs` reads it; clients are generated from it.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "The OpenAPI document.", content_type = "application/json", body = Object))
)]
#[get("/openapi.json")]
pub async fn openapi_json(document: web::Data<OpenApiDocument>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(document.0.clone())
}

/// The database and the session lock answer.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready to serve.", body = Readiness, example = json!({"status": "ready", "database": "ok", "session_lock": "ok"})),
        (status = 503, description = "A dependency does not answer, or the instance is shutting down (`message` \"shutting down\").", body = Readiness, example = json!({"message": "not ready", "database": "unavailable", "session_lock": "ok"})),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<Service>) -> HttpResponse {
    let readiness = state.readiness().await;
    let (database_ok, lock_ok) = (readiness.database, readiness.session_lock);
    let word = |ok: bool| if ok { "ok" } else { "unavailable" }.to_owned();
    let ready = readiness.ready();
    let body = Readiness {
        status: ready.then(|| "ready".to_owned()),
        message: match (ready, readiness.shutting_down) {
            (true, _) => None,
            (false, true) => Some("shutting down".to_owned()),
            (false, false) => Some("not ready".to_owned()),
        },
        database: word(database_ok),
        session_lock: word(lock_ok),
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
