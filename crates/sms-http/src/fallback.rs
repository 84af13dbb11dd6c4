//! JSON for everything actix would otherwise answer in plain text: unknown routes (404), known
//! routes with another method (405), and any error response without a JSON body.

use actix_web::body::MessageBody;
use actix_web::dev::{ResourceDef, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::error::{ApiError, ErrorBody};

/// Every documented path with its methods, read from the generated OpenAPI document so it
/// cannot drift from the routes.
pub struct RouteTable(Vec<(ResourceDef, Vec<String>)>);

impl RouteTable {
    pub fn from_openapi(api: &utoipa::openapi::OpenApi) -> Self {
        let mut routes = Vec::new();
        if let Ok(serde_json::Value::Object(paths)) = serde_json::to_value(&api.paths.paths) {
            for (path, item) in paths {
                let methods = item
                    .as_object()
                    .map(|ops| {
                        ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
                            .into_iter()
                            .filter(|m| ops.contains_key(*m))
                            .map(str::to_uppercase)
                            .collect()
                    })
                    .unwrap_or_default();
                routes.push((ResourceDef::new(path), methods));
            }
        }
        // The docs UI is a route too, though not an operation of the API.
        routes.push((ResourceDef::root_prefix("/docs"), vec!["GET".into()]));
        Self(routes)
    }

    fn allowed(&self, path: &str) -> Option<String> {
        let methods: Vec<&str> = self
            .0
            .iter()
            .filter(|(def, _)| def.is_match(path))
            .flat_map(|(_, m)| m.iter().map(String::as_str))
            .collect();
        (!methods.is_empty()).then(|| methods.join(", "))
    }
}

/// The default service: 405 with `Allow` for a known path, 404 otherwise.
pub async fn unmatched(req: HttpRequest, routes: web::Data<RouteTable>) -> HttpResponse {
    match routes.allowed(req.path()) {
        Some(allow) => ApiError::method_not_allowed(allow),
        None => ApiError::new(actix_web::http::StatusCode::NOT_FOUND, "not found"),
    }
    .error_response()
}

/// Rewrites an error response that is not JSON (actix's own plain-text errors) into the
/// envelope, keeping its status and headers.
pub fn json_envelope<B: MessageBody + 'static>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // JSON is already the envelope; the console's pages are its own.
    let is_own = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if is_own {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let message = status.canonical_reason().unwrap_or("error").to_lowercase();
    let (req, old) = res.into_parts();
    let mut new = HttpResponse::build(status);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.append_header((name.clone(), value.clone()));
        }
    }
    let body = serde_json::to_vec(&ErrorBody { message, chat_id: None }).unwrap_or_default();
    let new = new.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/json"))).body(body);
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, new.map_into_boxed_body()).map_into_right_body()))
}
