//! Event webhooks (SPEC section 11) against a real receiver on loopback: every event type,
//! signatures checked with an independent HMAC, retries, `failed` and the admin's retry, 410,
//! a disabled endpoint catching up, a receiver that hangs, a restart between the commit and
//! the post, and two instances sharing one backlog.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{
    body_with, callback, events_on, first_message_becomes, in_key_order, msg, received, seed_body, signed_by, twilio,
};
use crate::fake_provider::{Answer, FakeProvider, Recorded};
use crate::helpers::{spawn_app_with, Backend, Tenant, TestApp};

/// Registers an endpoint for `receiver`; answers its id and secret.
async fn subscribe(app: &TestApp, t: &Tenant, receiver: &FakeProvider, events: Option<Value>) -> (i64, String) {
    let mut body = json!({"url": format!("{}/hooks", receiver.url), "description": "CRM"});
    if let Some(events) = events {
        body["events"] = events;
    }
    let (status, created) =
        app.admin_json(Method::POST, &format!("/admin/v1/tenants/{}/webhooks", t.subdomain), body).await;
    assert_eq!(status, 201, "{created}");
    (created["id"].as_i64().unwrap_or_default(), created["secret"].as_str().unwrap_or_default().to_owned())
}

/// Waits until the receiver has heard of an event of `kind` matching `matches`.
async fn event(receiver: &FakeProvider, kind: &str, matches: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = receiver.requests().iter().map(Recorded::json).find(|e| e["type"] == kind && matches(e));
        if let Some(found) = found {
            return found;
        }
        assert!(Instant::now() < deadline, "no {kind} after 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn deliveries(app: &TestApp, t: &Tenant, endpoint: i64, query: &str) -> Vec<Value> {
    let path = format!("/admin/v1/tenants/{}/webhooks/{endpoint}/deliveries{query}", t.subdomain);
    let (status, list) = app.admin_call(Method::GET, &path).await;
    assert_eq!(status, 200, "{list}");
    list.as_array().cloned().unwrap_or_default()
}

/// Waits until every delivery of the endpoint has left `pending`.
async fn settled(app: &TestApp, t: &Tenant, endpoint: i64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let all = deliveries(app, t, endpoint, "").await;
        if !all.is_empty() && all.iter().all(|d| d["status"] != "pending") {
            return all;
        }
        assert!(Instant::now() < deadline, "still pending after 20 s: {all:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn every_event_type_reaches_the_receiver_signed(backend: Backend) {
    let (twilio_fake, receiver) = (FakeProvider::start(vec![]), FakeProvider::start(vec![]));
    let app = spawn_app_with(backend, |c| {
        twilio(&twilio_fake)(c);
        events_on(c);
    })
    .await;
    let t = app.seed_tenant("acme").await;
    let agent = app.add_seed_agent(&t).await;
    let (_, secret) = subscribe(&app, &t, &receiver, None).await;
    let inbound = "/webhooks/twilio/acme/inbound";
    let form = |body: &'static str, sid: &'static str| {
        vec![("From", "+14155550100"), ("To", "+16285550199"), ("Body", body), ("MessageSid", sid)]
    };

    // chat.created, then the worker's send: message.status_updated (sent).
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let created = event(&receiver, "chat.created", |_| true).await;
    assert_eq!(created["data"]["chat"], chat, "the chat object, as the API answered it");
    let sent = first_message_becomes(&app, &t, &chat["id"], &["sent"]).await;
    let updated =
        event(&receiver, "message.status_updated", |e| e["data"]["message"]["delivery_status"] == "sent").await;
    assert_eq!(updated["data"], json!({"chat_id": chat["id"], "end_user_number": "+14155550100", "message": sent}));

    // chat.assigned: an agent replies in a chat that had none.
    let (status, _) = app.reply(&t, &chat["id"], &json!({"message": "Hi, John here", "agentId": agent["id"]})).await;
    assert_eq!(status, 201);
    let assigned = event(&receiver, "chat.assigned", |_| true).await;
    assert_eq!(assigned["data"]["chat"]["status"], "assigned");
    assert_eq!(assigned["data"]["chat"]["agent_info"]["id"], agent["id"]);

    // message.received, routed and not; a delivery report moves a status forward.
    assert_eq!(callback(&app, inbound, &form("Thanks!", "SMin1"), None).await.0, 200);
    let reply = event(&receiver, "message.received", |e| e["data"]["message"]["body"] == "Thanks!").await;
    assert_eq!(
        (&reply["data"]["chat_id"], reply["data"]["end_user_number"].as_str()),
        (&chat["id"], Some("+14155550100"))
    );
    assert_eq!(reply["data"]["message"]["direction"], "inbound");
    let sid = sent["provider_message_id"].as_str().unwrap_or_default().to_owned();
    let report = [("MessageSid", sid.as_str()), ("MessageStatus", "delivered")];
    assert_eq!(callback(&app, "/webhooks/twilio/acme/status", &report, None).await.0, 204);
    event(&receiver, "message.status_updated", |e| e["data"]["message"]["delivery_status"] == "delivered").await;

    // STOP: the reply, the opt-out, the chat ended by it. START: the opt-in.
    assert_eq!(callback(&app, inbound, &form("Stop", "SMin2"), None).await.0, 200);
    let opted_out = event(&receiver, "consumer.opted_out", |_| true).await;
    assert_eq!(opted_out["data"], json!({"end_user_number": "+14155550100", "keyword": "STOP", "chat_id": chat["id"]}));
    let ended = event(&receiver, "chat.ended", |_| true).await;
    assert_eq!(ended["data"]["chat"]["disconnected_by"], "disconnected_by_end_user");
    assert_eq!(callback(&app, inbound, &form("start", "SMin3"), None).await.0, 200);
    let opted_in = event(&receiver, "consumer.opted_in", |_| true).await;
    assert_eq!(opted_in["data"], json!({"end_user_number": "+14155550100", "keyword": "START", "chat_id": null}));
    let unrouted = event(&receiver, "message.received", |e| e["data"]["message"]["body"] == "start").await;
    assert_eq!((&unrouted["data"]["chat_id"], &unrouted["data"]["message"]["chat_id"]), (&Value::Null, &Value::Null));

    // chat.ended by the API.
    let (_, second) = app.send_sms(&t, &seed_body()).await;
    let path = format!("/apps/api/v1/chats/{}/end", second["id"]);
    let (_, finished) = app.tenant_call(&t, Method::POST, &path).await;
    let by_api = event(&receiver, "chat.ended", |e| e["data"]["chat"]["id"] == second["id"]).await;
    assert_eq!(by_api["data"]["chat"], finished);

    // Every delivery: the Standard Webhooks headers, a good signature, a fresh timestamp, the
    // section 2 timestamp in the body, and a distinct id per event.
    let all = receiver.requests();
    let mut kinds: Vec<String> = all.iter().map(|r| r.json()["type"].as_str().unwrap_or_default().to_owned()).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "chat.assigned",
            "chat.created",
            "chat.ended",
            "consumer.opted_in",
            "consumer.opted_out",
            "message.received",
            "message.status_updated"
        ]
    );
    let now = chrono::Utc::now().timestamp();
    for request in &all {
        assert_eq!(signed_by(request, &[&secret]), [true], "{:?}", request.webhook_signature);
        assert_eq!(request.content_type.as_deref(), Some("application/json"));
        let ts: i64 = request.webhook_timestamp.as_deref().unwrap_or_default().parse().unwrap_or_default();
        assert!((now - ts).abs() < 60, "webhook-timestamp is the attempt's, in Unix seconds");
        let body = request.json();
        let text = String::from_utf8_lossy(&request.body);
        assert!(in_key_order(&text, &["type", "timestamp", "data"]), "{text}");
        assert_eq!(body["timestamp"].as_str().map(str::len), Some(24), "{body}");
        assert!(request.webhook_id.as_deref().is_some_and(|id| id.starts_with("evt_")));
    }
    let mut ids: Vec<_> = all.iter().filter_map(|r| r.webhook_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "one delivery per event, each its own id");

    // Visible to the operator: deliveries by outcome, the backlog, the events written.
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap_or_default();
    for series in [
        "sms_event_deliveries_total{outcome=\"delivered\"}",
        "sms_event_backlog ",
        "sms_events_total{type=\"chat.created\"}",
        "sms_delivery_backlog ",
    ] {
        assert!(metrics.contains(series), "{series} in /metrics");
    }
}

