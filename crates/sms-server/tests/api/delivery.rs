//! Delivery, replies and opt-out against a real HTTP peer standing in for
//! Twilio or a webhook receiver.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{
    body_with, callback, first_message_becomes, messages, msg, read, seed_body, twilio, PUBLIC_URL, SID, TOKEN,
};
use crate::fake_provider::{sid, Answer, FakeProvider};
use crate::helpers::{spawn_app_with, Backend};

async fn sends_through_twilio_and_applies_reports(backend: Backend) {
    let fake = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    let t = app.seed_tenant("acme").await;
    let (status, chat) = app.send_sms(&t, &seed_body()).await;
    assert_eq!(status, 200);
    let sent = first_message_becomes(&app, &t, &chat["id"], &["sent"]).await;
    assert_eq!(sent["provider_message_id"], sid(1));
    assert_eq!(
        (sent["direction"].as_str(), sent["body"].as_str(), sent["segments"].as_i64()),
        (Some("outbound"), Some("lorem ipsum"), Some(1))
    );
    assert_eq!(sent["error"], Value::Null);

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, format!("/2010-04-01/Accounts/{SID}/Messages.json"));
    let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{SID}:{TOKEN}"));
    assert_eq!(request.authorization.as_deref(), Some(format!("Basic {basic}").as_str()));
    assert_eq!(request.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
    let mut form = request.form();
    form.sort();
    assert_eq!(
        form,
        vec![
            ("Body".to_owned(), "lorem ipsum".to_owned()),
            ("From".to_owned(), "+16285550199".to_owned()),
            ("StatusCallback".to_owned(), format!("{PUBLIC_URL}/webhooks/twilio/acme/status")),
            ("To".to_owned(), "+14155550100".to_owned()),
        ]
    );

    // Delivery reports: signed ones move the status forward only.
    let path = "/webhooks/twilio/acme/status";
    let first = sid(1);
    let report =
        |status: &'static str| vec![("MessageSid", first.as_str()), ("MessageStatus", status), ("AccountSid", SID)];
    assert_eq!(callback(&app, path, &report("delivered"), Some("forged")).await.0, 403);
    assert_eq!(callback(&app, path, &report("delivered"), Some("")).await.0, 403);
    assert_eq!(first_message_becomes(&app, &t, &chat["id"], &["sent"]).await["delivery_status"], "sent", "unchanged");
    assert_eq!(callback(&app, path, &report("delivered"), None).await, (204, String::new()));
    assert_eq!(first_message_becomes(&app, &t, &chat["id"], &["delivered"]).await["delivery_status"], "delivered");
    assert_eq!(callback(&app, path, &report("sent"), None).await.0, 204);
    assert_eq!(callback(&app, path, &report("undelivered"), None).await.0, 204);
    let last = messages(&app, &t, &chat["id"]).await;
    assert_eq!(last[0]["delivery_status"], "delivered", "a late report never moves a status back");
    // Another tenant's path does not reach this tenant's message.
    let other = app.tenant("other").await;
    assert_eq!(callback(&app, "/webhooks/twilio/nobody/status", &report("failed"), None).await.0, 404);
    assert_eq!(
        callback(&app, &format!("/webhooks/twilio/{}/status", other.subdomain), &report("failed"), None).await.0,
        204
    );
    assert_eq!(messages(&app, &t, &chat["id"]).await[0]["delivery_status"], "delivered");
}

