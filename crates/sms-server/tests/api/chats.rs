//! Chats after creation: read, list, end, time out.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{body_with, is_timestamp, msg, read};
use crate::helpers::{spawn_app, Backend, Tenant, TestApp};

async fn send(app: &TestApp, t: &Tenant, number: &str) -> Value {
    let (status, chat) = app.send_sms(t, &body_with(&[("end_user_number", json!(number))])).await;
    assert_eq!(status, 200, "{chat}");
    chat
}

/// The exact key set of the chat object, in order.
const CHAT_KEYS: [&str; 29] = [
    "id",
    "lang",
    "chat_type",
    "status",
    "created_at",
    "queued_at",
    "assigned_at",
    "ends_at",
    "wait_duration",
    "chat_duration",
    "rating",
    "has_feedback",
    "out_ticket_id",
    "out_ticket_url",
    "verified",
    "disconnected_by",
    "fail_reason",
    "selected_menu",
    "menu_path",
    "agent_info",
    "end_user",
    "photos",
    "videos",
    "transfers",
    "participants",
    "offer_type",
    "offer_events",
    "answer_type",
    "outbound_number",
];

async fn read_a_chat(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let created = send(&app, &t, "+1 415-555-0100").await;
    let path = format!("/apps/api/v1/chats/{}", created["id"]);
    let resp = app.as_tenant(&t, Method::GET, &path).send().await.unwrap();
    let text = resp.text().await.unwrap_or_default();
    // Key order as the seed shows it, byte for byte.
    let order: Vec<usize> = CHAT_KEYS.iter().map(|k| text.find(&format!("\"{k}\":")).unwrap_or(usize::MAX)).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "keys out of order: {text}");
    let fetched: Value = serde_json::from_str(&text).unwrap_or_default();
    assert_eq!(fetched, created, "reading answers what creation answered");
    let keys: Vec<&str> = fetched.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
    let mut expected = CHAT_KEYS.to_vec();
    expected.sort_unstable();
    let mut got = keys.clone();
    got.sort_unstable();
    assert_eq!(got, expected);
    assert!(fetched["created_at"].as_str().is_some_and(is_timestamp));
    assert!(fetched["created_at"].as_str().is_some_and(|s| s.ends_with('Z')));
    // Missing and non-numeric ids.
    assert_eq!(app.tenant_call(&t, Method::GET, "/apps/api/v1/chats/999999").await, (404, msg("chat not found")));
    assert_eq!(app.tenant_call(&t, Method::GET, "/apps/api/v1/chats/abc").await, (404, msg("chat not found")));
}

async fn list_chats(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let a = send(&app, &t, "4155550101").await;
    let b = send(&app, &t, "4155550102").await;
    let c = send(&app, &t, "4155550103").await;
    app.tenant_call(&t, Method::POST, &format!("/apps/api/v1/chats/{}/end", b["id"])).await;

    let list = |query: &str| {
        let req = app.as_tenant(&t, Method::GET, &format!("/apps/api/v1/chats{query}"));
        async move {
            let resp = req.send().await.unwrap();
            let total = resp.headers().get("x-total-count").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let (status, body) = read(resp).await;
            let ids: Vec<Value> =
                body.as_array().map(|a| a.iter().map(|c| c["id"].clone()).collect()).unwrap_or_default();
            (status, total, ids, body)
        }
    };
    let (status, total, ids, _) = list("").await;
    assert_eq!((status, total.as_deref()), (200, Some("3")));
    assert_eq!(ids, vec![c["id"].clone(), b["id"].clone(), a["id"].clone()], "newest first");
    let (_, total, ids, _) = list("?per=2&page=2").await;
    assert_eq!((total.as_deref(), ids), (Some("3"), vec![a["id"].clone()]));
    let (_, total, ids, _) = list("?page=5").await;
    assert_eq!((total.as_deref(), ids.len()), (Some("3"), 0));
    let (_, total, ids, _) = list("?status=finished").await;
    assert_eq!((total.as_deref(), ids), (Some("1"), vec![b["id"].clone()]));
    let (_, _, ids, _) = list("?status=selecting").await;
    assert_eq!(ids, vec![c["id"].clone(), a["id"].clone()]);
    let (_, total, ids, _) = list("?end_user_number=%28415%29%20555-0102").await;
    assert_eq!((total.as_deref(), ids), (Some("1"), vec![b["id"].clone()]));
    let (_, total, ids, _) = list("?end_user_number=4155550199").await;
    assert_eq!((total.as_deref(), ids.len()), (Some("0"), 0));

    for (query, message) in [
        ("?status=active", "status must be one of selecting, queued, assigned, finished"),
        ("?status=", "status must be one of selecting, queued, assigned, finished"),
        ("?end_user_number=12345", "end_user_number is invalid"),
        ("?end_user_number=%2B82%20000-000-0000", "Non-US phone number not allowed"),
        ("?page=0", "page must be an integer of at least 1"),
        ("?page=x", "page must be an integer of at least 1"),
        ("?per=0", "per must be an integer from 1 to 100"),
        ("?per=101", "per must be an integer from 1 to 100"),
    ] {
        let (status, _, _, body) = list(query).await;
        assert_eq!((status, body), (400, msg(message)), "{query}");
    }
}