async fn failures_are_retried_under_one_id(backend: Backend) {
    let receiver = FakeProvider::start(vec![Answer::Status(500, "{}"), Answer::Status(500, "{}")]);
    let app = spawn_app_with(backend, events_on).await;
    let t = app.seed_tenant("acme").await;
    let (endpoint, _) = subscribe(&app, &t, &receiver, Some(json!(["chat.created"]))).await;
    app.send_sms(&t, &seed_body()).await;
    let all = received(&receiver, 3).await;
    let ids: Vec<_> = all.iter().map(|r| r.webhook_id.clone()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "one webhook-id on every attempt: {ids:?}");
    assert_eq!(all[0].body, all[2].body, "the same bytes every time");
    let [delivery] = settled(&app, &t, endpoint).await.try_into().unwrap();
    assert_eq!(
        (delivery["status"].as_str(), delivery["attempts"].as_i64(), delivery["last_status_code"].as_i64()),
        (Some("delivered"), Some(3), Some(201))
    );
    assert_eq!((&delivery["event_type"], &delivery["last_error"]), (&json!("chat.created"), &Value::Null));
    assert_eq!(delivery["event_id"].as_str(), ids[0].as_deref());
    assert!(delivery["delivered_at"].is_string() && delivery["next_attempt_at"].is_null());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.requests().len(), 3, "nothing after the 2xx");
}

