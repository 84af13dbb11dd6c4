//! Every error is JSON, including unknown routes and methods; operational
//! endpoints.

use reqwest::Method;
use serde_json::Value;

use crate::common::{msg, read};
use crate::helpers::{spawn_app, Backend};

async fn unknown_routes_and_methods(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/", "/nope", "/apps/api/v1", "/apps/api/v1/smss", "/admin/v1/tenants/a/b/c"] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
        assert_eq!(read(resp).await, (404, msg("not found")), "{path}");
    }
    for (method, path, allow) in [
        (Method::GET, "/apps/api/v1/sms", "POST"),
        (Method::PUT, "/apps/api/v1/sms", "POST"),
        (Method::DELETE, "/apps/api/v1/chats/1", "GET, PATCH"),
        (Method::POST, "/manager/api/v1/chats", "GET"),
        (Method::GET, "/apps/api/v1/chats/1/end", "POST"),
        (Method::DELETE, "/admin/v1/tenants", "GET, POST"),
        (Method::POST, "/healthz", "GET"),
    ] {
        let resp = app.client.request(method.clone(), app.url(path)).send().await.unwrap();
        let allowed = resp.headers().get("allow").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let mut got: Vec<String> = allowed.unwrap_or_default().split(", ").map(str::to_owned).collect();
        got.sort();
        assert_eq!(got.join(", "), allow, "{method} {path}");
        assert_eq!(read(resp).await, (405, msg("method not allowed")), "{method} {path}");
    }
}

async fn operational_endpoints(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(
        read(app.client.get(app.url("/healthz")).send().await.unwrap()).await,
        (200, serde_json::json!({"status": "ok"}))
    );
    assert_eq!(
        read(app.client.get(app.url("/readyz")).send().await.unwrap()).await,
        (200, serde_json::json!({"status": "ready", "database": "ok", "session_lock": "ok"}))
    );
    let (status, doc) = read(app.client.get(app.url("/openapi.json")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(doc, serde_json::from_str::<Value>(&sms_http::openapi_json()).unwrap_or_default());
    let resp = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let page = resp.text().await.unwrap_or_default();
    assert!(page.contains("swagger-ui"), "the docs UI is served from the binary");
    assert!(!page.contains("https://"), "the docs page loads nothing from the internet");
    let resp = app.client.get(app.url("/docs/swagger-initializer.js")).send().await.unwrap();
    let script = resp.text().await.unwrap_or_default();
    assert!(script.contains("/openapi.json"), "{script}");
    let resp = app.client.get(app.url("/docs")).send().await.unwrap();
    assert!(resp.status().is_redirection());
    // Shutting down (SIGTERM): not ready at once, whatever the dependencies say; alive still.
    app.state.begin_shutdown();
    assert_eq!(
        read(app.client.get(app.url("/readyz")).send().await.unwrap()).await,
        (503, serde_json::json!({"message": "shutting down", "database": "ok", "session_lock": "ok"}))
    );
    assert_eq!(
        read(app.client.get(app.url("/healthz")).send().await.unwrap()).await,
        (200, serde_json::json!({"status": "ok"}))
    );
}

sms_test_support::on_both_backends!(attr = actix_web::test; unknown_routes_and_methods, operational_endpoints);
