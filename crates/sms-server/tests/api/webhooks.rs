//! The admin API of webhook endpoints (SPEC section 11): what a registration must hold, reading,
//! listing and changing an endpoint within its tenant, rotating its secret (both secrets sign
//! meanwhile), deleting it with its deliveries.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{events_on, in_key_order, msg, received, seed_body, signed_by};
use crate::fake_provider::{Answer, FakeProvider};
use crate::helpers::{spawn_app_with, Backend};

async fn the_admin_api_manages_endpoints(backend: Backend) {
    let receiver = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, events_on).await;
    let t = app.seed_tenant("acme").await;
    app.seed_tenant_other().await;
    let base = "/admin/v1/tenants/acme/webhooks";
    for (body, expected) in [
        (json!({}), "url is invalid"),
        (json!({"url": "crm.example.com/hooks"}), "url is invalid"),
        (json!({"url": "ftp://crm.example.com/hooks"}), "url is invalid"),
        (json!({"url": "https://user:pw@crm.example.com/hooks"}), "url is invalid"),
        (json!({"url": format!("https://crm.example.com/{}", "a".repeat(2048))}), "url is invalid"),
        (json!({"url": "https://crm.example.com/hooks", "events": []}), "events is invalid"),
        (json!({"url": "https://crm.example.com/hooks", "events": ["chat.opened"]}), "events is invalid"),
        (json!({"url": "https://crm.example.com/hooks", "events": ["chat.ended", "chat.ended"]}), "events is invalid"),
    ] {
        assert_eq!(app.admin_json(Method::POST, base, body.clone()).await, (400, msg(expected)), "{body}");
    }
    let (status, body) =
        app.admin_json(Method::POST, base, json!({"url": "https://x.example", "events": "chat.ended"})).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap_or_default().starts_with("invalid value for events"), "{body}");
    assert_eq!(app.db.count("webhook_endpoints"), 0);

    let resp = app.admin(Method::POST, base).json(&json!({"url": format!("{}/hooks", receiver.url)})).send().await;
    let resp = resp.unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let text = resp.text().await.unwrap_or_default();
    assert!(
        in_key_order(&text, &["id", "url", "events", "description", "disabled", "format", "created_at", "secret"]),
        "{text}"
    );
    let created: Value = serde_json::from_str(&text).unwrap_or_default();
    let secret = created["secret"].as_str().unwrap_or_default().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(BASE64.decode(&secret["whsec_".len()..]).map(|k| k.len()).ok(), Some(32));
    assert_eq!(created["events"].as_array().map(Vec::len), Some(7), "every type by default");
    let id = created["id"].as_i64().unwrap_or_default();
    let one = format!("{base}/{id}");
    let (status, read_back) = app.admin_call(Method::GET, &one).await;
    assert_eq!(status, 200);
    assert!(read_back.get("secret").is_none(), "the secret is never read back: {read_back}");
    let (_, listed) = app.admin_call(Method::GET, base).await;
    assert_eq!(listed, json!([read_back]));
    assert_eq!(app.admin_call(Method::GET, "/admin/v1/tenants/other/webhooks").await.1, json!([]));
    assert_eq!(
        app.admin_call(Method::GET, &format!("/admin/v1/tenants/other/webhooks/{id}")).await,
        (404, msg("webhook not found"))
    );

    let (status, changed) =
        app.admin_json(Method::PATCH, &one, json!({"events": ["chat.created"], "description": "CRM"})).await;
    assert_eq!((status, &changed["events"], &changed["description"]), (200, &json!(["chat.created"]), &json!("CRM")));
    assert_eq!(app.admin_json(Method::PATCH, &one, json!({"url": "nope"})).await, (400, msg("url is invalid")));
    let (_, cleared) = app.admin_json(Method::PATCH, &one, json!({"description": ""})).await;
    assert_eq!(cleared["description"], Value::Null);

    // During a rotation every delivery is signed with both secrets.
    let (status, rotated) = app.admin_call(Method::POST, &format!("{one}/rotate-secret")).await;
    let new_secret = rotated["secret"].as_str().unwrap_or_default().to_owned();
    assert_eq!((status, new_secret.starts_with("whsec_")), (200, true));
    assert_ne!(new_secret, secret);
    app.send_sms(&t, &seed_body()).await;
    let delivered = received(&receiver, 1).await;
    assert_eq!(signed_by(&delivered[0], &[&new_secret, &secret]), [true, true]);
    assert_eq!(delivered[0].webhook_signature.as_deref().map(|s| s.split(' ').count()), Some(2));

    assert_eq!(app.admin_call(Method::DELETE, &one).await, (204, Value::Null));
    assert_eq!(app.admin_call(Method::DELETE, &one).await, (404, msg("webhook not found")));
    assert_eq!(app.admin_call(Method::GET, &format!("{one}/deliveries")).await, (404, msg("webhook not found")));
    assert_eq!(app.db.count("webhook_deliveries"), 0, "its deliveries went with it");
    assert_eq!(app.admin_call(Method::GET, &format!("{base}/x")).await, (404, msg("webhook not found")));
}

/// An endpoint that takes one request at a time, each answered after 150 ms, hears a burst of 20
/// deliveries one after another, without a pause: the worker claims again as soon as a post frees
/// the endpoint's turn, not at its next poll (it once waited the poll, 500 ms, after each claim
/// that found the endpoint busy; BENCHMARKS.md). On PostgreSQL the sends hand their deliveries to
/// the worker; on SQLite it claims them.
async fn a_busy_endpoint_is_served_as_its_turns_free(backend: Backend) {
    let slow = Duration::from_millis(150);
    let receiver = FakeProvider::start(vec![Answer::Hang(slow); 20]);
    let app = spawn_app_with(backend, |config| {
        events_on(config);
        config.events.poll = Duration::from_millis(500);
        config.events.endpoint_concurrency = 1;
    })
    .await;
    let t = app.seed_tenant("acme").await;
    let base = format!("/admin/v1/tenants/{}/webhooks", t.subdomain);
    let endpoint = json!({"url": format!("{}/hooks", receiver.url), "events": ["chat.created"]});
    assert_eq!(app.admin_json(Method::POST, &base, endpoint).await.0, 201);
    for n in 0..20 {
        let mut send = seed_body();
        send["end_user_number"] = json!(format!("+1 415-555-{:04}", 100 + n));
        assert_eq!(app.send_sms(&t, &send).await.0, 200);
    }
    let sent = Instant::now();
    assert_eq!(received(&receiver, 20).await.len(), 20);
    let took = sent.elapsed();
    // 20 posts of 150 ms one after another: about 3 s; a poll's wait after each, about 11 s.
    assert!(took < Duration::from_secs(7), "20 deliveries to a busy endpoint took {took:?} after the sends");
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    the_admin_api_manages_endpoints,
    a_busy_endpoint_is_served_as_its_turns_free
);
