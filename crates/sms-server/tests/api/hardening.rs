//! What an attacker or an operator tries: NUL characters, tokens without end, switched-off
//! tenants, unbounded lists and metrics, locks that outlive their reason.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};
use sms_http::auth::unix_now;

use crate::common::{body_with, callback, msg, read, seed_body, twilio};
use crate::fake_provider::FakeProvider;
use crate::helpers::{redis_url, spawn_app, spawn_app_with, Backend, TestApp, JWT_SECRET};

const NUL: &str = "invalid type: string containing the NUL character, expected a string without it";

fn tenant_jwt(claims: &Value) -> String {
    let key = EncodingKey::from_secret(JWT_SECRET.as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).unwrap_or_default()
}

async fn with_bearer(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    read(app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap()).await
}

async fn nul_characters_are_refused_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    app.add_seed_agent(&t).await;
    for (field, value) in [
        ("message", json!("lorem\u{0}ipsum")),
        ("ticket_id", json!("5006\u{0}")),
        ("agentEmail", json!("john.doe@foo.com\u{0}")),
        ("end_user_number", json!("+1 415-555-0100\u{0}")),
    ] {
        let (status, body) = app.send_sms(&t, &body_with(&[(field, value)])).await;
        assert_eq!((status, body), (400, msg(&format!("invalid value for {field}: {NUL}"))), "{field}");
    }
    assert_eq!(app.db.count("chats"), 0, "nothing written");
    let (status, body) =
        app.admin_json(Method::POST, "/admin/v1/tenants", json!({"subdomain": "nul", "name": "N\u{0}ul"})).await;
    assert_eq!((status, body), (400, msg(&format!("invalid value for name: {NUL}"))));
    let (status, body) = app.admin_call(Method::GET, "/admin/v1/tenants/ac%00me").await;
    assert_eq!((status, body), (404, msg("tenant not found")), "a NUL in a path names nothing");
    // The service goes on: the connection was not broken by any of it.
    let (status, _) = app.send_sms(&t, &seed_body()).await;
    assert_eq!(status, 200);
}

async fn jwts_live_at_most_the_cap(backend: Backend) {
    let app = spawn_app(backend).await;
    app.seed_tenant("acme").await;
    let now = unix_now();
    let claims = |iat: Option<u64>, exp: u64| {
        let mut c = json!({"sub": "crm", "role": "tenant", "tenant": "acme", "exp": exp});
        if let Some(iat) = iat {
            c["iat"] = json!(iat);
        }
        tenant_jwt(&c)
    };
    let day = 24 * 3600;
    for (token, expected) in [
        (claims(Some(now), now + 29 * day), 200),
        (claims(None, now + 29 * day), 200),
        (claims(Some(now), now + 31 * day), 401),
        (claims(None, now + 31 * day), 401),
        (claims(Some(now - 40 * day), now + day), 401),
        (claims(Some(now), now + 100 * 365 * day), 401),
    ] {
        let (status, body) = with_bearer(&app, "/apps/api/v1/chats", &token).await;
        assert_eq!(status, expected, "{body}");
        if expected == 401 {
            assert_eq!(body, msg("invalid credentials"));
        }
    }
}

async fn tenant_jwts_are_issued_by_the_admin_api(backend: Backend) {
    let app = spawn_app(backend).await;
    app.seed_tenant("acme").await;
    let (status, issued) =
        app.admin_json(Method::POST, "/admin/v1/tenants/acme/jwt", json!({"ttl_seconds": 120})).await;
    assert_eq!(status, 201, "{issued}");
    let token = issued["token"].as_str().unwrap_or_default().to_owned();
    let expires_at = issued["expires_at"].as_str().unwrap_or_default();
    assert_eq!(expires_at.len(), "2021-10-04T17:20:51.000Z".len(), "{expires_at}");
    let (status, _) = with_bearer(&app, "/apps/api/v1/chats", &token).await;
    assert_eq!(status, 200, "the token works on the tenant API");
    let (status, body) = with_bearer(&app, "/admin/v1/tenants", &token).await;
    assert_eq!((status, body), (403, msg("a tenant token cannot use the admin API")));
    // Its claims, as the contract names them.
    let payload = token.split('.').nth(1).unwrap_or_default();
    let claims: Value = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    assert_eq!(
        (claims["sub"].clone(), claims["role"].clone(), claims["tenant"].clone()),
        (json!("tenant:acme"), json!("tenant"), json!("acme"))
    );
    assert_eq!(claims["exp"].as_u64().unwrap_or_default() - claims["iat"].as_u64().unwrap_or_default(), 120);
    // No body: an hour.
    let resp = app.admin(Method::POST, "/admin/v1/tenants/acme/jwt").send().await.unwrap();
    let (status, issued) = read(resp).await;
    assert_eq!(status, 201, "{issued}");
    for ttl in [json!(0), json!(2_592_001), json!(-5)] {
        let (status, body) =
            app.admin_json(Method::POST, "/admin/v1/tenants/acme/jwt", json!({"ttl_seconds": ttl})).await;
        assert_eq!((status, body), (400, msg("ttl_seconds must be between 1 and 2592000")), "{ttl}");
    }
    let (status, body) = app.admin_json(Method::POST, "/admin/v1/tenants/nobody/jwt", json!({})).await;
    assert_eq!((status, body), (404, msg("tenant not found")));
}

