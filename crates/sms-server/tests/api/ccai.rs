//! Event endpoints of format `ccai` receive the platform's own chat webhooks (SPEC section 13.3):
//! its envelope, its event names, one delivery per platform event, its signature headers.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::Mac;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{callback, events_on, in_key_order, is_timestamp, msg, received, seed_body, twilio};
use crate::fake_provider::{FakeProvider, Recorded};
use crate::helpers::{spawn_app_with, Backend, Tenant, TestApp};

async fn register(app: &TestApp, t: &Tenant, body: Value) -> Value {
    let (status, endpoint) =
        app.admin_json(Method::POST, &format!("/admin/v1/tenants/{}/webhooks", t.subdomain), body).await;
    assert_eq!(status, 201, "{endpoint}");
    endpoint
}

/// Which of `secrets` sign the delivery as the platform signs (`primary=… secondary=…`, Base64
/// of HMAC-SHA256 keyed with the secret's bytes over the timestamp header and the body), with an
/// HMAC of the test's own: `(primary, secondary)` names the secret each signature verifies under.
fn platform_signed(request: &Recorded, primary: &str, secondary: Option<&str>) -> (bool, Option<bool>) {
    let timestamp = request.x_signature_timestamp.clone().unwrap_or_default();
    let header = request.x_signature.clone().unwrap_or_default();
    let sign = |secret: &str| {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(timestamp.as_bytes());
        mac.update(&request.body);
        BASE64.encode(mac.finalize().into_bytes())
    };
    let (first, second) = match header.split_once(' ') {
        Some((first, second)) => (first.to_owned(), Some(second.to_owned())),
        None => (header.clone(), None),
    };
    let primary_ok = first == format!("primary={}", sign(primary));
    let secondary_ok = secondary.map(|s| second.as_deref() == Some(&format!("secondary={}", sign(s))));
    (primary_ok, secondary_ok)
}

/// The deliveries as `(event_type, body)`, in the order they were posted.
fn events(requests: &[Recorded]) -> Vec<(String, Value)> {
    requests.iter().map(|r| (r.json()["event_type"].as_str().unwrap_or_default().to_owned(), r.json())).collect()
}

