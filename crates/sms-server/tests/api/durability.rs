//! The database as the authority: the backstop index, restarts, outages, nothing half-written.

use reqwest::Method;
use serde_json::json;

use crate::common::{msg, read, seed_body};
use crate::helpers::{spawn_app, Backend};

const ACTIVE: &str = "Outbound SMS failed. Consumer is already in an active SMS session.";

async fn unique_index_refuses_a_second_active_chat(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let (status, chat) = app.send_sms(&t, &seed_body()).await;
    assert_eq!(status, 200);
    let copy = |status: &str| {
        format!(
            "INSERT INTO chats (tenant_id, end_user_id, chat_type, lang, status, outbound_number, disconnected_by, \
             created_at, last_activity_at, expires_at, updated_at) \
             SELECT tenant_id, end_user_id, chat_type, lang, '{status}', outbound_number, disconnected_by, \
             created_at, last_activity_at, expires_at, updated_at FROM chats WHERE id = {}",
            chat["id"]
        )
    };
    for active in ["selecting", "queued", "assigned"] {
        let refused = app.db.try_execute(&copy(active));
        assert!(refused.is_err_and(|e| e.to_lowercase().contains("unique")), "a second {active} chat must be refused");
    }
    app.db.execute(&copy("finished"));
    assert_eq!(app.db.count("chats"), 2, "finished chats do not count");
}

async fn restart_keeps_the_session(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let (status, chat) = app.send_sms(&t, &seed_body()).await;
    assert_eq!(status, 200);
    // The in-process lock is gone after a restart; the database still refuses, with the chat id.
    app.restart().await;
    let (status, body) = app.send_sms(&t, &seed_body()).await;
    assert_eq!((status, body), (400, json!({"message": ACTIVE, "chat_id": chat["id"]})));
    let (status, fetched) = app.tenant_call(&t, Method::GET, &format!("/apps/api/v1/chats/{}", chat["id"])).await;
    assert_eq!((status, &fetched), (200, &chat));
    assert_eq!(app.db.count("chats"), 1);
    // The failed attempt left no lock: ending the chat frees the consumer at once.
    assert_eq!(app.tenant_call(&t, Method::POST, &format!("/apps/api/v1/chats/{}/end", chat["id"])).await.0, 200);
    assert_eq!(app.send_sms(&t, &seed_body()).await.0, 200);
}

async fn faults_write_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    app.add_seed_agent(&t).await;
    for body in [
        json!({}),
        json!({"chat_type": "SMS"}),
        json!({"chat_type": "SMS", "end_user_number": "4155550100"}),
        json!({"chat_type": "SMS", "end_user_number": "4155550100", "outbound_number": "6285550199"}),
        json!({"chat_type": "SMS", "end_user_number": "4155550100", "outbound_number": "6285550199", "message": "hi", "agentId": 42}),
        json!({"chat_type": "SMS", "end_user_number": "4155550100", "outbound_number": "6285550199", "message": "hi", "agentId": 1, "agentEmail": "x@y.z"}),
    ] {
        assert_eq!(app.send_sms(&t, &body).await.0, 400, "{body}");
    }
    for table in ["chats", "end_users", "participants", "messages"] {
        assert_eq!(app.db.count(table), 0, "{table}");
    }
    // And nothing was left locked: the consumer can be texted at once.
    assert_eq!(app.send_sms(&t, &seed_body()).await.0, 200);
}

async fn stored_message_is_queued(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let (status, _) = app.send_sms(&t, &seed_body()).await;
    assert_eq!(status, 200);
    assert_eq!(app.db.count("messages WHERE delivery_status = 'queued' AND direction = 'outbound' AND body = 'lorem ipsum' AND segments = 1"), 1);
    assert_eq!(app.db.count("end_users WHERE number = '+14155550100'"), 1, "numbers are stored in E.164");
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    unique_index_refuses_a_second_active_chat,
    restart_keeps_the_session,
    faults_write_nothing,
    stored_message_is_queued,
);

/// PostgreSQL only: an outage answers 503 JSON, never a 500 or a hang. (SQLite is a file in
/// the process; it has no outage of this kind.)
#[actix_web::test]
async fn postgres_outage_answers_503() {
    let app = spawn_app(Backend::Postgres).await;
    let t = app.seed_tenant("acme").await;
    assert_eq!(app.tenant_call(&t, Method::GET, "/apps/api/v1/chats").await.0, 200);
    app.db.drop_now();
    let started = std::time::Instant::now();
    assert_eq!(app.send_sms(&t, &seed_body()).await, (503, msg("service unavailable")));
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "answered in {:?}", started.elapsed());
    let (status, ready) = read(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, 503);
    assert_eq!(ready, json!({"message": "not ready", "database": "unavailable", "session_lock": "ok"}));
}