async fn a_deactivated_tenant_is_switched_off(backend: Backend) {
    let fake = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    let t = app.seed_tenant("acme").await;
    let (status, issued) = app.admin_json(Method::POST, "/admin/v1/tenants/acme/jwt", json!({})).await;
    assert_eq!(status, 201);
    let jwt = issued["token"].as_str().unwrap_or_default().to_owned();
    let (status, tenant) = app.admin_call(Method::GET, "/admin/v1/tenants/acme").await;
    assert_eq!((status, tenant["active"].clone()), (200, json!(true)), "active by default");

    let (status, off) = app.admin_json(Method::PATCH, "/admin/v1/tenants/acme", json!({"active": false})).await;
    assert_eq!((status, off["active"].clone()), (200, json!(false)));
    let (status, body) = app.send_sms(&t, &seed_body()).await;
    assert_eq!((status, body), (401, msg("invalid credentials")), "its API tokens");
    let (status, body) = with_bearer(&app, "/apps/api/v1/chats", &jwt).await;
    assert_eq!((status, body), (401, msg("invalid credentials")), "its tenant JWTs");
    let form = [("From", "+14155550100"), ("To", "+16285550199"), ("Body", "hello"), ("MessageSid", "SM1")];
    let (status, body) = callback(&app, "/webhooks/twilio/acme/inbound", &form, None).await;
    assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap_or_default()), (404, msg("tenant not found")));
    assert_eq!(app.db.count("chats"), 0);
    assert_eq!(app.db.count("tenants"), 1, "nothing of the tenant is deleted");

    let (status, on) = app.admin_json(Method::PATCH, "/admin/v1/tenants/acme", json!({"active": true})).await;
    assert_eq!((status, on["active"].clone()), (200, json!(true)));
    let (status, _) = app.send_sms(&t, &seed_body()).await;
    assert_eq!(status, 200, "restored");
}

