//! What an attacker meets at the edge (SPEC version 3): tenant JWTs can be revoked, failed
//! authentication is bounded per client address (the client named by a trusted proxy), a body
//! that never arrives is refused, and every metric exists from the start, on an address of its
//! own when asked.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use sms_domain::network::Networks;
use sms_server::Application;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{msg, read};
use crate::helpers::{config_for, spawn_app, spawn_app_with, Backend, TestApp};

async fn with_bearer(app: &TestApp, jwt: &str) -> (u16, Value) {
    read(app.client.get(app.url("/apps/api/v1/chats")).bearer_auth(jwt).send().await.unwrap()).await
}

async fn tenant_jwt(app: &TestApp, subdomain: &str) -> String {
    let (status, issued) = app.admin_json(Method::POST, &format!("/admin/v1/tenants/{subdomain}/jwt"), json!({})).await;
    assert_eq!(status, 201, "{issued}");
    issued["token"].as_str().unwrap().to_owned()
}

/// A leaked tenant JWT can be revoked: every one of the tenant's JWTs issued until then answers
/// 401, while its API tokens, another tenant's JWTs and the JWTs issued afterwards work.
async fn tenant_jwts_can_be_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.seed_tenant("acme").await;
    app.tenant("globex").await;
    let (leaked, theirs) = (tenant_jwt(&app, "acme").await, tenant_jwt(&app, "globex").await);
    assert_eq!(with_bearer(&app, &leaked).await.0, 200);
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, leaked.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(claims["jti"].as_str().is_some_and(|jti| jti.len() >= 16), "a jti: {claims}");
    assert_eq!(app.admin_call(Method::POST, "/admin/v1/tenants/acme/jwt/revoke").await, (204, Value::Null));
    assert_eq!(with_bearer(&app, &leaked).await, (401, msg("invalid credentials")));
    assert_eq!(app.tenant_call(&acme, Method::GET, "/apps/api/v1/chats").await.0, 200, "its API tokens");
    assert_eq!(with_bearer(&app, &theirs).await.0, 200, "another tenant's JWTs");
    let fresh = tenant_jwt(&app, "acme").await;
    assert_eq!(with_bearer(&app, &fresh).await.0, 200, "a JWT issued after the revocation");
    assert_eq!(app.admin_call(Method::POST, "/admin/v1/tenants/nope/jwt/revoke").await, (404, msg("tenant not found")));
}

/// Past 60 failed authentications in a minute an address is refused (429 `too many failed
/// attempts`, with `Retry-After`) before any query, its right credentials too unless they
/// worked from this instance within the minute; behind a trusted proxy, the client is the
/// address the proxy names.
async fn failed_authentication_is_bounded(backend: Backend) {
    let app = spawn_app_with(backend, |config| {
        config.edge.trusted_proxies = Networks::parse("127.0.0.1/32").unwrap();
    })
    .await;
    let acme = app.seed_tenant("acme").await;
    let globex = app.seed_tenant_other().await;
    assert_eq!(app.tenant_call(&acme, Method::GET, "/apps/api/v1/chats").await.0, 200, "acme's worked");
    let from = |client: &str, token: &str| {
        app.client
            .get(app.url("/apps/api/v1/chats"))
            .basic_auth("acme", Some(token))
            .header("X-Forwarded-For", format!("203.0.113.9, {client}"))
    };
    for i in 0..60 {
        assert_eq!(from("198.51.100.1", &format!("wrong-{i}")).send().await.unwrap().status().as_u16(), 401);
    }
    assert_eq!(read(from("198.51.100.1", "wrong-60").send().await.unwrap()).await.0, 401, "the 61st still counts");
    let refused = from("198.51.100.1", "wrong-61").send().await.unwrap();
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(read(refused).await, (429, msg("too many failed attempts")));
    let unused = sms_http::JwtKeys::new(crate::helpers::JWT_SECRET.as_bytes()).admin_token(601).unwrap();
    let admin =
        app.client.get(app.url("/admin/v1/tenants")).bearer_auth(unused).header("X-Forwarded-For", "198.51.100.1");
    assert_eq!(read(admin.send().await.unwrap()).await.0, 429, "the admin API too, for a token that never worked here");
    let worked = from("198.51.100.1", &acme.token).send().await.unwrap();
    assert_eq!(worked.status().as_u16(), 200, "a credential that worked from this instance keeps working");
    let globex_from_there = app
        .client
        .get(app.url("/apps/api/v1/chats"))
        .basic_auth(&globex.subdomain, Some(&globex.token))
        .header("X-Forwarded-For", "198.51.100.1");
    assert_eq!(globex_from_there.send().await.unwrap().status().as_u16(), 429, "a right one that never worked here");
    assert_eq!(from("198.51.100.2", "wrong").send().await.unwrap().status().as_u16(), 401, "another client");
}

