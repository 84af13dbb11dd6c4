//! `POST /apps/api/v1/chats/{id}/messages`: an agent replies inside the chat (SPEC section 10).

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{first_message_becomes, in_key_order, messages, msg, read, seed_body, twilio};
use crate::fake_provider::FakeProvider;
use crate::helpers::{spawn_app, spawn_app_with, Backend};

async fn an_agent_replies_inside_the_chat(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let agent = app.add_seed_agent(&t).await;
    let (status, chat) = app.send_sms(&t, &seed_body()).await;
    assert_eq!((status, chat["status"].as_str()), (200, Some("selecting")));

    let body = json!({"message": "Your order shipped.", "agentEmail": "JOHN.DOE@foo.com"});
    let resp = app.as_tenant(&t, Method::POST, &format!("/apps/api/v1/chats/{}/messages", chat["id"])).json(&body);
    let resp = resp.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let text = resp.text().await.unwrap_or_default();
    let reply: Value = serde_json::from_str(&text).unwrap_or_default();
    assert!(
        in_key_order(
            &text,
            &[
                "id",
                "chat_id",
                "direction",
                "body",
                "segments",
                "delivery_status",
                "provider_message_id",
                "error",
                "agent_id",
                "media",
                "created_at",
                "updated_at"
            ]
        ),
        "{text}"
    );
    assert_eq!(
        (&reply["chat_id"], reply["direction"].as_str(), reply["body"].as_str(), reply["delivery_status"].as_str()),
        (&chat["id"], Some("outbound"), Some("Your order shipped."), Some("queued"))
    );
    assert_eq!((&reply["agent_id"], &reply["media"], reply["segments"].as_i64()), (&agent["id"], &json!([]), Some(1)));
    assert_eq!(reply["created_at"].as_str().map(str::len), Some(24), "the timestamp format of section 2");

    // The chat had no agent: it is now the one who replied.
    let (_, assigned) = app.tenant_call(&t, Method::GET, &format!("/apps/api/v1/chats/{}", chat["id"])).await;
    assert_eq!(assigned["status"], "assigned");
    assert_eq!(assigned["agent_info"]["email"], "john.doe@foo.com");
    assert!(assigned["assigned_at"].is_string());
    let kinds: Vec<&str> =
        assigned["participants"].as_array().into_iter().flatten().filter_map(|p| p["type"].as_str()).collect();
    assert_eq!(kinds, ["end_user", "agent"]);

    // Sent from the chat's number to its consumer; the first message is the chat's own.
    let all = messages(&app, &t, &chat["id"]).await;
    assert_eq!(all.len(), 2);
    assert_eq!((&all[0]["agent_id"], &all[0]["chat_id"]), (&Value::Null, &chat["id"]));
    assert_eq!(all[1], reply);
    let row = app.db.text(&format!(
        "SELECT from_number || ' ' || to_number FROM messages WHERE id = {}",
        reply["id"].as_i64().unwrap_or_default()
    ));
    assert_eq!(row, "+16285550199 +14155550100");

    // Another agent's reply keeps the chat's agent; no agent at all is fine too.
    let jane = app.add_agent(&t, json!({"email": "jane@foo.com", "first_name": "Jane", "last_name": "Roe"})).await;
    let (status, second) = app.reply(&t, &chat["id"], &json!({"message": "Jane here", "agent_id": jane["id"]})).await;
    assert_eq!((status, &second["agent_id"]), (201, &jane["id"]));
    let (status, third) = app.reply(&t, &chat["id"], &json!({"message": "Automated note"})).await;
    assert_eq!((status, &third["agent_id"]), (201, &Value::Null));
    let (_, still) = app.tenant_call(&t, Method::GET, &format!("/apps/api/v1/chats/{}", chat["id"])).await;
    assert_eq!(still["agent_info"]["email"], "john.doe@foo.com");
    assert_eq!(still["participants"].as_array().map(Vec::len), Some(2));

    // The reply moved the chat's activity: its timeout starts again from the reply.
    let expires = app.db.text(&format!(
        "SELECT CAST(expires_at AS TEXT) FROM chats WHERE id = {}",
        chat["id"].as_i64().unwrap_or_default()
    ));
    let last = app.db.text(&format!(
        "SELECT CAST(created_at AS TEXT) FROM messages WHERE id = {}",
        third["id"].as_i64().unwrap_or_default()
    ));
    assert!(expires > last, "the timeout ({expires}) runs from the last reply ({last})");
}

