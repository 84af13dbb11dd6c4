//! Credentials.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};
use sms_http::auth::unix_now;

use crate::common::{msg, read, seed_body};
use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp, JWT_SECRET};

fn sign(alg: Algorithm, secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap_or_default()
}

fn unsigned(claims: &Value) -> String {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(claims))
}

async fn with_auth(app: &TestApp, method: Method, path: &str, auth: Option<&str>) -> (u16, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(value) = auth {
        req = req.header("Authorization", value);
    }
    if path == "/apps/api/v1/sms" {
        req = req.json(&seed_body());
    }
    read(req.send().await.unwrap()).await
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

async fn tenant_api_credentials(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let other = app.tenant("other").await;
    let sms = "/apps/api/v1/sms";
    let unauthorized = (401, msg("invalid credentials"));
    assert_eq!(with_auth(&app, Method::POST, sms, None).await, (401, msg("authentication required")));
    assert_eq!(with_auth(&app, Method::GET, "/apps/api/v1/chats", None).await, (401, msg("authentication required")));
    assert_eq!(with_auth(&app, Method::GET, "/apps/api/v1/chats/1", None).await, (401, msg("authentication required")));
    assert_eq!(
        with_auth(&app, Method::POST, "/apps/api/v1/chats/1/end", None).await,
        (401, msg("authentication required"))
    );
    for bad in [
        basic("acme", "wrong"),
        basic("acme", ""),
        basic("nobody", &t.token),
        basic("other", &t.token),
        basic("acme", &other.token),
        "Basic !!!".to_owned(),
        "Digest abc".to_owned(),
        "Bearer not.a.jwt".to_owned(),
    ] {
        assert_eq!(with_auth(&app, Method::POST, sms, Some(&bad)).await, unauthorized, "{bad}");
    }
    let resp = app.client.post(app.url(sms)).json(&seed_body()).send().await.unwrap();
    assert!(resp.headers().get("www-authenticate").is_some_and(|v| v.to_str().unwrap_or_default().contains("Basic")));

    // Basic with the tenant's token works, and so does a tenant JWT.
    assert_eq!(with_auth(&app, Method::GET, "/apps/api/v1/chats", Some(&basic("acme", &t.token))).await.0, 200);
    let exp = unix_now() + 600;
    let good =
        sign(Algorithm::HS256, JWT_SECRET, &json!({"sub": "crm", "role": "tenant", "tenant": "acme", "exp": exp}));
    let (status, chat) = with_auth(&app, Method::POST, sms, Some(&format!("Bearer {good}"))).await;
    assert_eq!(status, 200, "{chat}");

    // JWTs that must be refused.
    let bad_jwts = [
        sign(
            Algorithm::HS256,
            "another-secret-another-secret-another",
            &json!({"sub": "crm", "role": "tenant", "tenant": "acme", "exp": exp}),
        ),
        sign(Algorithm::HS512, JWT_SECRET, &json!({"sub": "crm", "role": "tenant", "tenant": "acme", "exp": exp})),
        sign(Algorithm::HS256, JWT_SECRET, &json!({"sub": "crm", "role": "tenant", "tenant": "acme"})),
        sign(
            Algorithm::HS256,
            JWT_SECRET,
            &json!({"sub": "crm", "role": "tenant", "tenant": "acme", "exp": unix_now() - 5}),
        ),
        sign(Algorithm::HS256, JWT_SECRET, &json!({"role": "tenant", "tenant": "acme", "exp": exp})),
        sign(Algorithm::HS256, JWT_SECRET, &json!({"sub": "crm", "role": "tenant", "tenant": "nobody", "exp": exp})),
        sign(Algorithm::HS256, JWT_SECRET, &json!({"sub": "crm", "role": "tenant", "exp": exp})),
        sign(Algorithm::HS256, JWT_SECRET, &json!({"sub": "crm", "tenant": "acme", "exp": exp})),
        sign(Algorithm::HS256, JWT_SECRET, &json!({"sub": "crm", "role": "superuser", "tenant": "acme", "exp": exp})),
        unsigned(&json!({"sub": "crm", "role": "tenant", "tenant": "acme", "exp": exp})),
    ];
    for jwt in &bad_jwts {
        assert_eq!(
            with_auth(&app, Method::GET, "/apps/api/v1/chats", Some(&format!("Bearer {jwt}"))).await,
            unauthorized,
            "{jwt}"
        );
    }
    // An admin JWT is valid but has no right to a tenant's API.
    let admin = format!("Bearer {}", app.admin_token);
    assert_eq!(
        with_auth(&app, Method::GET, "/apps/api/v1/chats", Some(&admin)).await,
        (403, msg("an admin token cannot use the tenant API"))
    );
}

async fn admin_api_credentials(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.tenant("acme").await;
    let path = "/admin/v1/tenants";
    assert_eq!(with_auth(&app, Method::GET, path, None).await, (401, msg("authentication required")));
    let unauthorized = (401, msg("invalid credentials"));
    assert_eq!(with_auth(&app, Method::GET, path, Some(&basic("acme", &t.token))).await, unauthorized);
    let exp = unix_now() + 600;
    for jwt in [
        sign(
            Algorithm::HS256,
            "another-secret-another-secret-another",
            &json!({"sub": "ops", "role": "admin", "exp": exp}),
        ),
        sign(Algorithm::HS384, JWT_SECRET, &json!({"sub": "ops", "role": "admin", "exp": exp})),
        sign(Algorithm::HS256, JWT_SECRET, &json!({"sub": "ops", "role": "admin"})),
        sign(Algorithm::HS256, JWT_SECRET, &json!({"sub": "ops", "role": "admin", "exp": unix_now() - 1})),
        sign(Algorithm::HS256, JWT_SECRET, &json!({"role": "admin", "exp": exp})),
        unsigned(&json!({"sub": "ops", "role": "admin", "exp": exp})),
    ] {
        assert_eq!(with_auth(&app, Method::GET, path, Some(&format!("Bearer {jwt}"))).await, unauthorized, "{jwt}");
    }
    let tenant_jwt =
        sign(Algorithm::HS256, JWT_SECRET, &json!({"sub": "crm", "role": "tenant", "tenant": "acme", "exp": exp}));
    assert_eq!(
        with_auth(&app, Method::GET, path, Some(&format!("Bearer {tenant_jwt}"))).await,
        (403, msg("a tenant token cannot use the admin API"))
    );
    // Credentials are checked before the body.
    let resp = app.client.post(app.url(path)).header("Content-Type", "text/plain").body("x").send().await;
    assert_eq!(read(resp.unwrap()).await, (401, msg("authentication required")));
    let good =
        sign(Algorithm::HS256, JWT_SECRET, &json!({"sub": "ops", "role": "admin", "exp": exp, "iat": unix_now()}));
    assert_eq!(with_auth(&app, Method::GET, path, Some(&format!("Bearer {good}"))).await.0, 200);
}

async fn revoked_token_fails_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    assert_eq!(app.tenant_call(&t, Method::GET, "/apps/api/v1/chats").await.0, 200);
    let (_, tokens) = app.admin_call(Method::GET, "/admin/v1/tenants/acme/api-tokens").await;
    let id = tokens[0]["id"].clone();
    assert_eq!(
        app.admin_call(Method::DELETE, &format!("/admin/v1/tenants/acme/api-tokens/{id}")).await,
        (204, Value::Null)
    );
    assert_eq!(app.tenant_call(&t, Method::GET, "/apps/api/v1/chats").await, (401, msg("invalid credentials")));
    assert_eq!(app.send_sms(&t, &seed_body()).await, (401, msg("invalid credentials")));
}