async fn queued_messages_of_a_deactivated_tenant_fail(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let (status, chat) = app.send_sms(&t, &seed_body()).await;
    assert_eq!(status, 200);
    app.patch_tenant(&t, json!({"active": false})).await;
    // The worker is off in this suite: start an instance with it on, as a restart would.
    let fake = FakeProvider::start(vec![]);
    let mut app = app;
    app.restart_with(twilio(&fake)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let sql = format!(
        "messages WHERE chat_id = {} AND delivery_status = 'failed' AND error = 'tenant deactivated'",
        chat["id"]
    );
    while app.db.count(&sql) == 0 {
        assert!(Instant::now() < deadline, "the queued message was not failed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(fake.requests().is_empty(), "nothing reached the provider");
}

async fn every_list_is_paged(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    app.tenant("globex").await;
    app.tenant("initech").await;
    for i in 0..3 {
        let email = format!("agent{i}@acme.test");
        app.add_agent(&t, json!({"email": email, "first_name": "A", "last_name": "B"})).await;
    }
    for path in [
        "/admin/v1/tenants",
        "/admin/v1/tenants/acme/agents",
        "/admin/v1/tenants/acme/api-tokens",
        "/admin/v1/tenants/acme/outbound-numbers",
        "/admin/v1/tenants/acme/opt-outs",
    ] {
        let resp = app.admin(Method::GET, &format!("{path}?per=2")).send().await.unwrap();
        let total: i64 = resp
            .headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1);
        let (status, first) = read(resp).await;
        assert_eq!(status, 200, "{path}: {first}");
        let expected = match path {
            "/admin/v1/tenants" | "/admin/v1/tenants/acme/agents" => 3,
            "/admin/v1/tenants/acme/opt-outs" => 0,
            _ => 1,
        };
        assert_eq!(total, expected, "{path}");
        assert_eq!(first.as_array().map_or(0, Vec::len), expected.min(2) as usize, "{path}");
        let (status, second) = app.admin_call(Method::GET, &format!("{path}?per=2&page=2")).await;
        assert_eq!((status, second.as_array().map_or(0, Vec::len)), (200, (expected - 2).max(0) as usize), "{path}");
        for (query, message) in [
            ("per=0", "per must be an integer from 1 to 100"),
            ("per=101", "per must be an integer from 1 to 100"),
            ("page=0", "page must be an integer of at least 1"),
            ("page=x", "page must be an integer of at least 1"),
        ] {
            let (status, body) = app.admin_call(Method::GET, &format!("{path}?{query}")).await;
            assert_eq!((status, body), (400, msg(message)), "{path}?{query}");
        }
    }
    // A chat's messages, oldest first.
    let (status, chat) = app.send_sms(&t, &seed_body()).await;
    assert_eq!(status, 200);
    let path = format!("/apps/api/v1/chats/{}/messages?per=1", chat["id"]);
    let resp = app.as_tenant(&t, Method::GET, &path).send().await.unwrap();
    assert_eq!(resp.headers().get("x-total-count").and_then(|v| v.to_str().ok()), Some("1"));
    let (status, page) = read(resp).await;
    assert_eq!((status, page[0]["body"].clone()), (200, json!("lorem ipsum")));
    let (status, body) =
        app.tenant_call(&t, Method::GET, &format!("/apps/api/v1/chats/{}/messages?per=500", chat["id"])).await;
    assert_eq!((status, body), (400, msg("per must be an integer from 1 to 100")));
}

async fn no_request_adds_a_time_series(backend: Backend) {
    let app = spawn_app(backend).await;
    // The series these requests' methods and paths could add: HTTP series of an unmatched
    // route, by a made-up method (labelled `other`) or by GET. (Other tests in this process add
    // series of their own, event types or routes they hit first, at any moment.)
    let lines = || async {
        let (_, text) = read(app.client.get(app.url("/metrics")).send().await.unwrap()).await;
        text.as_str()
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("sms_http_") && l.contains("route=\"unmatched\""))
            .filter(|l| l.contains("method=\"other\"") || l.contains("method=\"GET\""))
            .count()
    };
    let hit = |method: String, path: String| {
        let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
        app.client.request(method, app.url(&path)).send()
    };
    // One of each kind first, so every series these requests can reach exists.
    let _ = hit("M0".into(), "/x0".into()).await;
    let _ = hit("GET".into(), "/y0".into()).await;
    let _ = lines().await;
    let before = lines().await;
    assert!(before > 0, "the series these requests reach exist");
    for i in 1..=200 {
        let _ = hit(format!("M{i}"), "/x0".into()).await;
        let _ = hit("GET".into(), format!("/random/{i}/{}", i * 7)).await;
    }
    let after = lines().await;
    assert_eq!(after, before, "200 made-up methods and 200 made-up paths added series");
}

/// The Redis key of a consumer's session lock in the suite's deployment (PostgreSQL + Redis).
fn lock_key(app: &TestApp, subdomain: &str, number: &str) -> String {
    let tenant_id = app.db.text(&format!("SELECT CAST(id AS TEXT) FROM tenants WHERE subdomain = '{subdomain}'"));
    format!("{}session:{tenant_id}:{number}", app.redis_prefix())
}

fn redis_set(key: &str, value: &str) {
    let mut conn = redis::Client::open(redis_url()).and_then(|c| c.get_connection()).unwrap();
    let _: () = redis::cmd("SET").arg(key).arg(value).arg("PX").arg(600_000).query(&mut conn).unwrap();
}

/// A lock left behind by a chat that ended (its release was lost while Redis was away, and
/// Redis came back with the key) is taken over at once; a lock held by no chat at all is a
/// request at work: 409 after the wait, retryable, never remembered under a key.
#[actix_web::test]
async fn a_lock_never_outlives_its_reason() {
    let app = spawn_app(Backend::Postgres).await;
    let t = app.seed_tenant("acme").await;
    let (status, chat) = app.send_sms(&t, &seed_body()).await;
    assert_eq!(status, 200);
    let token = app.db.text(&format!("SELECT lock_token FROM chats WHERE id = {}", chat["id"]));
    let (status, _) = app.tenant_call(&t, Method::POST, &format!("/apps/api/v1/chats/{}/end", chat["id"])).await;
    assert_eq!(status, 200);
    // Redis comes back with the ended chat's lock.
    let key = lock_key(&app, "acme", "+14155550100");
    redis_set(&key, &token);
    let started = Instant::now();
    let (status, second) = app.send_sms(&t, &seed_body()).await;
    assert_eq!(status, 200, "{second}");
    assert!(started.elapsed() < Duration::from_secs(1), "taken over at once: {:?}", started.elapsed());

    // A lock no chat was given: another request is still at work.
    let (status, _) = app.tenant_call(&t, Method::POST, &format!("/apps/api/v1/chats/{}/end", second["id"])).await;
    assert_eq!(status, 200);
    redis_set(&key, "held-by-a-request-that-is-still-running");
    let started = Instant::now();
    let (status, body) = app.send_sms(&t, &seed_body()).await;
    assert_eq!((status, body), (409, msg("another request for this consumer is in progress")));
    assert!(started.elapsed() >= Duration::from_millis(1900), "waited for the holder: {:?}", started.elapsed());
    let resp = app
        .as_tenant(&t, Method::POST, "/apps/api/v1/sms")
        .header("Idempotency-Key", "busy-1")
        .json(&seed_body())
        .send()
        .await
        .unwrap();
    assert_eq!(read(resp).await, (409, msg("another request for this consumer is in progress")));
    assert_eq!(app.db.count("idempotency_keys"), 0, "a retryable answer is not remembered");
    assert_eq!(app.db.count("chats WHERE status <> 'finished'"), 0);
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    nul_characters_are_refused_naming_the_field,
    jwts_live_at_most_the_cap,
    tenant_jwts_are_issued_by_the_admin_api,
    a_deactivated_tenant_is_switched_off,
    queued_messages_of_a_deactivated_tenant_fail,
    every_list_is_paged,
    no_request_adds_a_time_series,
);

/// A thousand wrong passwords at once from one address do not make a valid tenant's sends fail:
/// past the limit of failures (60 a minute) the address is refused without a query (429), but
/// a credential that worked from it keeps working; every one of the tenant's 50 sends answers
/// 200 (the p99 is printed).
#[actix_web::test]
async fn a_flood_of_wrong_passwords_does_not_fail_a_tenant() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app(backend).await;
        let t = app.seed_tenant("acme").await;
        assert_eq!(
            app.tenant_call(&t, Method::GET, "/apps/api/v1/chats").await.0,
            200,
            "the tenant's credential works"
        );
        let wrong = (0..1000).map(|i| {
            let req = app.client.get(app.url("/apps/api/v1/chats")).basic_auth("acme", Some(format!("wrong-{i}")));
            async move { req.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
        });
        let valid = (0..50).map(|i| {
            let body = body_with(&[("end_user_number", json!(format!("+1 415-555-{:04}", 2000 + i)))]);
            let req = app.as_tenant(&t, Method::POST, "/apps/api/v1/sms").json(&body);
            async move {
                let started = Instant::now();
                let status = req.send().await.map(|r| r.status().as_u16()).unwrap_or(0);
                (status, started.elapsed())
            }
        });
        let (wrong, valid) = tokio::join!(futures_util::future::join_all(wrong), futures_util::future::join_all(valid));
        let count = |status: u16| wrong.iter().filter(|s| **s == status).count();
        assert_eq!(count(401) + count(429), 1000, "every wrong password refused");
        assert!(count(401) > 60 && count(429) > 0, "401 up to the limit, then 429: {} and {}", count(401), count(429));
        let statuses: Vec<u16> = valid.iter().map(|(s, _)| *s).collect();
        assert!(statuses.iter().all(|s| *s == 200), "valid sends: {statuses:?}");
        let mut latencies: Vec<Duration> = valid.iter().map(|(_, d)| *d).collect();
        latencies.sort();
        let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
        println!("{backend:?}: 1000 wrong passwords in parallel; 50 of 50 valid sends 200, p99 {p99:?}");
    }
}
