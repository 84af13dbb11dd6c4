//! The platform's own API shapes (SPEC section 13): the Apps API's chat update and chat message,
//! and the Manager API's exports with their paging headers.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{body_with, callback, is_timestamp, msg, read, seed_body, twilio, PUBLIC_URL};
use crate::fake_provider::FakeProvider;
use crate::helpers::{spawn_app, spawn_app_with, Backend, Tenant, TestApp};

/// `PATCH /apps/api/v1/chats/{id}` with `body` (`None`: no body at all).
async fn patch_chat(app: &TestApp, t: &Tenant, chat_id: &Value, body: Option<Value>) -> (u16, Value) {
    let req = app.as_tenant(t, Method::PATCH, &format!("/apps/api/v1/chats/{chat_id}"));
    let req = match body {
        Some(body) => req.json(&body),
        None => req,
    };
    read(req.send().await.unwrap()).await
}

/// `POST /apps/api/v1/chats/{id}/message` with `body`, and an `Idempotency-Key` when given:
/// the answer and whether it was replayed.
async fn chat_message(
    app: &TestApp,
    t: &Tenant,
    chat_id: &Value,
    body: &Value,
    key: Option<&str>,
) -> (u16, Value, bool) {
    let mut req = app.as_tenant(t, Method::POST, &format!("/apps/api/v1/chats/{chat_id}/message")).json(body);
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    let resp = req.send().await.unwrap();
    let replayed = resp.headers().get("Idempotent-Replayed").is_some();
    let (status, body) = read(resp).await;
    (status, body, replayed)
}

async fn the_platform_finishes_a_chat(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let other = app.seed_tenant_other().await;
    let agent = app.add_seed_agent(&t).await;
    let strangers = app.add_agent(&other, json!({"email": "eve@bar.com", "first_name": "Eve", "last_name": "X"})).await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let id = &chat["id"];

    // The body's faults come first, then the chat, then the agent named.
    for body in [None, Some(json!({})), Some(json!({"chat": {}})), Some(json!({"chat": {"status": "active"}}))] {
        assert_eq!(patch_chat(&app, &t, id, body.clone()).await, (400, msg("status is invalid")), "{body:?}");
    }
    let finish = json!({"chat": {"status": "finished"}});
    assert_eq!(patch_chat(&app, &t, &json!(999999), Some(finish.clone())).await, (404, msg("chat not found")));
    assert_eq!(patch_chat(&app, &other, id, Some(finish.clone())).await, (404, msg("chat not found")));
    let by_stranger = json!({"finished_by_user_id": strangers["id"], "chat": {"status": "finished"}});
    assert_eq!(patch_chat(&app, &t, id, Some(by_stranger)).await, (400, msg("agent is not found")));
    assert_eq!(app.db.count("chats WHERE status = 'finished'"), 0, "no fault ended the chat");

    // Finished by the agent, with the platform's other keys ignored: the chat of `…/end`.
    let by_agent = json!({"finished_by_user_id": agent["id"], "chat": {"status": "finished", "escalation_id": 4, "deflection_channel": "sms"}});
    let (status, ended) = patch_chat(&app, &t, id, Some(by_agent.clone())).await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!((ended["id"].clone(), ended["status"].as_str()), (id.clone(), Some("finished")));
    assert_eq!(ended["disconnected_by"], "disconnected_by_agent");
    let (_, read_back) = app.tenant_call(&t, Method::GET, &format!("/apps/api/v1/chats/{id}")).await;
    assert_eq!(read_back, ended);
    assert_eq!(patch_chat(&app, &t, id, Some(by_agent)).await, (409, msg("chat is not active")));

    // The consumer is free: a new chat opens, and ends without naming an agent.
    let (status, next) = app.send_sms(&t, &seed_body()).await;
    assert_eq!(status, 200, "{next}");
    let (status, ended) = patch_chat(&app, &t, &next["id"], Some(finish)).await;
    assert_eq!((status, ended["disconnected_by"].as_str()), (200, Some("disconnected_by_agent")));
}

