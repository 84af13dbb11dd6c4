//! US texting rules (SPEC section 8, version 2) against a fake Twilio on loopback that answers
//! 201, 500, or 400 with Twilio's error 21610, with every callback signed as Twilio signs.

use std::time::{Duration, Instant};

use chrono::Timelike;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{body_with, callback, first_message_becomes, messages, msg, seed_body, twilio};
use crate::fake_provider::{Answer, FakeProvider};
use crate::helpers::{spawn_app_with, Backend, Tenant, TestApp};

const INBOUND: &str = "/webhooks/twilio/acme/inbound";

fn from_consumer<'a>(body: &'a str, sid: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("From", "+14155550100"), ("To", "+16285550199"), ("Body", body), ("MessageSid", sid)]
}

/// Waits until the fake has received `n` messages.
async fn twilio_got(fake: &FakeProvider, n: usize) -> Vec<Vec<(String, String)>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let forms: Vec<_> = fake.requests().iter().map(|r| r.form()).collect();
        if forms.len() >= n {
            return forms;
        }
        assert!(Instant::now() < deadline, "{} of {n} messages reached Twilio", forms.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn field(form: &[(String, String)], name: &str) -> String {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

async fn opted_out(app: &TestApp) -> Vec<Value> {
    let (status, list) = app.admin_call(Method::GET, "/admin/v1/tenants/acme/opt-outs").await;
    assert_eq!(status, 200);
    list.as_array().cloned().unwrap_or_default()
}

async fn stop_during_a_retry_backoff_sends_nothing_after_it(backend: Backend) {
    let fake = FakeProvider::start(vec![Answer::Status(500, r#"{"code": 20500, "message": "Internal"}"#)]);
    let app = spawn_app_with(backend, |c| {
        twilio(&fake)(c);
        // A backoff long enough to answer STOP inside it.
        c.delivery.retry_base = Duration::from_secs(3);
        c.delivery.retry_max = Duration::from_secs(3);
    })
    .await;
    let t = app.seed_tenant("acme").await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    twilio_got(&fake, 1).await;
    let waiting = first_message_becomes(&app, &t, &chat["id"], &["queued"]).await;
    assert_eq!(waiting["error"].as_str().map(|e| e.starts_with("twilio 500")), Some(true), "{waiting}");
    assert_eq!(callback(&app, INBOUND, &from_consumer("Stop.", "SMstop"), None).await.0, 200);
    let failed = first_message_becomes(&app, &t, &chat["id"], &["failed", "sent"]).await;
    assert_eq!((failed["delivery_status"].as_str(), failed["error"].as_str()), (Some("failed"), Some("opted out")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.requests().len(), 1, "nothing went to Twilio after STOP");
    println!("{backend:?}: STOP during the retry backoff: the message failed \"opted out\"; Twilio received 1 request, none after STOP");
}

async fn keywords_are_answered_once_with_the_tenants_texts(backend: Backend) {
    let fake = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    let t = app
        .tenant_with(
            "acme",
            json!({"help_text": "Acme: reply STOP to opt out.", "opt_out_text": "You are unsubscribed.",
                   "opt_in_text": "Welcome back."}),
        )
        .await;
    app.add_number(&t, "+1 628-555-0199").await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    twilio_got(&fake, 1).await;

    // HELP (any case, a trailing bang): answered from the number the consumer wrote to, in the
    // consumer's chat; the keyword itself is kept like any reply.
    assert_eq!(callback(&app, INBOUND, &from_consumer("help!", "SM1"), None).await.0, 200);
    let forms = twilio_got(&fake, 2).await;
    assert_eq!(
        (field(&forms[1], "From"), field(&forms[1], "To"), field(&forms[1], "Body")),
        ("+16285550199".into(), "+14155550100".into(), "Acme: reply STOP to opt out.".into())
    );
    let bodies: Vec<Value> = messages(&app, &t, &chat["id"]).await.iter().map(|m| m["body"].clone()).collect();
    assert_eq!(bodies, [json!("lorem ipsum"), json!("help!"), json!("Acme: reply STOP to opt out.")]);
    // YES from a number that is not opted out is an ordinary reply: no answer.
    assert_eq!(callback(&app, INBOUND, &from_consumer("Yes", "SM2"), None).await.0, 200);

    // REVOKE (the FCC's word) opts out, ends the chat, and is confirmed: the one message that
    // goes to an opted-out number.
    assert_eq!(callback(&app, INBOUND, &from_consumer(" Revoke. ", "SM3"), None).await.0, 200);
    let forms = twilio_got(&fake, 3).await;
    assert_eq!(field(&forms[2], "Body"), "You are unsubscribed.");
    assert_eq!(opted_out(&app).await.len(), 1);
    let (_, ended) = app.tenant_call(&t, Method::GET, &format!("/apps/api/v1/chats/{}", chat["id"])).await;
    assert_eq!(ended["status"], "finished");
    assert_eq!(app.send_sms(&t, &seed_body()).await, (400, msg("end_user_number has opted out")));

    // YES from the opted-out number opts back in, answered with the opt-in text; no chat, so
    // the answer belongs to none.
    assert_eq!(callback(&app, INBOUND, &from_consumer("YES", "SM4"), None).await.0, 200);
    let forms = twilio_got(&fake, 4).await;
    assert_eq!(field(&forms[3], "Body"), "Welcome back.");
    assert!(opted_out(&app).await.is_empty());
    assert_eq!(app.db.count("messages WHERE chat_id IS NULL AND automatic = 'opt_in'"), 1);
    // OPTOUT and INFO work too; each keyword message is answered once.
    assert_eq!(callback(&app, INBOUND, &from_consumer("optout", "SM5"), None).await.0, 200);
    assert_eq!(callback(&app, INBOUND, &from_consumer("Info", "SM6"), None).await.0, 200);
    let forms = twilio_got(&fake, 5).await;
    assert_eq!(field(&forms[4], "Body"), "You are unsubscribed.");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.requests().len(), 5, "the HELP answer to an opted-out number is not sent");
    let info_answer = app
        .db
        .text("SELECT delivery_status || ' ' || error FROM messages WHERE automatic = 'help' ORDER BY id DESC LIMIT 1");
    assert_eq!(info_answer, "failed opted out");
    assert_eq!(app.db.count("messages WHERE automatic IS NOT NULL"), 5, "one answer per keyword message");
    println!("{backend:?}: HELP answered from +16285550199 with the help text; REVOKE confirmed though opted out; YES opted back in; INFO to an opted-out number failed \"opted out\"");
}

async fn a_tenant_without_texts_answers_nothing(backend: Backend) {
    let fake = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    let t = app.seed_tenant("acme").await;
    app.send_sms(&t, &seed_body()).await;
    twilio_got(&fake, 1).await;
    for (body, sid) in [("HELP", "SM1"), ("STOP", "SM2"), ("START", "SM3")] {
        assert_eq!(callback(&app, INBOUND, &from_consumer(body, sid), None).await.0, 200);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.requests().len(), 1, "null texts: no automatic answers");
    assert!(opted_out(&app).await.is_empty(), "STOP then START");
}

async fn twilio_21610_opts_the_number_out(backend: Backend) {
    let refusal = r#"{"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}"#;
    let fake = FakeProvider::start(vec![Answer::Status(400, refusal)]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    let t = app.seed_tenant("acme").await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let failed = first_message_becomes(&app, &t, &chat["id"], &["failed", "sent"]).await;
    assert_eq!(
        (failed["delivery_status"].as_str(), failed["error"].as_str()),
        (Some("failed"), Some("twilio 400: Attempt to send to unsubscribed recipient (code 21610)"))
    );
    let list = opted_out(&app).await;
    assert_eq!(list.first().map(|o| o["number"].clone()), Some(json!("+14155550100")));
    // Where it came from: the carrier, for a message from the tenant's number; no keyword.
    assert_eq!(
        list.first().map(|o| (o["keyword"].clone(), o["outbound_number"].clone(), o["message_id"].clone())),
        Some((Value::Null, json!("+16285550199"), Value::Null))
    );
    // The chat stays open, but nothing more goes to the number.
    let (status, answer) = app.reply(&t, &chat["id"], &json!({"message": "hello?"})).await;
    assert_eq!((status, answer), (400, msg("end_user_number has opted out")));
    // Other refusals fail the message and opt nobody out.
    let other =
        FakeProvider::start(vec![Answer::Status(400, r#"{"code": 21211, "message": "Invalid 'To' Phone Number"}"#)]);
    let app = spawn_app_with(backend, twilio(&other)).await;
    let t = app.seed_tenant("acme").await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let failed = first_message_becomes(&app, &t, &chat["id"], &["failed", "sent"]).await;
    assert_eq!(failed["error"], "twilio 400: Invalid 'To' Phone Number (code 21211)");
    assert!(opted_out(&app).await.is_empty());
    println!("{backend:?}: Twilio 21610 failed the message with Twilio's reason and opted +14155550100 out; 21211 opted nobody out");
}

async fn replayed_callbacks_change_nothing(backend: Backend) {
    let fake = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    let t = app.seed_tenant("acme").await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    assert_eq!(callback(&app, INBOUND, &from_consumer("On my way", "SMa"), None).await.0, 200);
    let replay = callback(&app, INBOUND, &from_consumer("On my way", "SMa"), None).await;
    assert_eq!(replay.0, 200, "answered as the first was");
    assert_eq!(messages(&app, &t, &chat["id"]).await.len(), 2, "one stored reply");
    // A captured START cannot undo a later STOP.
    for (body, sid) in [("STOP", "SMb"), ("START", "SMc"), ("STOP", "SMd")] {
        assert_eq!(callback(&app, INBOUND, &from_consumer(body, sid), None).await.0, 200);
    }
    assert_eq!(callback(&app, INBOUND, &from_consumer("START", "SMc"), None).await.0, 200);
    assert_eq!(opted_out(&app).await.len(), 1, "still opted out");
    assert_eq!(app.db.count("unrouted_messages"), 2, "START and the second STOP found no chat; the replay added none");
    // One receipt per MessageSid taken.
    assert_eq!(app.db.count("inbound_receipts"), 4);
    println!("{backend:?}: a replayed reply stored nothing; a replayed START did not undo the later STOP");
}

async fn inbound_to_must_be_the_tenants_number(backend: Backend) {
    let fake = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    let t = app.seed_tenant("acme").await;
    app.seed_tenant_other().await;
    app.send_sms(&t, &seed_body()).await;
    let elsewhere = vec![("From", "+14155550100"), ("To", "+16285550150"), ("Body", "STOP"), ("MessageSid", "SMx")];
    let (status, body) = callback(&app, INBOUND, &elsewhere, None).await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap_or_default()),
        (404, msg("outbound_number is not found"))
    );
    assert!(opted_out(&app).await.is_empty(), "nothing recorded");
    assert_eq!((app.db.count("unrouted_messages"), app.db.count("inbound_receipts")), (0, 0));
    assert_eq!(app.db.count("messages WHERE direction = 'inbound'"), 0);
}

async fn inbound_mms_media_are_kept_in_order(backend: Backend) {
    let fake = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    let t = app.seed_tenant("acme").await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let form = vec![
        ("From", "+14155550100"),
        ("To", "+16285550199"),
        ("Body", ""),
        ("MessageSid", "MMmedia"),
        ("NumMedia", "2"),
        ("MediaUrl0", "https://api.twilio.com/media/ME1"),
        ("MediaContentType0", "image/jpeg"),
        ("MediaUrl1", "https://api.twilio.com/media/ME2"),
        ("MediaContentType1", "application/pdf"),
    ];
    assert_eq!(callback(&app, INBOUND, &form, None).await.0, 200);
    let all = messages(&app, &t, &chat["id"]).await;
    assert_eq!(
        all[1]["media"],
        json!([{"url": "https://api.twilio.com/media/ME1", "content_type": "image/jpeg"},
               {"url": "https://api.twilio.com/media/ME2", "content_type": "application/pdf"}])
    );
    assert_eq!((&all[0]["media"], &all[1]["direction"]), (&json!([]), &json!("inbound")));
}

/// Quiet hours from one hour before to one hour after New York's time now: quiet in New York,
/// not in Los Angeles (three hours behind, whatever the season).
fn quiet_in_new_york() -> Value {
    let now = chrono::Utc::now().with_timezone(&chrono_tz::America::New_York);
    let at = |offset: i64| {
        let t = now + chrono::Duration::hours(offset);
        format!("{:02}:{:02}", t.hour(), t.minute())
    };
    json!({"quiet_hours_start": at(-1), "quiet_hours_end": at(1)})
}

async fn quiet_hours_follow_the_consumers_zone(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let t = app.seed_tenant("acme").await;
    let new_york = |n: &str| body_with(&[("end_user_number", json!(n))]);
    // A chat opened before the quiet hours were set.
    let (status, open) = app.send_sms(&t, &new_york("+1 212-555-0101")).await;
    assert_eq!(status, 200);
    app.patch_tenant(&t, quiet_in_new_york()).await;

    assert_eq!(app.send_sms(&t, &new_york("+1 212-555-0100")).await, (400, msg("end_user_number is in quiet hours")));
    let (status, chat) = app.send_sms(&t, &seed_body()).await;
    assert_eq!((status, chat["status"].as_str()), (200, Some("selecting")), "Los Angeles, the same instant");
    // After the opt-out, before the active session (row 12).
    assert_eq!(app.send_sms(&t, &new_york("+1 212-555-0101")).await, (400, msg("end_user_number is in quiet hours")));
    assert_eq!(
        app.send_sms(&t, &body_with(&[("end_user_number", json!("+1 212-555-0100")), ("agentId", json!(99))])).await,
        (400, msg("agent is not found")),
        "an earlier fault wins"
    );
    app.db.execute(
        "INSERT INTO opt_outs (tenant_id, number, created_at) \
         SELECT id, '+12125550100', '2026-01-01 00:00:00' FROM tenants WHERE subdomain = 'acme'",
    );
    assert_eq!(app.send_sms(&t, &new_york("+1 212-555-0100")).await, (400, msg("end_user_number has opted out")));
    // Replies inside an open chat are not restricted.
    assert_eq!(app.reply(&t, &open["id"], &json!({"message": "Following up"})).await.0, 201);
    assert_eq!(app.db.count("chats"), 2, "nothing written by a refusal");

    // Switched off: both null.
    app.patch_tenant(&t, json!({"quiet_hours_start": null, "quiet_hours_end": null})).await;
    let (status, tenant) = app.admin_call(Method::GET, "/admin/v1/tenants/acme").await;
    assert_eq!((status, &tenant["quiet_hours_start"], &tenant["quiet_hours_end"]), (200, &Value::Null, &Value::Null));
    app.db.execute("DELETE FROM opt_outs");
    assert_eq!(app.send_sms(&t, &new_york("+1 212-555-0100")).await.0, 200);
    println!("{backend:?}: quiet hours {}: +1 212 refused \"end_user_number is in quiet hours\", +1 415 accepted at the same instant", quiet_in_new_york());
}

async fn texting_settings_are_validated(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let t: Tenant = app.tenant("acme").await;
    let path = "/admin/v1/tenants/acme";
    let (status, tenant) = app.admin_call(Method::GET, path).await;
    assert_eq!(status, 200);
    for key in ["help_text", "opt_out_text", "opt_in_text", "quiet_hours_start", "quiet_hours_end"] {
        assert_eq!(tenant[key], Value::Null, "{key} is null by default");
    }
    for (body, expected) in [
        (json!({"help_text": ""}), "help_text must be 1 to 320 characters"),
        (json!({"opt_out_text": "x".repeat(321)}), "opt_out_text must be 1 to 320 characters"),
        (json!({"opt_in_text": "   "}), "opt_in_text must be 1 to 320 characters"),
        (
            json!({"quiet_hours_start": "21:00"}),
            "quiet_hours_start and quiet_hours_end must both be set or both be null",
        ),
        (
            json!({"quiet_hours_start": "9pm", "quiet_hours_end": "08:00"}),
            "quiet_hours_start must be \"HH:MM\" (24-hour)",
        ),
        (
            json!({"quiet_hours_start": "21:00", "quiet_hours_end": "24:00"}),
            "quiet_hours_end must be \"HH:MM\" (24-hour)",
        ),
        (
            json!({"quiet_hours_start": "08:00", "quiet_hours_end": "08:00"}),
            "quiet_hours_start and quiet_hours_end must differ",
        ),
    ] {
        assert_eq!(app.admin_json(Method::PATCH, path, body.clone()).await, (400, msg(expected)), "{body}");
    }
    let texts = json!({"help_text": "Help!", "quiet_hours_start": "21:00", "quiet_hours_end": "08:00"});
    let (status, changed) = app.admin_json(Method::PATCH, path, texts).await;
    assert_eq!((status, &changed["help_text"], &changed["quiet_hours_start"]), (200, &json!("Help!"), &json!("21:00")));
    // One end changed alone keeps the pair.
    let (status, changed) = app.admin_json(Method::PATCH, path, json!({"quiet_hours_end": "07:30"})).await;
    assert_eq!(
        (status, &changed["quiet_hours_start"], &changed["quiet_hours_end"]),
        (200, &json!("21:00"), &json!("07:30"))
    );
    assert_eq!(
        app.admin_json(Method::PATCH, path, json!({"quiet_hours_end": null})).await,
        (400, msg("quiet_hours_start and quiet_hours_end must both be set or both be null"))
    );
    let (status, cleared) = app.admin_json(Method::PATCH, path, json!({"help_text": null})).await;
    assert_eq!((status, &cleared["help_text"]), (200, &Value::Null));
    // On creation too.
    let create = json!({"subdomain": "globex", "name": "Globex", "quiet_hours_end": "08:00"});
    assert_eq!(
        app.admin_json(Method::POST, "/admin/v1/tenants", create).await,
        (400, msg("quiet_hours_start and quiet_hours_end must both be set or both be null"))
    );
    let create = json!({"subdomain": "globex", "name": "Globex", "opt_out_text": "Bye.", "quiet_hours_start": "20:00", "quiet_hours_end": "08:00"});
    let (status, created) = app.admin_json(Method::POST, "/admin/v1/tenants", create).await;
    assert_eq!((status, &created["opt_out_text"], &created["quiet_hours_end"]), (201, &json!("Bye."), &json!("08:00")));
    drop(t);
}

async fn opt_outs_say_where_they_came_from_and_export_as_csv(backend: Backend) {
    let fake = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    let t = app.seed_tenant("acme").await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let inbound = "/webhooks/twilio/acme/inbound";
    let stop = [("From", "+14155550100"), ("To", "+16285550199"), ("Body", " Stop "), ("MessageSid", "SMa1")];
    assert_eq!(callback(&app, inbound, &stop, None).await.0, 200);
    // A consumer with no chat, whose number would be a formula in a spreadsheet anyway.
    let other = [("From", "+14155550111"), ("To", "+16285550199"), ("Body", "unsubscribe"), ("MessageSid", "SMa2")];
    assert_eq!(callback(&app, inbound, &other, None).await.0, 200);
    let list = opted_out(&app).await;
    let stopped = messages(&app, &t, &chat["id"]).await;
    let carried = stopped.iter().find(|m| m["body"] == " Stop ").map(|m| m["id"].clone()).unwrap_or_default();
    assert!(carried.is_i64());
    assert_eq!(
        list,
        [
            json!({"number": "+14155550100", "created_at": list[0]["created_at"], "keyword": "Stop",
                   "outbound_number": "+16285550199", "message_id": carried}),
            json!({"number": "+14155550111", "created_at": list[1]["created_at"], "keyword": "unsubscribe",
                   "outbound_number": "+16285550199", "message_id": null}),
        ]
    );
    // The whole list as CSV: a header row, CRLF lines, formulas defused.
    let resp =
        app.admin(Method::GET, "/admin/v1/tenants/acme/opt-outs").header("Accept", "text/csv").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(resp.headers()["content-disposition"], "attachment; filename=\"opt-outs-acme.csv\"");
    let csv = resp.text().await.unwrap();
    let first = list[0]["created_at"].as_str().unwrap_or_default();
    let second = list[1]["created_at"].as_str().unwrap_or_default();
    assert_eq!(
        csv,
        format!(
            "number,created_at,keyword,outbound_number,message_id\r\n\
             '+14155550100,{first},Stop,'+16285550199,{carried}\r\n\
             '+14155550111,{second},unsubscribe,'+16285550199,\r\n"
        )
    );
    let missing = app.admin(Method::GET, "/admin/v1/tenants/nope/opt-outs").header("Accept", "text/csv");
    assert_eq!(crate::common::read(missing.send().await.unwrap()).await, (404, msg("tenant not found")));
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    opt_outs_say_where_they_came_from_and_export_as_csv,
    stop_during_a_retry_backoff_sends_nothing_after_it,
    keywords_are_answered_once_with_the_tenants_texts,
    a_tenant_without_texts_answers_nothing,
    twilio_21610_opts_the_number_out,
    replayed_callbacks_change_nothing,
    inbound_to_must_be_the_tenants_number,
    inbound_mms_media_are_kept_in_order,
    quiet_hours_follow_the_consumers_zone,
    texting_settings_are_validated,
);