async fn the_last_failure_fails_and_the_admin_retries(backend: Backend) {
    let receiver =
        FakeProvider::start(vec![Answer::Status(500, "{}"), Answer::Status(302, "{}"), Answer::Status(400, "{}")]);
    let app = spawn_app_with(backend, events_on).await;
    let t = app.seed_tenant("acme").await;
    let (endpoint, _) = subscribe(&app, &t, &receiver, Some(json!(["chat.created"]))).await;
    app.send_sms(&t, &seed_body()).await;
    let [failed] = settled(&app, &t, endpoint).await.try_into().unwrap();
    assert_eq!((failed["status"].as_str(), failed["attempts"].as_i64()), (Some("failed"), Some(3)));
    assert_eq!(failed["last_status_code"], 400);
    assert!(failed["last_error"].as_str().unwrap_or_default().contains("gave up after 3 attempts"), "{failed}");
    assert_eq!(deliveries(&app, &t, endpoint, "?status=failed").await.len(), 1);
    assert_eq!(deliveries(&app, &t, endpoint, "?status=delivered").await.len(), 0);

    let retry = format!("/admin/v1/tenants/acme/webhooks/{endpoint}/deliveries/{}/retry", failed["id"]);
    let (status, again) = app.admin_call(Method::POST, &retry).await;
    assert_eq!((status, again["status"].as_str(), again["attempts"].as_i64()), (202, Some("pending"), Some(0)));
    let [delivered] = settled(&app, &t, endpoint).await.try_into().unwrap();
    assert_eq!((delivered["status"].as_str(), delivered["attempts"].as_i64()), (Some("delivered"), Some(1)));
    assert_eq!(received(&receiver, 4).await[3].webhook_id, received(&receiver, 4).await[0].webhook_id);

    let missing = format!("/admin/v1/tenants/acme/webhooks/{endpoint}/deliveries/999999/retry");
    assert_eq!(app.admin_call(Method::POST, &missing).await, (404, msg("delivery not found")));
    let bad = format!("/admin/v1/tenants/acme/webhooks/{endpoint}/deliveries?status=lost");
    assert_eq!(app.admin_call(Method::GET, &bad).await, (400, msg("status must be one of pending, delivered, failed")));
}

async fn gone_disables_and_enabling_catches_up(backend: Backend) {
    let receiver = FakeProvider::start(vec![Answer::Status(410, "{}")]);
    let app = spawn_app_with(backend, events_on).await;
    let t = app.seed_tenant("acme").await;
    let (endpoint, _) = subscribe(&app, &t, &receiver, Some(json!(["chat.created", "chat.ended"]))).await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    received(&receiver, 1).await;
    let path = format!("/admin/v1/tenants/acme/webhooks/{endpoint}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.admin_call(Method::GET, &path).await.1["disabled"] != true {
        assert!(Instant::now() < deadline, "410 disables the endpoint");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Disabled: events still happen, and wait.
    app.tenant_call(&t, Method::POST, &format!("/apps/api/v1/chats/{}/end", chat["id"])).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.requests().len(), 1, "a disabled endpoint receives nothing");
    let waiting = deliveries(&app, &t, endpoint, "?status=pending").await;
    assert_eq!(waiting.len(), 2, "{waiting:?}");
    let gone = waiting.iter().find(|d| d["event_type"] == "chat.created").cloned().unwrap_or_default();
    assert_eq!((gone["attempts"].as_i64(), gone["last_status_code"].as_i64()), (Some(0), Some(410)));

    let (status, enabled) = app.admin_json(Method::PATCH, &path, json!({"disabled": false})).await;
    assert_eq!((status, &enabled["disabled"]), (200, &json!(false)));
    let all = received(&receiver, 3).await;
    let kinds: Vec<Value> = all[1..].iter().map(|r| r.json()["type"].clone()).collect();
    assert!(kinds.contains(&json!("chat.created")) && kinds.contains(&json!("chat.ended")), "{kinds:?}");
    assert!(settled(&app, &t, endpoint).await.iter().all(|d| d["status"] == "delivered"));
}