async fn reply_faults_in_order_write_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let other = app.seed_tenant_other().await;
    app.add_seed_agent(&t).await;
    let gone = app.add_agent(&t, json!({"email": "gone@foo.com", "first_name": "G", "last_name": "One"})).await;
    let path = format!("/admin/v1/tenants/acme/agents/{}", gone["id"]);
    assert_eq!(app.admin_json(Method::PATCH, &path, json!({"status": "deactivated"})).await.0, 200);
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let id = &chat["id"];
    let before = app.db.count("messages");

    // 401, then the body's faults, then 404: another tenant's chat is a missing one.
    let unauthenticated = app.client.post(app.url(&format!("/apps/api/v1/chats/{id}/messages"))).json(&json!({}));
    assert_eq!(read(unauthenticated.send().await.unwrap()).await.0, 401);
    let (status, body) = app.reply(&t, id, &json!({"message": 5})).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap_or_default().starts_with("invalid value for message"), "{body}");
    let (status, body) = app.reply(&t, id, &json!({"message": "hi", "media_urls": "https://x.y/z"})).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap_or_default().starts_with("invalid value for media_urls"), "{body}");
    assert_eq!(app.reply(&t, &json!(999999), &json!({"message": "hi"})).await, (404, msg("chat not found")));
    assert_eq!(app.reply(&other, id, &json!({"message": "hi"})).await, (404, msg("chat not found")));
    let typed = app.as_tenant(&t, Method::POST, &format!("/apps/api/v1/chats/{id}/messages")).body("{}");
    assert_eq!(read(typed.send().await.unwrap()).await.0, 415);

    // The checks of section 10, first fault wins.
    let long = "x".repeat(1601);
    let cases = [
        (json!({}), "message is required"),
        (json!({"message": "   ", "media_urls": []}), "message is required"),
        (json!({"message": long, "media_urls": ["nope"]}), "message is too long"),
        (json!({"message": "hi", "media_urls": ["ftp://media.example/a.png"]}), "media_urls is invalid"),
        (json!({"message": "hi", "media_urls": ["https://user:pw@media.example/a.png"]}), "media_urls is invalid"),
        (
            json!({"media_urls": (0..11).map(|i| format!("https://m.example/{i}.png")).collect::<Vec<_>>()}),
            "media_urls is invalid",
        ),
        (json!({"message": "hi", "media_urls": ["bad"], "agentId": 999}), "media_urls is invalid"),
        (json!({"message": "hi", "agentId": 999}), "agent is not found"),
        (json!({"message": "hi", "agentEmail": "nobody@foo.com"}), "agent is not found"),
        (
            json!({"message": "hi", "agentId": gone["id"], "agentEmail": "john.doe@foo.com"}),
            "agentId and agentEmail refer to different agents",
        ),
        (json!({"message": "hi", "agentEmail": "gone@foo.com"}), "agent is not active"),
    ];
    for (body, expected) in cases {
        assert_eq!(app.reply(&t, id, &body).await, (400, msg(expected)), "{body}");
    }

    // The tenant's SMS switched off comes right after the chat's lookup.
    app.patch_tenant(&t, json!({"sms_enabled": false})).await;
    assert_eq!(app.reply(&t, id, &json!({})).await, (400, msg("SMS is not enabled")));
    assert_eq!(app.reply(&t, &json!(999999), &json!({})).await, (404, msg("chat not found")));
    app.patch_tenant(&t, json!({"sms_enabled": true})).await;

    // An opted-out consumer (here recorded behind the chat's back) is refused.
    app.db.execute(
        "INSERT INTO opt_outs (tenant_id, number, created_at) \
         SELECT id, '+14155550100', '2026-01-01 00:00:00' FROM tenants WHERE subdomain = 'acme'",
    );
    assert_eq!(app.reply(&t, id, &json!({"message": "hi"})).await, (400, msg("end_user_number has opted out")));
    // ... but a fault earlier in the order still wins.
    assert_eq!(app.reply(&t, id, &json!({"message": "hi", "agentId": 999})).await, (400, msg("agent is not found")));
    app.db.execute("DELETE FROM opt_outs");

    // An ended chat takes no reply (after the agent's faults, before the opt-out).
    let end = app.tenant_call(&t, Method::POST, &format!("/apps/api/v1/chats/{id}/end")).await;
    assert_eq!(end.0, 200);
    assert_eq!(app.reply(&t, id, &json!({"message": "hi"})).await, (409, msg("chat is not active")));
    assert_eq!(app.reply(&t, id, &json!({"message": "hi", "agentId": 999})).await, (400, msg("agent is not found")));
    // A chat past its timeout that nobody has ended yet is not active either.
    let (_, open) = app.send_sms(&t, &seed_body()).await;
    app.db.execute(&format!("UPDATE chats SET expires_at = '2000-01-01 00:00:00' WHERE id = {}", open["id"]));
    assert_eq!(app.reply(&t, &open["id"], &json!({"message": "hi"})).await, (409, msg("chat is not active")));

    assert_eq!(app.db.count("messages"), before + 1, "only the second chat's own first message was written");
    assert_eq!(app.db.count("participants WHERE kind = 'agent'"), 0, "no faulty reply assigned the chat");
}