/// Authentication is cached; a tenant's change through the admin API still applies to the very
/// next request.
async fn tenant_changes_apply_at_once(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.auth_cache_ttl = std::time::Duration::from_secs(60)).await;
    let t = app.seed_tenant("acme").await;
    assert_eq!(app.tenant_call(&t, Method::GET, "/apps/api/v1/chats").await.0, 200);
    assert_eq!(app.tenant_call(&t, Method::GET, "/apps/api/v1/chats").await.0, 200);
    let (status, _) =
        app.admin_json(Method::PATCH, "/admin/v1/tenants/acme", json!({"outbound_sms_enabled": false})).await;
    assert_eq!(status, 200);
    assert_eq!(app.send_sms(&t, &seed_body()).await, (400, msg("Outbound SMS is not enabled")));
    let (status, _) =
        app.admin_json(Method::PATCH, "/admin/v1/tenants/acme", json!({"outbound_sms_enabled": true})).await;
    assert_eq!(status, 200);
    assert_eq!(app.send_sms(&t, &seed_body()).await.0, 200);
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    tenant_api_credentials,
    admin_api_credentials,
    revoked_token_fails_at_once,
    tenant_changes_apply_at_once,
);

/// PostgreSQL + Redis: a token revoked through one instance is refused at once by another,
/// which had it cached (TTL of a minute, so only the notice over Redis can clear it).
#[actix_web::test]
async fn revocation_reaches_every_instance() {
    let app = spawn_app_with(Backend::Postgres, |c| c.auth_cache_ttl = std::time::Duration::from_secs(60)).await;
    let t = app.seed_tenant("acme").await;
    let other = app.another_instance();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !other.state.auth_cache_in_use() {
        assert!(std::time::Instant::now() < deadline, "the second instance never subscribed to tenant changes");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let call = |address: &str| {
        app.client.get(format!("{address}/apps/api/v1/chats")).basic_auth(&t.subdomain, Some(&t.token)).send()
    };
    for _ in 0..2 {
        assert_eq!(read(call(&other.address).await.unwrap()).await.0, 200);
    }
    let (_, tokens) = app.admin_call(Method::GET, "/admin/v1/tenants/acme/api-tokens").await;
    let id = tokens[0]["id"].clone();
    assert_eq!(
        app.admin_call(Method::DELETE, &format!("/admin/v1/tenants/acme/api-tokens/{id}")).await,
        (204, Value::Null)
    );
    // The notice crosses Redis asynchronously: allow it a moment, far below the TTL.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let answer = read(call(&other.address).await.unwrap()).await;
        if answer == (401, msg("invalid credentials")) {
            break;
        }
        assert_eq!(answer.0, 200);
        assert!(std::time::Instant::now() < deadline, "the other instance still accepts the revoked token");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
