//! Where the service connects for a tenant, and how fairly (SPEC version 3, section 11): webhook
//! and media URLs never reach the service's own network unless the operator allows it (checked
//! at registration for literal addresses, and at connection time on what a name resolves to),
//! one slow endpoint never delays another's events, deliveries of a disabled endpoint do not
//! pile up forever, a test event can be sent, and the webhook provider signs like events do.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use sms_domain::network::Destinations;

use crate::common::{events_on, msg, received, seed_body};
use crate::fake_provider::{Answer, FakeProvider};
use crate::helpers::{spawn_app_with, Backend, Tenant, TestApp};

async fn register(app: &TestApp, t: &Tenant, body: Value) -> (u16, Value) {
    app.admin_json(Method::POST, &format!("/admin/v1/tenants/{}/webhooks", t.subdomain), body).await
}

/// Waits until the endpoint has a delivery in `status`; answers it.
async fn delivery_in(app: &TestApp, t: &Tenant, endpoint: &Value, status: &str, within: Duration) -> Value {
    let path = format!("/admin/v1/tenants/{}/webhooks/{endpoint}/deliveries?status={status}", t.subdomain);
    let deadline = Instant::now() + within;
    loop {
        let (code, list) = app.admin_call(Method::GET, &path).await;
        assert_eq!(code, 200, "{list}");
        if let Some(first) = list.as_array().and_then(|l| l.first()) {
            return first.clone();
        }
        assert!(Instant::now() < deadline, "no {status} delivery within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Without `SMS_EVENTS_ALLOWED_NETWORKS`, a URL naming the service's own network is refused
/// when registered (`url is invalid`) or sent as a medium (`media_urls is invalid`); a name that
/// resolves there is refused when the delivery connects, with an error that tells nothing of the
/// address.
async fn the_own_network_is_off_limits(backend: Backend) {
    let app = spawn_app_with(backend, |config| {
        events_on(config);
        config.events.destinations = Destinations::default();
    })
    .await;
    let t = app.seed_tenant("acme").await;
    for url in [
        "http://127.0.0.1:9000/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://10.1.2.3/hooks",
        "http://[::1]:8080/",
        "http://0.0.0.0/",
    ] {
        assert_eq!(register(&app, &t, json!({"url": url})).await, (400, msg("url is invalid")), "{url}");
    }
    let (status, public) = register(&app, &t, json!({"url": "https://crm.example.com/hooks"})).await;
    assert_eq!(status, 201, "{public}");
    let patch = format!("/admin/v1/tenants/acme/webhooks/{}", public["id"]);
    let (status, body) = app.admin_json(Method::PATCH, &patch, json!({"url": "http://192.168.1.1/"})).await;
    assert_eq!((status, body), (400, msg("url is invalid")));
    assert_eq!(app.admin_call(Method::DELETE, &patch).await.0, 204);

    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    for medium in ["http://127.0.0.1/label.png", "http://localhost:8080/x.jpg", "http://[fd00::1]/x.jpg"] {
        let (status, body) = app.reply(&t, &chat["id"], &json!({"media_urls": [medium]})).await;
        assert_eq!((status, body), (400, msg("media_urls is invalid")), "{medium}");
    }

    // `localhost` is a name: allowed to register, refused where it resolves, at connection time.
    let receiver = FakeProvider::start(vec![]);
    let port = receiver.url.rsplit(':').next().unwrap().to_owned();
    let (status, named) = register(&app, &t, json!({"url": format!("http://localhost:{port}/hooks")})).await;
    assert_eq!(status, 201, "{named}");
    let end = format!("/apps/api/v1/chats/{}/end", chat["id"]);
    assert_eq!(app.tenant_call(&t, Method::POST, &end).await.0, 200);
    let refused = delivery_in(&app, &t, &named["id"], "failed", Duration::from_secs(15)).await;
    assert_eq!(
        (refused["last_error"].clone(), refused["last_status_code"].clone()),
        (json!("destination not allowed (gave up after 3 attempts)"), Value::Null)
    );
    assert!(receiver.requests().is_empty(), "nothing reached the receiver");
}

/// One endpoint answering slowly never holds back another's deliveries: the fast one's is
/// delivered and recorded while the slow one still hangs, and at most four requests to the slow
/// endpoint are in flight.
async fn a_slow_endpoint_delays_no_other(backend: Backend) {
    let slow = FakeProvider::start(vec![Answer::Hang(Duration::from_secs(4)); 8]);
    let fast = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, |config| {
        events_on(config);
        config.events.timeout = Duration::from_secs(10);
    })
    .await;
    let t = app.seed_tenant("acme").await;
    let (_, slow_endpoint) = register(&app, &t, json!({"url": format!("{}/slow", slow.url)})).await;
    for i in 0..6 {
        let body = json!({"chat_type": "SMS", "end_user_number": format!("+1 415-555-{:04}", 3000 + i),
                          "outbound_number": "+1 628-555-0199", "message": "hi"});
        assert_eq!(app.send_sms(&t, &body).await.0, 200);
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (_, fast_endpoint) =
        register(&app, &t, json!({"url": format!("{}/fast", fast.url), "events": ["chat.created"]})).await;
    let started = Instant::now();
    assert_eq!(app.send_sms(&t, &seed_body()).await.0, 200);
    let delivered = delivery_in(&app, &t, &fast_endpoint["id"], "delivered", Duration::from_secs(10)).await;
    let took = started.elapsed();
    assert_eq!(delivered["event_type"], "chat.created");
    assert!(took < Duration::from_secs(2), "the fast endpoint's event was recorded after {took:?}");
    assert!(slow.requests().len() <= 4, "{} requests in flight to one endpoint", slow.requests().len());
    let pending = format!("/admin/v1/tenants/acme/webhooks/{}/deliveries?status=delivered", slow_endpoint["id"]);
    assert_eq!(app.admin_call(Method::GET, &pending).await.1, json!([]), "the slow endpoint still hangs");
}

/// A delivery that has waited for a disabled endpoint past the retention fails with `endpoint
/// disabled` (here at once) and can be sent again; a test event goes to one endpoint whatever its
/// events; a format other than `standard` is refused for now.
async fn disabled_endpoints_and_test_events(backend: Backend) {
    let receiver = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, |config| {
        events_on(config);
        config.events.disabled_retention = Duration::ZERO;
    })
    .await;
    let t = app.seed_tenant("acme").await;
    let url = format!("{}/hooks", receiver.url);
    let (status, body) = register(&app, &t, json!({"url": url, "format": "xml"})).await;
    assert_eq!((status, body), (400, msg("format is invalid")));
    let (status, endpoint) = register(&app, &t, json!({"url": url, "disabled": true, "events": ["chat.ended"]})).await;
    assert_eq!((status, endpoint["format"].clone()), (201, json!("standard")));
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let end = format!("/apps/api/v1/chats/{}/end", chat["id"]);
    assert_eq!(app.tenant_call(&t, Method::POST, &end).await.0, 200);
    let failed = delivery_in(&app, &t, &endpoint["id"], "failed", Duration::from_secs(10)).await;
    assert_eq!(
        (failed["last_error"].clone(), failed["event_type"].clone()),
        (json!("endpoint disabled"), json!("chat.ended"))
    );
    assert!(receiver.requests().is_empty(), "a disabled endpoint receives nothing");

    let webhook = format!("/admin/v1/tenants/acme/webhooks/{}", endpoint["id"]);
    assert_eq!(app.admin_json(Method::PATCH, &webhook, json!({"disabled": false})).await.0, 200);
    let retry = format!("{webhook}/deliveries/{}/retry", failed["id"]);
    assert_eq!(app.admin_call(Method::POST, &retry).await.0, 202);
    let (status, test) = app.admin_call(Method::POST, &format!("{webhook}/test")).await;
    assert_eq!(
        (status, test["event_type"].clone(), test["status"].clone()),
        (202, json!("webhook.test"), json!("pending"))
    );
    let heard = received(&receiver, 2).await;
    let types: Vec<Value> = heard.iter().map(|r| r.json()["type"].clone()).collect();
    assert!(types.contains(&json!("webhook.test")) && types.contains(&json!("chat.ended")), "{types:?}");
    let test_event = heard.iter().find(|r| r.json()["type"] == "webhook.test").unwrap().json();
    assert_eq!(test_event["data"], json!({"endpoint_id": endpoint["id"]}));
    assert_eq!(
        app.admin_call(Method::POST, "/admin/v1/tenants/acme/webhooks/999999/test").await,
        (404, msg("webhook not found"))
    );
}

/// The webhook provider signs each request as events are signed (Standard Webhooks), with the
/// same `webhook-id` on every retry of a message, so that a gateway can refuse a replay.
async fn the_webhook_provider_signs_like_events(backend: Backend) {
    let gateway = FakeProvider::start(vec![Answer::Status(503, "{}")]);
    let app = spawn_app_with(backend, |config| {
        let d = &mut config.delivery;
        d.worker = true;
        d.provider = sms_server::config::ProviderKind::Webhook;
        d.webhook_url = Some(format!("{}/send", gateway.url));
        d.webhook_secret = Some("gateway-shared-secret".into());
        d.poll = Duration::from_millis(50);
        d.retry_base = Duration::from_millis(100);
    })
    .await;
    let t = app.seed_tenant("acme").await;
    assert_eq!(app.send_sms(&t, &seed_body()).await.0, 200);
    let attempts = received(&gateway, 2).await;
    let ids: Vec<Option<String>> = attempts.iter().map(|r| r.webhook_id.clone()).collect();
    assert!(ids[0].is_some() && ids[0] == ids[1], "the same webhook-id on the retry: {ids:?}");
    for attempt in &attempts {
        let (id, timestamp) = (attempt.webhook_id.clone().unwrap(), attempt.webhook_timestamp.clone().unwrap());
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(b"gateway-shared-secret").unwrap();
        hmac::Mac::update(&mut mac, format!("{id}.{timestamp}.").as_bytes());
        hmac::Mac::update(&mut mac, &attempt.body);
        let expected =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, hmac::Mac::finalize(mac).into_bytes());
        assert_eq!(attempt.webhook_signature.as_deref(), Some(format!("v1,{expected}").as_str()));
        assert!(attempt.signature.as_deref().is_some_and(|s| s.starts_with("sha256=")), "X-Signature-256 stays");
    }
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    the_own_network_is_off_limits,
    a_slow_endpoint_delays_no_other,
    disabled_endpoints_and_test_events,
    the_webhook_provider_signs_like_events,
);