async fn the_platform_messages_a_chat(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let other = app.seed_tenant_other().await;
    let agent = app.add_seed_agent(&t).await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let id = &chat["id"];

    let text = json!({"from_user_id": agent["id"], "message": {"type": "text", "content": "Your order shipped."}});
    let (status, message, _) = chat_message(&app, &t, id, &text, None).await;
    assert_eq!(status, 201, "{message}");
    assert_eq!(
        (&message["chat_id"], message["direction"].as_str(), message["body"].as_str(), &message["agent_id"]),
        (id, Some("outbound"), Some("Your order shipped."), &agent["id"])
    );
    // The reply's effect: the chat is the agent's now.
    let (_, assigned) = app.tenant_call(&t, Method::GET, &format!("/apps/api/v1/chats/{id}")).await;
    assert_eq!((assigned["status"].as_str(), &assigned["agent_info"]["id"]), (Some("assigned"), &agent["id"]));

    let before = app.db.count("messages");
    let cases = [
        (json!({}), "message is required"),
        (json!({"message": "Hi"}), "message is required"),
        (json!({"message": {"type": "text"}}), "message is required"),
        (json!({"message": {"type": "text", "content": null}}), "message is required"),
        (json!({"message": {"type": "text", "content": "  "}}), "message is required"),
        (json!({"message": {"type": "photo", "content": "x.png"}}), "message type is not supported"),
        (json!({"message": {"type": "text", "content": "x".repeat(1601)}}), "message is too long"),
        (json!({"from_user_id": 999999, "message": {"type": "text", "content": "Hi"}}), "agent is not found"),
    ];
    for (body, expected) in cases {
        assert_eq!(chat_message(&app, &t, id, &body, None).await, (400, msg(expected), false), "{body}");
    }
    let hello = json!({"message": {"type": "text", "content": "Hi"}});
    assert_eq!(chat_message(&app, &other, id, &hello, None).await, (404, msg("chat not found"), false));
    let typed = app.as_tenant(&t, Method::POST, &format!("/apps/api/v1/chats/{id}/message")).body("{}");
    assert_eq!(read(typed.send().await.unwrap()).await.0, 415);
    assert_eq!(app.db.count("messages"), before, "no fault wrote a message");

    // An Idempotency-Key works as on a reply: replayed once, refused with another body.
    let (status, first, replayed) = chat_message(&app, &t, id, &hello, Some("msg-1")).await;
    assert_eq!((status, replayed), (201, false), "{first}");
    assert_eq!(chat_message(&app, &t, id, &hello, Some("msg-1")).await, (201, first, true));
    let changed = json!({"message": {"type": "text", "content": "Hello"}});
    assert_eq!(chat_message(&app, &t, id, &changed, Some("msg-1")).await.0, 422);
    assert_eq!(app.db.count("messages"), before + 1);

    // An ended chat takes no message.
    assert_eq!(app.tenant_call(&t, Method::POST, &format!("/apps/api/v1/chats/{id}/end")).await.0, 200);
    assert_eq!(chat_message(&app, &t, id, &hello, None).await, (409, msg("chat is not active"), false));
}

/// A Manager API page: status, body, and the headers `total`, `per-page`, `X-Total-Count` and
/// `Link` (empty when absent).
struct Exported {
    status: u16,
    body: Value,
    total: String,
    per_page: String,
    count: String,
    link: String,
}

async fn export(app: &TestApp, t: &Tenant, path_and_query: &str) -> Exported {
    let resp = app.as_tenant(t, Method::GET, path_and_query).send().await.unwrap();
    let header =
        |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned).unwrap_or_default();
    let (total, per_page, count, link) = (header("total"), header("per-page"), header("X-Total-Count"), header("Link"));
    let (status, body) = read(resp).await;
    Exported { status, body, total, per_page, count, link }
}

