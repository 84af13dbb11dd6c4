//! Hardening, round two (SPEC version 3): provider callbacks are strict about their parameters,
//! a keyword's receipt is kept for good, a number taken from a tenant stops its chats and its
//! messages, and the server refuses to start where callbacks would cross the internet in clear.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use sms_server::config::ProviderKind;
use sms_server::Application;

use crate::common::{callback, message_sid, messages, msg, read, seed_body, twilio, PUBLIC_URL, SID, TOKEN};
use crate::fake_provider::FakeProvider;
use crate::helpers::{config_for, spawn_app_with, Backend, Tenant, TestApp};

const INBOUND: &str = "/webhooks/twilio/acme/inbound";

/// Posts `params` exactly as given (no name or value rewritten), signed as Twilio signs `signed`.
async fn post_signed(app: &TestApp, path: &str, params: &[(&str, &str)], signed: &[(&str, &str)]) -> (u16, Value) {
    let owned = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    let signature = sms_delivery::twilio::signature(TOKEN, &format!("{PUBLIC_URL}{path}"), &owned(signed));
    let req = app.client.post(app.url(path)).header("X-Twilio-Signature", signature).form(&owned(params));
    read(req.send().await.unwrap()).await
}

fn from_consumer<'a>(body: &'a str, sid: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("From", "+14155550100"), ("To", "+16285550199"), ("Body", body), ("MessageSid", sid)]
}

/// Whether the consumer may be texted: the send's answer names the opt-out when not.
async fn opted_out(app: &TestApp, t: &Tenant) -> bool {
    let (status, body) = app.send_sms(t, &seed_body()).await;
    if status == 200 {
        let end = format!("/apps/api/v1/chats/{}/end", body["id"]);
        assert_eq!(app.tenant_call(t, Method::POST, &end).await.0, 200);
        return false;
    }
    assert_eq!((status, body), (400, msg("end_user_number has opted out")));
    true
}

/// A signed callback reshaped into another with the same signature (`MessageSid=SM…` sent as
/// `MessageSidS=M…`: Twilio's signature joins names and values without separators), a repeated
/// name, a missing or malformed `MessageSid`, another account: each answers 400 and changes
/// nothing.
async fn callbacks_cannot_be_reshaped(backend: Backend) {
    let fake = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    app.seed_tenant("acme").await;
    let sid = message_sid("SMstart");
    let original = from_consumer("START", &sid);
    let reshaped = [("From", "+14155550100"), ("To", "+16285550199"), ("Body", "START"), ("MessageSidS", &sid[1..])];
    let sign = |pairs: &[(&str, &str)]| {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        sms_delivery::twilio::signature(TOKEN, &format!("{PUBLIC_URL}{INBOUND}"), &pairs)
    };
    assert_eq!(sign(&reshaped), sign(&original), "the reshaped form carries the original's signature");
    assert_eq!(post_signed(&app, INBOUND, &reshaped, &original).await, (400, msg("MessageSid is invalid")));
    let twice = [original.as_slice(), &[("Body", "STOP")]].concat();
    assert_eq!(post_signed(&app, INBOUND, &twice, &twice).await, (400, msg("Body appears more than once")));
    let short = from_consumer("hello", "SM1");
    assert_eq!(post_signed(&app, INBOUND, &short, &short).await, (400, msg("MessageSid is invalid")));
    let other = [original.as_slice(), &[("AccountSid", "AC9999999999")]].concat();
    assert_eq!(post_signed(&app, INBOUND, &other, &other).await, (400, msg("AccountSid is not this account")));
    let report = [("MessageSid", "SMnope"), ("MessageStatus", "delivered")];
    assert_eq!(post_signed(&app, "/webhooks/twilio/acme/status", &report, &report).await.0, 400);
    assert_eq!((app.db.count("messages"), app.db.count("unrouted_messages")), (0, 0), "nothing recorded");
    assert_eq!(app.db.count("inbound_receipts"), 0, "no receipt taken");
    let ours = [original.as_slice(), &[("AccountSid", SID)]].concat();
    assert_eq!(post_signed(&app, INBOUND, &ours, &ours).await.0, 200, "the form Twilio sends is taken");
}

/// A keyword's receipt outlives the 30 days ordinary receipts are kept: a `START` replayed after
/// them never lifts a later `STOP`.
async fn a_keyword_receipt_is_kept_for_good(backend: Backend) {
    let fake = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    let t = app.seed_tenant("acme").await;
    assert_eq!(callback(&app, INBOUND, &from_consumer("STOP", "SMstop1"), None).await.0, 200);
    assert_eq!(callback(&app, INBOUND, &from_consumer("START", "SMstart"), None).await.0, 200);
    assert_eq!(callback(&app, INBOUND, &from_consumer("hello", "SMhello"), None).await.0, 200);
    assert_eq!(callback(&app, INBOUND, &from_consumer("STOP", "SMstop2"), None).await.0, 200);
    assert!(opted_out(&app, &t).await);
    // Every receipt a year old: the sweeper purges the ordinary one only.
    app.db.execute("UPDATE inbound_receipts SET created_at = '2025-01-01 00:00:00'");
    app.state.sweep_once().await.unwrap();
    assert_eq!(app.db.count("inbound_receipts"), 3, "the keywords' receipts are kept");
    assert_eq!(callback(&app, INBOUND, &from_consumer("START", "SMstart"), None).await.0, 200, "a replay");
    assert!(opted_out(&app, &t).await, "the replayed START changed nothing");
}

