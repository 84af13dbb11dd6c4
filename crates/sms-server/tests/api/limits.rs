//! Retries, limits and visibility: idempotency keys, rate limits, request ids,
//! metrics.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{body_with, msg, read, seed_body};
use crate::helpers::{spawn_app, Backend, Tenant, TestApp};

async fn send_with_key(app: &TestApp, t: &Tenant, key: &str, body: &Value) -> (u16, Value, bool) {
    let resp =
        app.as_tenant(t, Method::POST, "/apps/api/v1/sms").header("Idempotency-Key", key).json(body).send().await;
    let resp = resp.unwrap();
    let replayed = resp.headers().get("idempotent-replayed").is_some();
    let (status, body) = read(resp).await;
    (status, body, replayed)
}

async fn idempotency_keys_replay_and_refuse(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let (status, first, replayed) = send_with_key(&app, &t, "order-42", &seed_body()).await;
    assert_eq!((status, replayed), (200, false));
    // Same key, same body (in another key order and spacing): the first answer, nothing created.
    let reordered = json!({"ticket_id": "5006x00000XXxxxXXX", "message": "lorem ipsum", "outbound_number": "+1 628-555-0199",
                           "end_user_number": "+1 415-555-0100", "chat_type": "Messaging (SMS)"});
    let (status, again, replayed) = send_with_key(&app, &t, "order-42", &reordered).await;
    assert_eq!((status, replayed), (200, true));
    assert_eq!(again, first);
    assert_eq!(app.db.count("chats"), 1);
    // Same key, another body.
    let (status, body, _) = send_with_key(&app, &t, "order-42", &body_with(&[("message", json!("other"))])).await;
    assert_eq!((status, body), (422, msg("Idempotency-Key was already used with a different request body")));
    // Refusals are answers too, and replayed as such.
    let bad = body_with(&[("chat_type", json!("In-app"))]);
    assert_eq!(send_with_key(&app, &t, "bad-1", &bad).await, (400, msg("valid chat type needs to be provided"), false));
    assert_eq!(send_with_key(&app, &t, "bad-1", &bad).await, (400, msg("valid chat type needs to be provided"), true));
    // Without a key, the same body is a new request (row 12 here).
    let (status, body) = app.send_sms(&t, &seed_body()).await;
    assert_eq!((status, body["chat_id"].clone()), (400, first["id"].clone()));
    // Keys are per tenant.
    let other = app.seed_tenant_other().await;
    let (status, _, replayed) =
        send_with_key(&app, &other, "order-42", &body_with(&[("outbound_number", json!("+1 628-555-0150"))])).await;
    assert_eq!((status, replayed), (200, false));
    // Malformed keys.
    for key in ["", "has space", &"k".repeat(256)] {
        let (status, body, _) = send_with_key(&app, &t, key, &seed_body()).await;
        assert_eq!((status, body), (400, msg("Idempotency-Key must be 1 to 255 visible ASCII characters")), "{key:?}");
    }
    // A key still running answers 409.
    app.db.execute(
        "UPDATE idempotency_keys SET state = 'running', locked_until = '2099-01-01 00:00:00' WHERE key = 'order-42'",
    );
    let (status, body, _) = send_with_key(&app, &t, "order-42", &seed_body()).await;
    assert_eq!((status, body), (409, msg("a request with this Idempotency-Key is still in progress")));
    // Expired keys are cleaned up by the sweeper (every 500 ms in tests), and then reusable.
    app.db.execute("UPDATE idempotency_keys SET expires_at = '2020-01-01 00:00:00' WHERE key = 'order-42'");
    for _ in 0..40 {
        if app.db.count("idempotency_keys WHERE key = 'order-42'") == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(app.db.count("idempotency_keys WHERE key = 'order-42'"), 0);
}

async fn ten_parallel_requests_with_one_key_make_one_chat(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let body = seed_body();
    let answers = join_all((0..10).map(|_| send_with_key(&app, &t, "burst-1", &body))).await;
    let created: Vec<_> = answers.iter().filter(|(s, _, replayed)| *s == 200 && !replayed).collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    for (status, body, replayed) in &answers {
        match status {
            200 => assert_eq!(body, &created[0].1),
            409 => assert_eq!(body, &msg("a request with this Idempotency-Key is still in progress")),
            _ => panic!("unexpected {status} {body} (replayed {replayed})"),
        }
    }
    assert_eq!(app.db.count("chats"), 1);
    assert_eq!(app.db.count("messages"), 1);
}

async fn tenants_are_rate_limited(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.tenant_with("slow", json!({"rate_limit_per_second": 1, "rate_limit_burst": 2})).await;
    app.add_number(&t, "+1 628-555-0199").await;
    let free = app.tenant("free").await;
    assert_eq!(app.tenant_call(&t, Method::GET, "/apps/api/v1/chats").await.0, 200);
    assert_eq!(app.tenant_call(&t, Method::GET, "/apps/api/v1/chats").await.0, 200);
    let resp = app.as_tenant(&t, Method::GET, "/apps/api/v1/chats").send().await.unwrap();
    assert_eq!(resp.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert_eq!(read(resp).await, (429, msg("rate limit exceeded")));
    // 401 comes first; 429 before any body fault.
    let wrong = Tenant { subdomain: "slow".into(), token: "wrong".into() };
    assert_eq!(app.tenant_call(&wrong, Method::GET, "/apps/api/v1/chats").await, (401, msg("invalid credentials")));
    let resp =
        app.as_tenant(&t, Method::POST, "/apps/api/v1/sms").header("Content-Type", "text/plain").body("x").send().await;
    assert_eq!(read(resp.unwrap()).await, (429, msg("rate limit exceeded")));
    // Other tenants have their own budget; 0 means unlimited.
    for _ in 0..30 {
        assert_eq!(app.tenant_call(&free, Method::GET, "/apps/api/v1/chats").await.0, 200);
    }
    // A token comes back after 1/rate seconds.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(app.send_sms(&t, &seed_body()).await.0, 200);
}

async fn request_ids_and_metrics(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let resp = app
        .as_tenant(&t, Method::POST, "/apps/api/v1/sms")
        .header("X-Request-Id", "crm-call-7")
        .json(&seed_body())
        .send()
        .await;
    let resp = resp.unwrap();
    assert_eq!(resp.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("crm-call-7"));
    let resp = app.client.get(app.url("/healthz")).header("X-Request-Id", "bad id\t").send().await.unwrap();
    let generated = resp.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(generated.len(), 32, "an unsafe id is replaced by a generated one");
    app.send_sms(&t, &seed_body()).await;

    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/plain")));
    let text = resp.text().await.unwrap_or_default();
    for needle in [
        "sms_http_requests_total{method=\"POST\",route=\"/apps/api/v1/sms\",status=\"200\"}",
        "sms_http_requests_total{method=\"POST\",route=\"/apps/api/v1/sms\",status=\"400\"}",
        "sms_http_request_duration_seconds_bucket{method=\"POST\",route=\"/apps/api/v1/sms\",le=\"0.005\"}",
        "sms_session_lock_total{outcome=\"acquired\"}",
        "sms_session_lock_total{outcome=\"busy\"}",
        "sms_db_pool_connections_in_use",
        "sms_db_pool_connections_max 8",
        "sms_db_wait_duration_seconds_bucket{for=\"thread\",le=\"0.001\"}",
        "sms_db_wait_duration_seconds_bucket{for=\"connection\",le=\"0.001\"}",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    assert!(!text.contains("4155550100"), "no phone number in metrics");
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    idempotency_keys_replay_and_refuse,
    ten_parallel_requests_with_one_key_make_one_chat,
    tenants_are_rate_limited,
    request_ids_and_metrics,
);