/// The URL of the `rel` entry of a `Link` header.
fn link_to(link: &str, rel: &str) -> Option<String> {
    link.split(", ").find_map(|entry| {
        let (url, this) = entry.split_once("; ")?;
        (this == format!("rel=\"{rel}\"")).then(|| url.trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

/// Follows `rel="next"` links from `first` as a client behind the TLS proxy does (the public
/// URL is the proxy's, which forwards to this instance): every item of every page, in order.
async fn every_page(app: &TestApp, t: &Tenant, first: &str) -> (Vec<Value>, usize) {
    let (mut items, mut pages, mut next) = (Vec::new(), 0, Some(first.to_owned()));
    while let Some(path) = next.take() {
        let page = export(app, t, &path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        items.extend(page.body.as_array().cloned().unwrap_or_default());
        pages += 1;
        if let Some(url) = link_to(&page.link, "next") {
            assert!(url.starts_with(PUBLIC_URL), "links are absolute, from SMS_PUBLIC_URL: {url}");
            next = Some(url[PUBLIC_URL.len()..].to_owned());
        }
    }
    (items, pages)
}

fn ids(items: &[Value]) -> Vec<i64> {
    items.iter().filter_map(|i| i["id"].as_i64()).collect()
}

async fn manager_exports_page_with_the_platforms_headers(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.public_url = Some(PUBLIC_URL.into())).await;
    let t = app.seed_tenant("acme").await;
    let other = app.seed_tenant_other().await;
    let agent = app.add_seed_agent(&t).await;
    let mut chats = Vec::new();
    for n in 0..5 {
        let body = body_with(&[("end_user_number", json!(format!("+1 415-555-01{n:02}")))]);
        let (status, chat) = app.send_sms(&t, &body).await;
        assert_eq!(status, 200, "{chat}");
        chats.push(chat["id"].as_i64().unwrap_or_default());
    }
    app.send_sms(&other, &body_with(&[("outbound_number", json!("+1 628-555-0150"))])).await;

    let (status, org) = app.tenant_call(&t, Method::GET, "/manager/api/v1/settings/organization").await;
    assert_eq!(
        (status, org),
        (200, json!({"subdomain": "acme", "name": "acme Inc.", "lang": "en", "time_zone": "UTC"}))
    );

    // Pages of two: the headers, and links holding the same query.
    let first = export(&app, &t, "/manager/api/v1/chats?per=2").await;
    assert_eq!((first.status, ids(first.body.as_array().unwrap())), (200, chats[..2].to_vec()));
    assert_eq!((first.total.as_str(), first.per_page.as_str(), first.count.as_str()), ("5", "2", "5"));
    assert_eq!(first.link, format!("<{PUBLIC_URL}/manager/api/v1/chats?per=2&page=2>; rel=\"next\""));
    let second = export(&app, &t, "/manager/api/v1/chats?per=2&page=2").await;
    assert_eq!(
        second.link,
        format!(
            "<{PUBLIC_URL}/manager/api/v1/chats?per=2&page=3>; rel=\"next\", \
             <{PUBLIC_URL}/manager/api/v1/chats?per=2&page=1>; rel=\"prev\""
        )
    );
    let (all, pages) = every_page(&app, &t, "/manager/api/v1/chats?per=2").await;
    assert_eq!((ids(&all), pages), (chats.clone(), 3), "every chat once, another tenant's none");
    let last = export(&app, &t, "/manager/api/v1/chats?per=2&page=3").await;
    assert_eq!(link_to(&last.link, "next"), None);

    // The extra fields of a chat, in the chat object's key order, then the report's.
    let item = &first.body[0];
    assert_eq!(item["outbound_number"], "+16285550199");
    for key in ["updated_at", "first_msg_sent_at", "last_msg_sent_at", "message_count", "queue_duration", "transcript"]
    {
        assert!(item.get(key).is_some(), "{key} in {item}");
    }
    assert_eq!((item["message_count"].as_i64(), item["transcript"].as_bool()), (Some(1), Some(true)));
    assert_eq!((&item["first_msg_sent_at"], &item["average_response_time"]), (&Value::Null, &Value::Null));

    // Sorting: newest created first, ties broken by id; a date range; a status.
    let (desc, _) =
        every_page(&app, &t, "/manager/api/v1/chats?sort_column=created_at&sort_direction=desc&per=3").await;
    assert_eq!(ids(&desc), chats.iter().rev().copied().collect::<Vec<_>>());
    app.db.execute(&format!(
        "UPDATE chats SET created_at = '2026-01-02 10:00:00' WHERE id IN ({}, {})",
        chats[3], chats[1]
    ));
    let (same_time, _) = every_page(&app, &t, "/manager/api/v1/chats?sort_column=created_at&per=1").await;
    assert_eq!(ids(&same_time), vec![chats[1], chats[3], chats[0], chats[2], chats[4]]);
    let day = export(&app, &t, "/manager/api/v1/chats?created_at[from]=2026-01-02&created_at[to]=2026-01-02").await;
    assert_eq!((ids(day.body.as_array().unwrap()), day.total.as_str()), (vec![chats[1], chats[3]], "2"));
    let exact = "/manager/api/v1/chats?created_at%5Bfrom%5D=2026-01-02T11:00:00.000%2B01:00&created_at%5Bto%5D=2026-01-02T10:00:00Z";
    assert_eq!(ids(export(&app, &t, exact).await.body.as_array().unwrap()), vec![chats[1], chats[3]], "inclusive ends");
    let end = app.tenant_call(&t, Method::POST, &format!("/apps/api/v1/chats/{}/end", chats[2])).await;
    assert_eq!(end.0, 200);
    let finished = export(&app, &t, "/manager/api/v1/chats?status=finished").await;
    assert_eq!(ids(finished.body.as_array().unwrap()), vec![chats[2]]);

    // A query fault names its parameter.
    let faults = [
        ("sort_column=name", "sort_column must be one of id, created_at, updated_at"),
        ("sort_direction=up", "sort_direction must be ASC or DESC"),
        ("per=0", "per must be an integer from 1 to 100"),
        ("per=101", "per must be an integer from 1 to 100"),
        ("page=0", "page must be an integer of at least 1"),
        ("updated_at[from]=yesterday", "updated_at[from] must be an RFC 3339 date-time or a date (YYYY-MM-DD)"),
        ("created_at[to]=2026-02-30", "created_at[to] must be an RFC 3339 date-time or a date (YYYY-MM-DD)"),
        ("status=open", "status must be one of selecting, queued, assigned, finished"),
    ];
    for (query, expected) in faults {
        let page = export(&app, &t, &format!("/manager/api/v1/chats?{query}")).await;
        assert_eq!((page.status, page.body), (400, msg(expected)), "{query}");
    }

    // Agents: the platform's fields; `status_updated_at` moves when the status does.
    let second_agent =
        app.add_agent(&t, json!({"email": "jane@foo.com", "first_name": "Jane", "last_name": "Roe"})).await;
    app.reply(&t, &json!(chats[0]), &json!({"message": "Hi", "agentId": agent["id"]})).await;
    let agents = export(&app, &t, "/manager/api/v1/agents").await;
    assert_eq!((agents.status, agents.total.as_str(), agents.link.as_str()), (200, "2", ""));
    let john = &agents.body[0];
    assert_eq!(john["id"], agent["id"]);
    assert!(is_timestamp(john["created_at"].as_str().unwrap_or_default()), "{john}");
    let expected = json!({
        "id": agent["id"], "email": "john.doe@foo.com", "first_name": "John", "last_name": "Doe",
        "middle_name": null, "agent_number": "9", "avatar_url": "https://foobar.com/johndoe",
        "created_at": john["created_at"], "status_updated_at": john["created_at"],
        "roles": ["agent"], "online": false, "status": null, "teams": [], "channels": [], "chat_count": 1,
        "call_count": 0, "wrap_up": false, "crm_authenticated": false, "location": null, "last_login_time": null
    });
    assert_eq!(john, &expected);
    assert_eq!((&agents.body[1]["agent_number"], agents.body[1]["chat_count"].as_i64()), (&Value::Null, Some(0)));
    app.db.execute("UPDATE agents SET status_updated_at = '2026-01-01 00:00:00'");
    let path = format!("/admin/v1/tenants/acme/agents/{}", second_agent["id"]);
    assert_eq!(app.admin_json(Method::PATCH, &path, json!({"status": "deactivated"})).await.0, 200);
    assert_eq!(app.admin_json(Method::PATCH, &path, json!({"status": "deactivated"})).await.0, 200);
    let moved = export(&app, &t, "/manager/api/v1/agents?sort_column=status_updated_at&sort_direction=DESC").await;
    assert_eq!(
        ids(moved.body.as_array().unwrap()),
        vec![second_agent["id"].as_i64().unwrap(), agent["id"].as_i64().unwrap()]
    );
    let since = export(&app, &t, "/manager/api/v1/agents?status_updated_at[from]=2026-01-02").await;
    assert_eq!(ids(since.body.as_array().unwrap()), vec![second_agent["id"].as_i64().unwrap()]);
    let bad = export(&app, &t, "/manager/api/v1/agents?sort_column=updated_at").await;
    assert_eq!((bad.status, bad.body), (400, msg("sort_column must be one of id, created_at, status_updated_at")));

    // The platform's other Manager API resources are not here; the exports need credentials.
    for path in
        ["/manager/api/v1/calls", "/manager/api/v1/menus", "/manager/api/v1/teams", "/manager/api/v1/user_statuses"]
    {
        assert_eq!(app.tenant_call(&t, Method::GET, path).await.0, 404, "{path}");
    }
    let anonymous = app.client.get(app.url("/manager/api/v1/chats")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}

async fn an_incremental_export_misses_no_change(backend: Backend) {
    let fake = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    let t = app.seed_tenant("acme").await;
    let agent = app.add_seed_agent(&t).await;
    let mut chats = Vec::new();
    for n in 0..6 {
        let body = body_with(&[("end_user_number", json!(format!("+1 415-555-01{n:02}")))]);
        let (_, chat) = app.send_sms(&t, &body).await;
        chats.push(chat["id"].as_i64().unwrap_or_default());
    }
    // Every first message sent: their chats changed then too.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.db.count("messages WHERE delivery_status = 'sent'") < 6 {
        assert!(std::time::Instant::now() < deadline, "the first messages are sent");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // The first run reads everything, two a page, oldest change first, and keeps the last mark.
    let query = "/manager/api/v1/chats?sort_column=updated_at&per=2";
    let (first_run, pages) = every_page(&app, &t, query).await;
    assert_eq!((first_run.len(), pages), (6, 3), "{first_run:?}");
    for chat in &first_run {
        assert!(chat["updated_at"].as_str() >= chat["last_msg_sent_at"].as_str(), "{chat}");
        assert!(chat["first_msg_sent_at"].is_string(), "{chat}");
    }
    let mark = first_run.last().and_then(|c| c["updated_at"].as_str()).unwrap_or_default().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    // Between the runs: a reply in one chat, a consumer's message in another, a delivery report
    // in a third, the end of a fourth.
    let (status, _) = app.reply(&t, &json!(chats[1]), &json!({"message": "On my way", "agentId": agent["id"]})).await;
    assert_eq!(status, 201);
    let inbound =
        [("From", "+14155550103"), ("To", "+16285550199"), ("Body", "Is it shipped?"), ("MessageSid", "SMq3")];
    assert_eq!(callback(&app, "/webhooks/twilio/acme/inbound", &inbound, None).await.0, 200);
    let sid = app.db.text(&format!("SELECT provider_message_id FROM messages WHERE chat_id = {}", chats[4]));
    let report = [("MessageSid", sid.as_str()), ("MessageStatus", "delivered"), ("AccountSid", crate::common::SID)];
    assert_eq!(callback(&app, "/webhooks/twilio/acme/status", &report, None).await.0, 204);
    assert_eq!(app.tenant_call(&t, Method::POST, &format!("/apps/api/v1/chats/{}/end", chats[5])).await.0, 200);

    // The reply is sent too (its chat changes again then): pages are numbered, as the
    // platform's are, so a chat that changes while a run pages through moves between pages.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.db.count("messages WHERE delivery_status IN ('sent', 'delivered') AND direction = 'outbound'") < 7 {
        assert!(std::time::Instant::now() < deadline, "the reply is sent");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // The second run asks from the mark: every changed chat, each after its change.
    let since = format!("{query}&updated_at%5Bfrom%5D={}", mark.replace('+', "%2B"));
    let (second_run, _) = every_page(&app, &t, &since).await;
    // `[from]` is inclusive: the chats last seen at the mark itself come again, unchanged.
    let at_mark = first_run.iter().filter(|c| c["updated_at"] == json!(mark)).filter_map(|c| c["id"].as_i64());
    let mut expected = vec![chats[1], chats[3], chats[4], chats[5]];
    expected.extend(at_mark);
    expected.sort_unstable();
    expected.dedup();
    let mut got = ids(&second_run);
    got.sort_unstable();
    assert_eq!(got, expected, "from {mark}: {second_run:?}, after {first_run:?}");
    for chat in &second_run {
        assert!(chat["updated_at"].as_str().unwrap_or_default() >= mark.as_str(), "{chat}");
    }
    let replied = second_run.iter().find(|c| c["id"] == json!(chats[1])).cloned().unwrap_or_default();
    assert_eq!((replied["message_count"].as_i64(), replied["status"].as_str()), (Some(2), Some("assigned")));
    let asked = second_run.iter().find(|c| c["id"] == json!(chats[3])).cloned().unwrap_or_default();
    assert_eq!((asked["message_count"].as_i64(), &asked["average_response_time"]), (Some(2), &Value::Null));

    // Response times: from the consumer's message to the next agent message, in whole seconds.
    let answer = json!({"message": "Yes, today", "agentId": agent["id"]});
    assert_eq!(app.reply(&t, &json!(chats[3]), &answer).await.0, 201);
    let id = chats[3];
    app.db.execute(&format!(
        "UPDATE messages SET created_at = '2026-01-01 10:00:00' WHERE chat_id = {id} AND direction = 'inbound'"
    ));
    app.db.execute(&format!(
        "UPDATE messages SET created_at = '2026-01-01 10:01:30.600' WHERE chat_id = {id} AND agent_id IS NOT NULL"
    ));
    let page = export(&app, &t, "/manager/api/v1/chats?per=1&page=4").await;
    let answered = &page.body[0];
    assert_eq!(answered["id"], json!(chats[3]));
    let times = (answered["average_response_time"].as_i64(), answered["longest_response_time"].as_i64());
    assert_eq!(times, (Some(90), Some(90)));
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    the_platform_finishes_a_chat,
    the_platform_messages_a_chat,
    manager_exports_page_with_the_platforms_headers,
    an_incremental_export_misses_no_change,
);