/// A number deleted from a tenant ends its active chats (`disconnected_by_system`) and fails its
/// unsent messages (`number removed`) in the same transaction; registered to another tenant, it
/// sends nothing for the first: a reply in the old chat answers 409, and a message of the old
/// tenant found queued is failed by the delivery worker.
async fn a_number_taken_away_stops_sending(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let acme = app.seed_tenant("acme").await;
    let globex = app.tenant("globex").await;
    let (status, chat) = app.send_sms(&acme, &seed_body()).await;
    assert_eq!(status, 200, "{chat}");
    let id = chat["id"].clone();
    let (status, reply) = app.reply(&acme, &id, &json!({"message": "Still there?"})).await;
    assert_eq!(status, 201, "{reply}");
    let numbers = "/admin/v1/tenants/acme/outbound-numbers";
    let (_, listed) = app.admin_call(Method::GET, numbers).await;
    let number_id = listed[0]["id"].clone();
    assert_eq!(app.admin_call(Method::DELETE, &format!("{numbers}/{number_id}")).await.0, 204);

    let (_, ended) = app.tenant_call(&acme, Method::GET, &format!("/apps/api/v1/chats/{id}")).await;
    assert_eq!(
        (ended["status"].clone(), ended["disconnected_by"].clone()),
        (json!("finished"), json!("disconnected_by_system"))
    );
    let failed: Vec<(Value, Value)> =
        messages(&app, &acme, &id).await.iter().map(|m| (m["delivery_status"].clone(), m["error"].clone())).collect();
    assert_eq!(failed, vec![(json!("failed"), json!("number removed")); 2], "its unsent messages fail");

    app.add_number(&globex, "+1 628-555-0199").await;
    let (status, body) = app.reply(&acme, &id, &json!({"message": "From the old number"})).await;
    assert_eq!((status, body), (409, msg("chat is not active")));
    let (status, body) = app.send_sms(&acme, &seed_body()).await;
    assert_eq!((status, body), (400, msg("outbound_number is not found")));

    // A message of the old tenant found queued (sent before the removal, retried after it):
    // the worker checks the number at the moment it sends.
    app.db.execute("UPDATE messages SET delivery_status = 'queued', error = NULL WHERE direction = 'outbound'");
    let mut app = app;
    app.restart_with(|config| config.delivery.worker = true).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let all = messages(&app, &acme, &id).await;
        if all.iter().all(|m| m["delivery_status"] == "failed") {
            assert!(all.iter().all(|m| m["error"] == "number removed"), "{all:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {all:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.db.count("messages WHERE delivery_status = 'sent'"), 0, "nothing sent from a number not owned");
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    callbacks_cannot_be_reshaped,
    a_keyword_receipt_is_kept_for_good,
    a_number_taken_away_stops_sending,
);

/// With Twilio, a public URL in clear text on a host that is not this machine stops the server,
/// and so does a secret that is still the placeholder of `.env.example`.
#[actix_web::test]
async fn the_server_refuses_unsafe_settings() {
    let db = sms_test_support::TestDb::create(Backend::Sqlite);
    let twilio = |public_url: &str| {
        let mut config = config_for(Backend::Sqlite, db.url());
        config.delivery.provider = ProviderKind::Twilio;
        config.delivery.twilio_account_sid = Some(SID.into());
        config.delivery.twilio_auth_token = Some(TOKEN.into());
        config.public_url = Some(public_url.into());
        config
    };
    let refused = |config| match Application::build(&config) {
        Err(e) => e.to_string(),
        Ok(app) => {
            drop(app.handle().stop(false));
            String::from("started")
        }
    };
    assert!(refused(twilio("http://sms.example.com")).contains("SMS_PUBLIC_URL"));
    assert!(refused(twilio("http://0.0.0.0:8080")).contains("SMS_PUBLIC_URL"));
    for fine in ["https://sms.example.com", "http://127.0.0.1:8080", "http://localhost:8080"] {
        assert_eq!(refused(twilio(fine)), "started", "{fine}");
    }
    let mut placeholder = twilio("https://sms.example.com");
    placeholder.delivery.twilio_auth_token = Some("change-me-twilio".into());
    assert!(refused(placeholder).contains("TWILIO_AUTH_TOKEN"));
}