async fn a_ccai_endpoint_hears_the_platforms_chat_webhooks(backend: Backend) {
    let provider = FakeProvider::start(vec![]);
    let receiver = FakeProvider::start(vec![]);
    let standard = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, |config| {
        twilio(&provider)(config);
        events_on(config);
        // One request at a time to an endpoint: the deliveries arrive in the order written.
        config.events.endpoint_concurrency = 1;
    })
    .await;
    let t = app.seed_tenant("acme").await;
    let agent = app.add_seed_agent(&t).await;
    let chats_only = json!({"url": format!("{}/chat-events", receiver.url), "format": "ccai",
        "events": ["chat.created", "chat.assigned", "chat.ended", "message.received"]});
    let endpoint = register(&app, &t, chats_only).await;
    assert_eq!(endpoint["format"], "ccai");
    let secret = endpoint["secret"].as_str().unwrap_or_default().to_owned();
    register(&app, &t, json!({"url": format!("{}/events", standard.url), "events": ["chat.created"]})).await;

    // A chat opened without an agent: chat_created, and its first message from the system.
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let id = chat["id"].as_i64().unwrap_or_default();
    let first = received(&receiver, 2).await;
    let kinds: Vec<String> = events(&first).into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["chat_created", "message_received"]);
    let created = first[0].json();
    assert_eq!(created["chat_id"], json!(id));
    assert!(is_timestamp(created["timestamp"].as_str().unwrap_or_default()), "{created}");
    assert_eq!(created["body"]["chat"]["id"], json!(id));
    assert_eq!(created["body"]["chat"]["status"], "selecting");
    let text = String::from_utf8_lossy(&first[0].body).into_owned();
    assert!(in_key_order(&text, &["event_type", "timestamp", "chat_id", "body"]), "the platform's envelope: {text}");
    let opening = &first[1].json()["body"];
    assert_eq!(
        opening,
        &json!({"sender": {"id": null, "type": "system", "status": "connected", "connected_at": chat["created_at"]},
                "message": {"type": "text", "content": "lorem ipsum", "media": []}})
    );
    for request in &first {
        assert_eq!(platform_signed(request, &secret, None), (true, None), "signed with the secret's bytes");
        assert!(request.x_signature.as_deref().is_some_and(|s| !s.contains("secondary")));
        assert!(is_timestamp(request.x_signature_timestamp.as_deref().unwrap_or_default()));
        assert!(request.x_event_id.as_deref().is_some_and(|e| e.starts_with("evt_")));
        assert_eq!(request.webhook_signature, None, "none of the Standard Webhooks headers");
    }
    assert_ne!(first[0].x_event_id, first[1].x_event_id, "each platform event has an id of its own");
    // The standard endpoint heard the same change in its own format.
    assert_eq!(received(&standard, 1).await[0].json()["type"], "chat.created");

    // The agent answers: the agent joins, and its message is a message_received too.
    let (status, _) =
        app.reply(&t, &chat["id"], &json!({"message": "Your order shipped.", "agentId": agent["id"]})).await;
    assert_eq!(status, 201);
    let answered = received(&receiver, 4).await;
    let joined = answered[2].json();
    assert_eq!(joined["event_type"], "participant_joined");
    assert_eq!(
        (joined["body"]["participant"]["type"].as_str(), &joined["body"]["participant"]["user_id"]),
        (Some("agent"), &agent["id"])
    );
    let agents_message = answered[3].json();
    assert_eq!(agents_message["event_type"], "message_received");
    assert_eq!(agents_message["body"]["sender"]["type"], "agent");
    assert_eq!(agents_message["body"]["sender"]["id"], joined["body"]["participant"]["id"]);
    assert_eq!(agents_message["body"]["message"]["content"], "Your order shipped.");

    // The consumer's reply: from the consumer's participant.
    let reply = [("From", "+14155550100"), ("To", "+16285550199"), ("Body", "Thanks!"), ("MessageSid", "SMthanks")];
    assert_eq!(callback(&app, "/webhooks/twilio/acme/inbound", &reply, None).await.0, 200);
    let replied = received(&receiver, 5).await[4].json();
    assert_eq!(
        (replied["event_type"].as_str(), replied["body"]["sender"]["type"].as_str()),
        (Some("message_received"), Some("end_user"))
    );
    assert_eq!(replied["body"]["message"], json!({"type": "text", "content": "Thanks!", "media": []}));

    // An answer naming no agent (on PostgreSQL written at once, in one statement, unless a
    // `ccai` endpoint hears it): this endpoint does, and its message_received is told too.
    assert_eq!(app.reply(&t, &chat["id"], &json!({"message": "Anything else?"})).await.0, 201);
    let usual = received(&receiver, 6).await[5].json();
    assert_eq!(usual["event_type"], "message_received");
    assert_eq!(usual["body"]["message"]["content"], "Anything else?");

    // The end: a participant_left per participant, then chat_ended, each a delivery of its own.
    assert_eq!(app.tenant_call(&t, Method::POST, &format!("/apps/api/v1/chats/{id}/end")).await.0, 200);
    let ended = received(&receiver, 9).await;
    let kinds: Vec<String> = events(&ended[6..]).into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["participant_left", "participant_left", "chat_ended"]);
    let left: Vec<Value> = ended[6..8].iter().map(|r| r.json()["body"]["participant"]["type"].clone()).collect();
    assert_eq!(left, [json!("end_user"), json!("agent")]);
    assert_eq!(ended[8].json()["body"]["chat"]["status"], "finished");
    let path = format!("/admin/v1/tenants/acme/webhooks/{}/deliveries", endpoint["id"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let log = loop {
        let (_, log) = app.admin_call(Method::GET, &path).await;
        let all = log.as_array().cloned().unwrap_or_default();
        if all.len() == 9 && all.iter().all(|d| d["status"] == "delivered") {
            break all;
        }
        assert!(std::time::Instant::now() < deadline, "{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut logged: Vec<&str> = log.iter().filter_map(|d| d["event_type"].as_str()).collect();
    logged.sort_unstable();
    assert_eq!(
        logged,
        [
            "chat_created",
            "chat_ended",
            "message_received",
            "message_received",
            "message_received",
            "message_received",
            "participant_joined",
            "participant_left",
            "participant_left"
        ],
        "the delivery log names the platform's types"
    );
}

async fn platform_events_without_a_counterpart_and_rotation(backend: Backend) {
    let receiver = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, events_on).await;
    let t = app.seed_tenant("acme").await;
    let endpoint = register(
        &app,
        &t,
        json!({"url": format!("{}/hooks", receiver.url), "format": "ccai", "events": ["consumer.opted_out"]}),
    )
    .await;
    let old = endpoint["secret"].as_str().unwrap_or_default().to_owned();
    let base = format!("/admin/v1/tenants/acme/webhooks/{}", endpoint["id"]);

    // The test event is the platform's `webhook_test`, its data as the body.
    let (status, test) = app.admin_call(Method::POST, &format!("{base}/test")).await;
    assert_eq!((status, test["event_type"].as_str()), (202, Some("webhook_test")));
    let tested = received(&receiver, 1).await[0].clone();
    assert_eq!(tested.json()["body"], json!({"endpoint_id": endpoint["id"]}));
    assert_eq!((tested.json()["event_type"].as_str(), &tested.json()["chat_id"]), (Some("webhook_test"), &Value::Null));

    // During a rotation: the new secret signs as primary, the old one as secondary.
    let (status, rotated) = app.admin_call(Method::POST, &format!("{base}/rotate-secret")).await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["secret"].as_str().unwrap_or_default().to_owned();
    assert_eq!(app.admin_call(Method::POST, &format!("{base}/test")).await.0, 202);
    let second = received(&receiver, 2).await[1].clone();
    assert_eq!(platform_signed(&second, &new, Some(&old)), (true, Some(true)), "{:?}", second.x_signature);
    assert_eq!(platform_signed(&second, &old, Some(&new)), (false, Some(false)), "the order is new, then old");

    // A format of another name is refused; a standard endpoint may become a ccai one.
    let (status, body) = app.admin_json(Method::PATCH, &base, json!({"format": "json"})).await;
    assert_eq!((status, body), (400, msg("format is invalid")));
    let (status, back) = app.admin_json(Method::PATCH, &base, json!({"format": "standard"})).await;
    assert_eq!((status, back["format"].as_str()), (200, Some("standard")));
    assert_eq!(app.admin_call(Method::POST, &format!("{base}/test")).await.0, 202);
    let third = received(&receiver, 3).await[2].clone();
    assert_eq!((third.json()["type"].as_str(), third.x_signature.as_deref()), (Some("webhook.test"), None));
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    a_ccai_endpoint_hears_the_platforms_chat_webhooks,
    platform_events_without_a_counterpart_and_rotation,
);