async fn a_hanging_receiver_times_out_and_is_retried(backend: Backend) {
    let receiver = FakeProvider::start(vec![Answer::Hang(Duration::from_secs(3))]);
    let app = spawn_app_with(backend, events_on).await;
    let t = app.seed_tenant("acme").await;
    let (endpoint, _) = subscribe(&app, &t, &receiver, Some(json!(["chat.created"]))).await;
    let started = Instant::now();
    app.send_sms(&t, &seed_body()).await;
    let [delivery] = settled(&app, &t, endpoint).await.try_into().unwrap();
    assert_eq!((delivery["status"].as_str(), delivery["attempts"].as_i64()), (Some("delivered"), Some(2)));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout (1 s), not the hang, decided: {:?}",
        started.elapsed()
    );
}

async fn a_committed_event_survives_a_restart(backend: Backend) {
    let receiver = FakeProvider::start(vec![]);
    // The instance that committed the chat dies before posting: its worker is off.
    let mut app = spawn_app_with(backend, |c| {
        events_on(c);
        c.events_worker = false;
    })
    .await;
    let t = app.seed_tenant("acme").await;
    let (endpoint, _) = subscribe(&app, &t, &receiver, None).await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.requests().is_empty());
    assert_eq!(deliveries(&app, &t, endpoint, "?status=pending").await.len(), 1);
    app.restart_with(|c| c.events_worker = true).await;
    let created = event(&receiver, "chat.created", |_| true).await;
    assert_eq!(created["data"]["chat"]["id"], chat["id"]);
}

async fn two_instances_post_each_delivery_once(backend: Backend) {
    let receiver = FakeProvider::start(vec![]);
    let mut app = spawn_app_with(backend, |c| {
        events_on(c);
        c.events_worker = false;
    })
    .await;
    let t = app.seed_tenant("acme").await;
    subscribe(&app, &t, &receiver, Some(json!(["chat.created"]))).await;
    let mut expected = Vec::new();
    for i in 0..30 {
        let number = format!("+1 415-555-{:04}", 1000 + i);
        let (status, chat) = app.send_sms(&t, &body_with(&[("end_user_number", json!(number))])).await;
        assert_eq!(status, 200);
        expected.push(chat["id"].clone());
    }
    app.restart_with(|c| c.events_worker = true).await;
    let _second = app.another_instance();
    let all = received(&receiver, 30).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let all = if receiver.requests().len() > all.len() { receiver.requests() } else { all };
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for r in &all {
        *per_id.entry(r.webhook_id.clone().unwrap_or_default()).or_default() += 1;
    }
    assert_eq!(per_id.len(), 30);
    assert!(per_id.values().all(|n| *n == 1), "each delivery posted once: {per_id:?}");
    let mut chats: Vec<Value> = all.iter().map(|r| r.json()["data"]["chat"]["id"].clone()).collect();
    chats.sort_by_key(|v| v.as_i64());
    assert_eq!(chats, expected);
}

/// On PostgreSQL the usual send renders `chat.created` with stand-in ids that its statement
/// replaces; a ticket id written with a stand-in's digits is not taken for one: the send goes
/// the transactional way and its event names the chat as answered, the ticket id as sent.
async fn a_ticket_id_like_a_stand_in_is_told_as_sent(backend: Backend) {
    let receiver = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, events_on).await;
    let t = app.seed_tenant("acme").await;
    subscribe(&app, &t, &receiver, Some(json!(["chat.created"]))).await;
    let tickets = [
        ("7391026458310274401", "+14155550101"),
        ("8402137569421385523", "+14155550102"),
        ("T-7391026458310274423-x", "+14155550103"),
    ];
    for (ticket, to) in tickets {
        let changes = [("ticket_id", json!(ticket)), ("end_user_number", json!(to))];
        let (status, chat) = app.send_sms(&t, &body_with(&changes)).await;
        assert_eq!(status, 200, "{chat}");
        assert_eq!(chat["out_ticket_id"], ticket);
        let created = event(&receiver, "chat.created", |e| e["data"]["chat"]["id"] == chat["id"]).await;
        assert_eq!(created["data"]["chat"], chat, "the chat object, as the API answered it");
    }
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    a_ticket_id_like_a_stand_in_is_told_as_sent,
    every_event_type_reaches_the_receiver_signed,
    failures_are_retried_under_one_id,
    the_last_failure_fails_and_the_admin_retries,
    gone_disables_and_enabling_catches_up,
    a_hanging_receiver_times_out_and_is_retried,
    a_committed_event_survives_a_restart,
    two_instances_post_each_delivery_once,
);