async fn replies_go_out_as_mms_through_twilio(backend: Backend) {
    let fake = FakeProvider::start(vec![]);
    let app = spawn_app_with(backend, twilio(&fake)).await;
    let t = app.seed_tenant("acme").await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    first_message_becomes(&app, &t, &chat["id"], &["sent"]).await;
    let media = ["https://media.example.com/a.png", "https://media.example.com/b.jpg?x=1"];
    let (status, reply) = app.reply(&t, &chat["id"], &json!({"message": "Here you go", "media_urls": media})).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(
        reply["media"],
        json!([{"url": media[0], "content_type": null}, {"url": media[1], "content_type": null}])
    );
    let (_, only_media) = app.reply(&t, &chat["id"], &json!({"media_urls": [media[0]]})).await;
    assert_eq!(only_media["body"], "");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while fake.requests().len() < 3 {
        assert!(std::time::Instant::now() < deadline, "three messages reach Twilio");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let forms: Vec<Vec<(String, String)>> = fake.requests().iter().map(|r| r.form()).collect();
    let mms =
        forms.iter().find(|f| f.iter().any(|(k, v)| k == "Body" && v == "Here you go")).cloned().unwrap_or_default();
    let field = |form: &[(String, String)], name: &str| -> Vec<String> {
        form.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    };
    assert_eq!(field(&mms, "MediaUrl"), media, "each medium a MediaUrl of its own, in order");
    assert_eq!((field(&mms, "From"), field(&mms, "To")), (vec!["+16285550199".into()], vec!["+14155550100".into()]));
    let bare = forms.iter().find(|f| field(f, "MediaUrl").len() == 1).cloned().unwrap_or_default();
    assert_eq!(field(&bare, "Body"), Vec::<String>::new(), "media alone is sent without a Body");
}

async fn replies_are_idempotent(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let path = format!("/apps/api/v1/chats/{}/messages", chat["id"]);
    let post = |key: &'static str, body: Value| {
        let req = app.as_tenant(&t, Method::POST, &path).header("Idempotency-Key", key).json(&body);
        async move {
            let resp = req.send().await.unwrap();
            let replayed = resp.headers().get("Idempotent-Replayed").is_some();
            let (status, body) = read(resp).await;
            (status, body, replayed)
        }
    };
    let (status, first, replayed) = post("reply-1", json!({"message": "once"})).await;
    assert_eq!((status, replayed), (201, false));
    let (status, again, replayed) = post("reply-1", json!({"message": "once"})).await;
    assert_eq!((status, replayed), (201, true));
    assert_eq!(again, first);
    assert_eq!(post("reply-1", json!({"message": "twice"})).await.0, 422);
    // A key of a send is not a key of this reply: the operation is part of the body's identity.
    let send = app.as_tenant(&t, Method::POST, "/apps/api/v1/sms").header("Idempotency-Key", "reply-2");
    let (status, _) = read(send.json(&seed_body()).send().await.unwrap()).await;
    assert_eq!(status, 400, "row 12: the consumer has the chat");
    assert_eq!(post("reply-2", json!({"message": "once"})).await.0, 422);
    // A refusal is kept like a success.
    let (status, refused, _) = post("reply-3", json!({})).await;
    assert_eq!((status, refused), (400, msg("message is required")));
    assert_eq!(post("reply-3", json!({})).await, (400, msg("message is required"), true));
    assert_eq!(app.db.count("messages"), 2, "the chat's first message and one reply");
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    an_agent_replies_inside_the_chat,
    reply_faults_in_order_write_nothing,
    replies_go_out_as_mms_through_twilio,
    replies_are_idempotent,
);