async fn transient_faults_are_retried(backend: Backend) {
    let fake =
        FakeProvider::start(vec![Answer::Status(500, "{}"), Answer::Hang(Duration::from_secs(3)), Answer::Created]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    let t = app.seed_tenant("acme").await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let sent = first_message_becomes(&app, &t, &chat["id"], &["sent", "failed"]).await;
    assert_eq!(sent["delivery_status"], "sent", "{sent}");
    assert_eq!(sent["provider_message_id"], sid(3));
    assert_eq!(sent["error"], Value::Null);
    assert_eq!(fake.requests().len(), 3, "a 500, a hang past the timeout, then success");
    assert_eq!(app.db.count("messages WHERE attempts = 3"), 1);
}

async fn permanent_faults_fail_at_once(backend: Backend) {
    let refusal =
        r#"{"code": 21211, "message": "The 'To' number +14155550100 is not a valid phone number.", "status": 400}"#;
    let fake = FakeProvider::start(vec![Answer::Status(400, refusal)]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    let t = app.seed_tenant("acme").await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let failed = first_message_becomes(&app, &t, &chat["id"], &["failed", "sent"]).await;
    assert_eq!(failed["delivery_status"], "failed");
    assert_eq!(failed["error"], "twilio 400: The 'To' number +14155550100 is not a valid phone number. (code 21211)");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(fake.requests().len(), 1, "a permanent refusal is not retried");
}

async fn attempts_are_limited(backend: Backend) {
    let fake =
        FakeProvider::start(vec![Answer::Status(503, "{}"), Answer::Status(429, "{}"), Answer::Status(502, "{}")]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    let t = app.seed_tenant("acme").await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let failed = first_message_becomes(&app, &t, &chat["id"], &["failed", "sent"]).await;
    assert_eq!(failed["delivery_status"], "failed");
    assert_eq!(failed["error"], "twilio 502 (gave up after 3 attempts)");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.requests().len(), 3);
}

async fn replies_join_the_chat_and_stop_opts_out(backend: Backend) {
    let fake = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    let t = app.seed_tenant("acme").await;
    let inbound = "/webhooks/twilio/acme/inbound";
    // Each reply a message of its own: Twilio's MessageSid is the body (a replay changes nothing).
    let reply = |body: &'static str| {
        vec![("From", "+14155550100"), ("To", "+16285550199"), ("Body", body), ("MessageSid", body)]
    };

    // No chat yet: kept aside, not lost.
    let (status, twiml) = callback(&app, inbound, &reply("hello?"), None).await;
    assert_eq!((status, twiml.as_str()), (200, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>"));
    assert_eq!(app.db.count("unrouted_messages"), 1);

    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    app.db.execute("UPDATE chats SET expires_at = '2099-01-01 00:00:00'");
    assert_eq!(callback(&app, inbound, &reply("Yes, call me"), Some("bad")).await.0, 403);
    assert_eq!(callback(&app, inbound, &reply("Yes, call me"), None).await.0, 200);
    let all = messages(&app, &t, &chat["id"]).await;
    assert_eq!(all.len(), 2);
    assert_eq!((all[1]["direction"].as_str(), all[1]["body"].as_str()), (Some("inbound"), Some("Yes, call me")));
    assert_eq!(all[1]["delivery_status"], "received");
    assert_eq!(app.db.count("chats WHERE expires_at < '2099-01-01 00:00:00'"), 1, "the reply restarted the timeout");

    // STOP ends the chat and blocks the next send; START lifts it.
    assert_eq!(callback(&app, inbound, &reply(" stop "), None).await.0, 200);
    let (_, ended) = app.tenant_call(&t, Method::GET, &format!("/apps/api/v1/chats/{}", chat["id"])).await;
    assert_eq!(
        (ended["status"].as_str(), ended["disconnected_by"].as_str()),
        (Some("finished"), Some("disconnected_by_end_user"))
    );
    assert_eq!(app.send_sms(&t, &seed_body()).await, (400, msg("end_user_number has opted out")));
    // After rows 1–11 and the agent, before row 12.
    assert_eq!(app.send_sms(&t, &body_with(&[("message", json!(""))])).await, (400, msg("message is required")));
    assert_eq!(app.send_sms(&t, &body_with(&[("agentId", json!(99))])).await, (400, msg("agent is not found")));
    let (status, list) = app.admin_call(Method::GET, "/admin/v1/tenants/acme/opt-outs").await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["number"], "+14155550100");
    // Opt-outs are per tenant.
    let other = app.seed_tenant_other().await;
    assert_eq!(app.send_sms(&other, &body_with(&[("outbound_number", json!("+1 628-555-0150"))])).await.0, 200);

    assert_eq!(callback(&app, inbound, &reply("START"), None).await.0, 200);
    assert_eq!(app.send_sms(&t, &seed_body()).await.0, 200);

    // Admins can lift an opt-out too.
    assert_eq!(callback(&app, inbound, &reply("UNSUBSCRIBE"), None).await.0, 200);
    assert_eq!(app.send_sms(&t, &seed_body()).await, (400, msg("end_user_number has opted out")));
    assert_eq!(
        app.admin_call(Method::DELETE, "/admin/v1/tenants/acme/opt-outs/%2B14155550100").await,
        (204, Value::Null)
    );
    assert_eq!(
        app.admin_call(Method::DELETE, "/admin/v1/tenants/acme/opt-outs/%2B14155550100").await,
        (404, msg("opt-out not found"))
    );
    assert_eq!(app.send_sms(&t, &seed_body()).await.0, 200);
}

async fn outbox_survives_a_restart(backend: Backend) {
    let fake = FakeProvider::start(vec![]);
    let configure = twilio(&fake);
    let mut app = spawn_app_with(backend, |c| {
        configure(c);
        c.delivery.worker = false;
    })
    .await;
    let t = app.seed_tenant("acme").await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    // Committed, not sent: the process goes away before any worker took it.
    assert_eq!(first_message_becomes(&app, &t, &chat["id"], &["queued"]).await["delivery_status"], "queued");
    app.restart_with(|c| c.delivery.worker = true).await;
    let sent = first_message_becomes(&app, &t, &chat["id"], &["sent"]).await;
    assert_eq!(sent["provider_message_id"], sid(1));
    assert_eq!(fake.requests().len(), 1);

    // A sender that crashed mid-send leaves its message leased; once the lease runs out the
    // message is claimed again.
    let (_, second) = app.send_sms(&t, &body_with(&[("end_user_number", json!("+1 415-555-0101"))])).await;
    first_message_becomes(&app, &t, &second["id"], &["sent"]).await;
    app.db.execute(&format!(
        "UPDATE messages SET delivery_status = 'sending', locked_until = '2020-01-01 00:00:00', provider_message_id = NULL WHERE chat_id = {}",
        second["id"]
    ));
    let resent = first_message_becomes(&app, &t, &second["id"], &["sent"]).await;
    assert_eq!(resent["provider_message_id"], sid(3));
}

async fn segments_are_counted(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let t = app.seed_tenant("acme").await;
    for (number, text, expected) in [
        ("+1 415-555-0101", "a".repeat(160), 1),
        ("+1 415-555-0102", "a".repeat(161), 2),
        ("+1 415-555-0103", "€".repeat(81), 2),
        ("+1 415-555-0104", "中".repeat(70), 1),
        ("+1 415-555-0105", "中".repeat(71), 2),
    ] {
        let (status, chat) =
            app.send_sms(&t, &body_with(&[("end_user_number", json!(number)), ("message", json!(text))])).await;
        assert_eq!(status, 200);
        let first = messages(&app, &t, &chat["id"]).await;
        assert_eq!(first[0]["segments"], expected, "{number}");
        assert_eq!(first[0]["delivery_status"], "queued");
    }
    assert_eq!(app.tenant_call(&t, Method::GET, "/apps/api/v1/chats/999/messages").await, (404, msg("chat not found")));
}

async fn webhook_provider_signs_its_posts(backend: Backend) {
    let fake = FakeProvider::start(vec![Answer::Status(200, r#"{"provider_message_id": "gw-1"}"#)]);
    let url = format!("{}/sms", fake.url);
    let app = spawn_app_with(backend, |c| {
        c.public_url = Some(PUBLIC_URL.into());
        c.delivery = sms_server::config::DeliveryConfig {
            worker: true,
            provider: sms_server::config::ProviderKind::Webhook,
            webhook_url: Some(url),
            webhook_secret: Some("gateway-secret".into()),
            poll: Duration::from_millis(50),
            ..Default::default()
        };
    })
    .await;
    let t = app.seed_tenant("acme").await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let sent = first_message_becomes(&app, &t, &chat["id"], &["sent"]).await;
    assert_eq!(sent["provider_message_id"], "gw-1");
    let request = &fake.requests()[0];
    let payload: Value = serde_json::from_slice(&request.body).unwrap_or_default();
    assert_eq!(
        payload,
        json!({"message_id": sent["id"], "from": "+16285550199", "to": "+14155550100", "body": "lorem ipsum", "media_urls": [],
               "status_callback": format!("{PUBLIC_URL}/webhooks/twilio/acme/status")})
    );
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"gateway-secret").unwrap();
    mac.update(&request.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(request.signature.as_deref(), Some(expected.as_str()));
}

async fn callbacks_need_a_configured_token(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.public_url = Some(PUBLIC_URL.into())).await;
    app.tenant("acme").await;
    let (status, body) = callback(
        &app,
        "/webhooks/twilio/acme/status",
        &[("MessageSid", &sid(1)), ("MessageStatus", "delivered")],
        None,
    )
    .await;
    assert_eq!(status, 403, "without TWILIO_AUTH_TOKEN nothing can be verified");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap_or_default(), msg("invalid signature"));
    let resp = app.client.get(app.url("/webhooks/twilio/acme/status")).send().await;
    assert_eq!(read(resp.unwrap()).await.0, 405);
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    sends_through_twilio_and_applies_reports,
    transient_faults_are_retried,
    permanent_faults_fail_at_once,
    attempts_are_limited,
    replies_join_the_chat_and_stop_opts_out,
    outbox_survives_a_restart,
    segments_are_counted,
    webhook_provider_signs_its_posts,
    callbacks_need_a_configured_token,
);