/// A body that has not fully arrived within `SMS_BODY_TIMEOUT_SECS` answers 408 and frees its
/// connection.
async fn a_slow_body_is_refused(backend: Backend) {
    let app = spawn_app_with(backend, |config| config.edge.body_timeout = Duration::from_secs(1)).await;
    let acme = app.seed_tenant("acme").await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let credentials = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", acme.subdomain, acme.token),
    );
    let head = format!(
        "POST /apps/api/v1/sms HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {credentials}\r\n\
         Content-Type: application/json\r\nContent-Length: 400\r\n\r\n{{\"chat_type\": "
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#"{"message":"request body timed out"}"#), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5), "answered after the timeout: {:?}", started.elapsed());
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    tenant_jwts_can_be_revoked,
    failed_authentication_is_bounded,
    a_slow_body_is_refused,
);

/// Every counter exists from the start, at each value of its bounded labels, so that rates and
/// alerts work before the first occurrence.
#[actix_web::test]
async fn every_metric_exists_from_the_start() {
    let app = spawn_app(Backend::Sqlite).await;
    let (status, text) = read(app.client.get(app.url("/metrics")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let text = text.as_str().unwrap_or_default().to_owned();
    let mut series = vec![
        "sms_rate_limited_total".to_owned(),
        "sms_auth_refused_total".to_owned(),
        "sms_event_backlog".to_owned(),
        "sms_delivery_backlog".to_owned(),
    ];
    series.extend(
        ["acquired", "busy", "taken_over", "error"].map(|o| format!("sms_session_lock_total{{outcome=\"{o}\"}}")),
    );
    series.extend(sms_domain::EventType::ALL.iter().map(|t| format!("sms_events_total{{type=\"{t}\"}}")));
    series.extend(
        ["delivered", "retry", "failed", "gone"].map(|o| format!("sms_event_deliveries_total{{outcome=\"{o}\"}}")),
    );
    series.extend(
        ["sent", "retry", "failed"]
            .map(|o| format!("sms_delivery_attempts_total{{provider=\"twilio\",outcome=\"{o}\"}}")),
    );
    for name in series {
        assert!(text.lines().any(|line| line.starts_with(&format!("{name} "))), "{name} missing from:\n{text}");
    }
}

/// With `SMS_METRICS_BIND`, `/metrics` is served on that address only; the main one answers 404.
#[actix_web::test]
async fn metrics_can_have_an_address_of_their_own() {
    let db = sms_test_support::TestDb::create(Backend::Sqlite);
    let mut config = config_for(Backend::Sqlite, db.url());
    config.edge.metrics_bind = Some("127.0.0.1:0".into());
    let app = Application::build(&config).unwrap();
    let (main, metrics) = (app.port(), app.metrics_port().unwrap());
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let get = |port: u16, path: &str| client.get(format!("http://127.0.0.1:{port}{path}")).send();
    assert_eq!(read(get(main, "/metrics").await.unwrap()).await, (404, msg("not found")));
    let (status, text) = read(get(metrics, "/metrics").await.unwrap()).await;
    assert_eq!(status, 200);
    assert!(text.as_str().unwrap_or_default().contains("sms_rate_limited_total"));
    assert_eq!(get(metrics, "/readyz").await.unwrap().status().as_u16(), 404, "nothing else there");
    assert_eq!(get(main, "/readyz").await.unwrap().status().as_u16(), 200);
    handle.stop(false).await;
}