async fn end_a_chat(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    app.add_seed_agent(&t).await;
    let (status, chat) = app.send_sms(&t, &body_with(&[("agentId", json!(1))])).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let path = format!("/apps/api/v1/chats/{}/end", chat["id"]);
    let (status, ended) = app.tenant_call(&t, Method::POST, &path).await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["status"], "finished");
    assert_eq!(ended["disconnected_by"], "disconnected_by_agent");
    assert!(ended["ends_at"].as_str().is_some_and(is_timestamp));
    assert!(ended["chat_duration"].as_i64().is_some_and(|d| d >= 1), "{ended}");
    for p in ended["participants"].as_array().into_iter().flatten() {
        assert_eq!(p["status"], "disconnected");
        assert_eq!(p["ended_at"], ended["ends_at"]);
        assert!(p["chat_duration"].as_i64().is_some_and(|d| d >= 1));
    }
    assert_eq!(ended["agent_info"]["id"], 1);
    // Reading answers the same; ending again is a conflict.
    let (_, fetched) = app.tenant_call(&t, Method::GET, &format!("/apps/api/v1/chats/{}", chat["id"])).await;
    assert_eq!(fetched, ended);
    assert_eq!(app.tenant_call(&t, Method::POST, &path).await, (409, msg("chat is not active")));
    assert_eq!(app.tenant_call(&t, Method::POST, "/apps/api/v1/chats/424242/end").await, (404, msg("chat not found")));

    // Who ended it, from the body.
    for (by, expected) in [
        ("end_user", "disconnected_by_end_user"),
        ("system", "disconnected_by_system"),
        ("agent", "disconnected_by_agent"),
    ] {
        let chat = send(&app, &t, "+1 415-555-0100").await;
        let path = format!("/apps/api/v1/chats/{}/end", chat["id"]);
        let resp = app.as_tenant(&t, Method::POST, &path).json(&json!({"disconnected_by": by})).send().await;
        let (status, ended) = read(resp.unwrap()).await;
        assert_eq!((status, ended["disconnected_by"].as_str()), (200, Some(expected)));
    }
    let chat = send(&app, &t, "+1 415-555-0100").await;
    let path = format!("/apps/api/v1/chats/{}/end", chat["id"]);
    let resp = app.as_tenant(&t, Method::POST, &path).json(&json!({"disconnected_by": "nobody"})).send().await;
    assert_eq!(read(resp.unwrap()).await, (400, msg("disconnected_by must be one of agent, end_user, system")));
    let resp = app.as_tenant(&t, Method::POST, &path).header("Content-Type", "text/plain").body("x").send().await;
    assert_eq!(read(resp.unwrap()).await.0, 415);
    let resp = app.as_tenant(&t, Method::POST, &path).json(&json!({})).send().await;
    let (status, ended) = read(resp.unwrap()).await;
    assert_eq!((status, ended["disconnected_by"].as_str()), (200, Some("disconnected_by_agent")));
    // A JSON null body is no body.
    let chat = send(&app, &t, "+1 415-555-0100").await;
    let path = format!("/apps/api/v1/chats/{}/end", chat["id"]);
    let resp =
        app.as_tenant(&t, Method::POST, &path).header("Content-Type", "application/json").body("null").send().await;
    let (status, ended) = read(resp.unwrap()).await;
    assert_eq!((status, ended["disconnected_by"].as_str()), (200, Some("disconnected_by_agent")));
}

/// Moves every active chat's timeout into the past, as if the tenant's timeout had elapsed.
fn age_active_chats(app: &TestApp) {
    app.db.execute(
        "UPDATE chats SET last_activity_at = '2020-01-01 00:00:00', expires_at = '2020-01-01 00:01:00' \
         WHERE status IN ('selecting', 'queued', 'assigned')",
    );
}

async fn idle_chat_ends_on_next_send(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let old = send(&app, &t, "+1 415-555-0100").await;
    age_active_chats(&app);
    // Whichever comes first, the next send or the sweeper, ends it as timed out.
    let new = send(&app, &t, "+1 415-555-0100").await;
    assert_ne!(new["id"], old["id"]);
    let (_, ended) = app.tenant_call(&t, Method::GET, &format!("/apps/api/v1/chats/{}", old["id"])).await;
    assert_eq!(ended["status"], "finished");
    assert_eq!(ended["disconnected_by"], "disconnected_by_system");
    assert_eq!(ended["ends_at"], "2020-01-01T00:01:00.000Z", "ends when the timeout elapsed");
}

async fn sweeper_ends_idle_chats(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let old = send(&app, &t, "+1 415-555-0100").await;
    let fresh = send(&app, &t, "+1 415-555-0101").await;
    app.db.execute(&format!(
        "UPDATE chats SET last_activity_at = '2020-01-01 00:00:00', expires_at = '2020-01-01 00:01:00' WHERE id = {}",
        old["id"]
    ));
    // The test configuration sweeps every 500 ms.
    let path = format!("/apps/api/v1/chats/{}", old["id"]);
    let mut status = String::new();
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, chat) = app.tenant_call(&t, Method::GET, &path).await;
        status = chat["status"].as_str().unwrap_or_default().to_owned();
        if status == "finished" {
            assert_eq!(chat["disconnected_by"], "disconnected_by_system");
            assert_eq!(chat["participants"][0]["status"], "disconnected");
            break;
        }
    }
    assert_eq!(status, "finished");
    let (_, still) = app.tenant_call(&t, Method::GET, &format!("/apps/api/v1/chats/{}", fresh["id"])).await;
    assert_eq!(still["status"], "selecting", "a chat within its timeout stays active");
    // Its session is free again.
    send(&app, &t, "+1 415-555-0100").await;
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    read_a_chat,
    list_chats,
    end_a_chat,
    idle_chat_ends_on_next_send,
    sweeper_ends_idle_chats,
);
