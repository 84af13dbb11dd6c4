//! The one-active-session rule under concurrency.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::common::{body_with, seed_body};
use crate::helpers::{spawn_app, Backend};

const ACTIVE: &str = "Outbound SMS failed. Consumer is already in an active SMS session.";

async fn thirty_parallel_requests_one_chat(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let body = seed_body();
    let answers = join_all((0..30).map(|_| app.send_sms(&t, &body))).await;
    let winners: Vec<_> = answers.iter().filter(|(status, _)| *status == 200).collect();
    assert_eq!(winners.len(), 1, "exactly one 200: {answers:?}");
    let chat_id = winners[0].1["id"].clone();
    for (status, answer) in answers.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(*status, 400, "{answer}");
        assert_eq!(answer, &json!({"message": ACTIVE, "chat_id": chat_id}));
    }
    assert_eq!(app.db.count("chats"), 1);
    assert_eq!(app.db.count("end_users"), 1);
    assert_eq!(app.db.count("messages"), 1);
    assert_eq!(app.db.count("participants"), 1);
}

async fn parallel_requests_for_many_consumers(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let bodies: Vec<_> =
        (0..20).map(|i| body_with(&[("end_user_number", json!(format!("+1 415-555-{:04}", 100 + i % 10)))])).collect();
    let answers = join_all(bodies.iter().map(|b| app.send_sms(&t, b))).await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 10, "one chat per consumer: {answers:?}");
    assert!(answers.iter().all(|(s, b)| *s == 200 || b["message"] == ACTIVE));
    let (_, list) = app.tenant_call(&t, Method::GET, "/apps/api/v1/chats").await;
    assert_eq!(list.as_array().map(Vec::len), Some(10));
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    thirty_parallel_requests_one_chat,
    parallel_requests_for_many_consumers,
);
