//! Every row of the README's table of send errors and the precedence between rows, through
//! HTTP.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{body_with, msg, read, seed_body};
use crate::helpers::{spawn_app, Backend, Tenant, TestApp};

const ACTIVE: &str = "Outbound SMS failed. Consumer is already in an active SMS session.";

async fn expect(app: &TestApp, tenant: &Tenant, body: Value, message: &str) {
    assert_eq!(app.send_sms(tenant, &body).await, (400, msg(message)), "body: {body}");
}

async fn rows_1_to_11(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    // Row 1: absent or null.
    expect(&app, &t, body_with(&[("-chat_type", json!(null))]), "chat_type needs to be provided").await;
    expect(&app, &t, body_with(&[("chat_type", json!(null))]), "chat_type needs to be provided").await;
    // Row 2.
    for bad in ["In-app", "", "sms", "Messaging (sms)", "Messaging(SMS)"] {
        expect(&app, &t, body_with(&[("chat_type", json!(bad))]), "valid chat type needs to be provided").await;
    }
    // Row 5: absent, null, blank.
    for v in [json!(null), json!(""), json!("   ")] {
        expect(&app, &t, body_with(&[("end_user_number", v)]), "end_user_number is required").await;
    }
    expect(&app, &t, body_with(&[("-end_user_number", json!(null))]), "end_user_number is required").await;
    // Row 6.
    for bad in ["12345", "abc", "+1 000-000-0000", "+1 415-555-0100 ext. 12", "555-0100"] {
        expect(&app, &t, body_with(&[("end_user_number", json!(bad))]), "end_user_number is invalid").await;
    }
    // Row 7, for each number.
    for bad in ["+82 000-000-0000", "+1 416-555-0100", "+44 20 7946 0958", "+1 876-555-0100"] {
        expect(&app, &t, body_with(&[("end_user_number", json!(bad))]), "Non-US phone number not allowed").await;
        expect(&app, &t, body_with(&[("outbound_number", json!(bad))]), "Non-US phone number not allowed").await;
    }
    // Row 8.
    for v in [json!(null), json!(""), json!(" ")] {
        expect(&app, &t, body_with(&[("outbound_number", v)]), "outbound_number is required").await;
    }
    expect(&app, &t, body_with(&[("-outbound_number", json!(null))]), "outbound_number is required").await;
    // Row 9.
    for bad in ["12345", "abc"] {
        expect(&app, &t, body_with(&[("outbound_number", json!(bad))]), "outbound_number is invalid").await;
    }
    // Row 10: a valid US number the tenant does not own.
    expect(&app, &t, body_with(&[("outbound_number", json!("+1 628-555-0100"))]), "outbound_number is not found").await;
    // Row 11: absent, null, empty, white space only.
    for v in [json!(null), json!(""), json!("  \n\t"), json!("\u{3000}")] {
        expect(&app, &t, body_with(&[("message", v)]), "message is required").await;
    }
    expect(&app, &t, body_with(&[("-message", json!(null))]), "message is required").await;
    assert_eq!(app.db.count("chats"), 0);
    assert_eq!(app.db.count("end_users"), 0);
    assert_eq!(app.db.count("messages"), 0);
}

async fn rows_3_and_4_tenant_switches(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    app.patch_tenant(&t, json!({"sms_enabled": false, "outbound_sms_enabled": false})).await;
    expect(&app, &t, seed_body(), "SMS is not enabled").await;
    app.patch_tenant(&t, json!({"sms_enabled": true})).await;
    expect(&app, &t, seed_body(), "Outbound SMS is not enabled").await;
    app.patch_tenant(&t, json!({"outbound_sms_enabled": true})).await;
    assert_eq!(app.send_sms(&t, &seed_body()).await.0, 200);
}

async fn row_12_and_after_the_end(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let (status, first) = app.send_sms(&t, &seed_body()).await;
    assert_eq!(status, 200);
    // Another format of the same number, another chat type: still the same consumer.
    let again = body_with(&[("end_user_number", json!("(415) 555-0100")), ("chat_type", json!("Messaging (API)"))]);
    let (status, body) = app.send_sms(&t, &again).await;
    assert_eq!(status, 400);
    assert_eq!(body, json!({"message": ACTIVE, "chat_id": first["id"]}));
    // Another consumer is free.
    let (status, other) = app.send_sms(&t, &body_with(&[("end_user_number", json!("4155550101"))])).await;
    assert_eq!(status, 200);
    assert_ne!(other["end_user"]["id"], first["end_user"]["id"]);
    // Ending the chat frees the consumer; the same end user comes back.
    let end = format!("/apps/api/v1/chats/{}/end", first["id"]);
    assert_eq!(app.tenant_call(&t, Method::POST, &end).await.0, 200);
    let (status, next) = app.send_sms(&t, &again).await;
    assert_eq!(status, 200, "{next}");
    assert_eq!(next["end_user"]["id"], first["end_user"]["id"]);
    assert_eq!(next["chat_type"], "Messaging (API)");
    assert_ne!(next["id"], first["id"]);
}

async fn chat_types_and_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let (status, chat) = app.send_sms(&t, &body_with(&[("chat_type", json!("SMS")), ("ticket_id", json!(""))])).await;
    assert_eq!(status, 200);
    assert_eq!(chat["chat_type"], "Messaging (SMS)", "the deprecated alias is stored as Messaging (SMS)");
    assert_eq!(chat["out_ticket_id"], Value::Null, "an empty ticket_id is absent");
    let (status, chat) = app
        .send_sms(
            &t,
            &body_with(&[
                ("chat_type", json!("Messaging (API)")),
                ("end_user_number", json!("4155550102")),
                ("unknown", json!({"x": [1]})),
            ]),
        )
        .await;
    assert_eq!(status, 200, "unknown keys are ignored: {chat}");
    assert_eq!(chat["chat_type"], "Messaging (API)");
    assert_eq!(chat["outbound_number"], "+16285550199");
    // The chat's lang is the tenant's.
    let fr = app.tenant_with("fr", json!({"lang": "fr"})).await;
    app.add_number(&fr, "+1 628-555-0198").await;
    let (status, chat) = app.send_sms(&fr, &body_with(&[("outbound_number", json!("628.555.0198"))])).await;
    assert_eq!(status, 200);
    assert_eq!(chat["lang"], "fr");
    assert_eq!(chat["outbound_number"], "+16285550198");
}

async fn length_limits(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    expect(&app, &t, body_with(&[("message", json!("a".repeat(1601)))]), "message is too long").await;
    expect(&app, &t, body_with(&[("ticket_id", json!("t".repeat(256)))]), "ticket_id is too long").await;
    expect(
        &app,
        &t,
        body_with(&[("message", json!("a".repeat(1601))), ("ticket_id", json!("t".repeat(256)))]),
        "message is too long",
    )
    .await;
    // 1600 code points of a four-byte character is within the limit.
    let (status, chat) = app
        .send_sms(&t, &body_with(&[("message", json!("😀".repeat(1600))), ("ticket_id", json!("t".repeat(255)))]))
        .await;
    assert_eq!(status, 200, "{chat}");
    assert_eq!(chat["out_ticket_id"], json!("t".repeat(255)));
}

async fn precedence(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    app.patch_tenant(&t, json!({"sms_enabled": false, "outbound_sms_enabled": false})).await;
    // Row 1 and row 2 come before the tenant's switches.
    expect(&app, &t, json!({"message": ""}), "chat_type needs to be provided").await;
    expect(&app, &t, body_with(&[("chat_type", json!("In-app"))]), "valid chat type needs to be provided").await;
    // Row 3 before any number fault.
    expect(
        &app,
        &t,
        body_with(&[("end_user_number", json!("x")), ("outbound_number", json!(null))]),
        "SMS is not enabled",
    )
    .await;
    app.patch_tenant(&t, json!({"sms_enabled": true})).await;
    expect(&app, &t, body_with(&[("end_user_number", json!("x"))]), "Outbound SMS is not enabled").await;
    app.patch_tenant(&t, json!({"outbound_sms_enabled": true})).await;
    // Row 5 before rows 8–11.
    expect(
        &app,
        &t,
        body_with(&[("-end_user_number", json!(null)), ("outbound_number", json!("1")), ("message", json!(""))]),
        "end_user_number is required",
    )
    .await;
    // Row 6 before the outbound number's row 7.
    expect(
        &app,
        &t,
        body_with(&[("end_user_number", json!("12345")), ("outbound_number", json!("+82 000-000-0000"))]),
        "end_user_number is invalid",
    )
    .await;
    // The end user's row 7 before row 8.
    expect(
        &app,
        &t,
        body_with(&[("end_user_number", json!("+82 10-1234-5678")), ("-outbound_number", json!(null))]),
        "Non-US phone number not allowed",
    )
    .await;
    // Rows 8, 9, 10 before row 11.
    expect(
        &app,
        &t,
        body_with(&[("-outbound_number", json!(null)), ("message", json!(""))]),
        "outbound_number is required",
    )
    .await;
    expect(
        &app,
        &t,
        body_with(&[("outbound_number", json!("abc")), ("message", json!(""))]),
        "outbound_number is invalid",
    )
    .await;
    expect(
        &app,
        &t,
        body_with(&[("outbound_number", json!("+1 628-555-0100")), ("message", json!(""))]),
        "outbound_number is not found",
    )
    .await;
    // Row 11 before the lengths and the agent.
    expect(
        &app,
        &t,
        body_with(&[("message", json!("")), ("ticket_id", json!("t".repeat(300))), ("agentId", json!(999))]),
        "message is required",
    )
    .await;
    // Lengths before the agent.
    expect(
        &app,
        &t,
        body_with(&[("ticket_id", json!("t".repeat(300))), ("agentId", json!(999))]),
        "ticket_id is too long",
    )
    .await;
    // The agent before row 12.
    let (status, _) = app.send_sms(&t, &seed_body()).await;
    assert_eq!(status, 200);
    expect(&app, &t, body_with(&[("agentId", json!(999))]), "agent is not found").await;
    let (status, body) = app.send_sms(&t, &seed_body()).await;
    assert_eq!((status, body["message"].as_str()), (400, Some(ACTIVE)));
}

async fn body_faults(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let send_raw = |body: &'static str, content_type: Option<&'static str>| {
        let mut req = app.as_tenant(&t, Method::POST, "/apps/api/v1/sms").body(body);
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        async move { read(req.send().await.unwrap()).await }
    };
    let (status, body) = send_raw("{not json", Some("application/json")).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().is_some_and(|m| m.starts_with("request body is not valid JSON: ")), "{body}");
    assert_eq!(send_raw("[1, 2]", Some("application/json")).await, (400, msg("request body must be a JSON object")));
    assert_eq!(
        send_raw(r#"{"chat_type": 5}"#, Some("application/json")).await,
        (400, msg("invalid value for chat_type: invalid type: integer `5`, expected a string"))
    );
    let (status, body) = send_raw(r#"{"chat_type": "SMS", "agentId": "1"}"#, Some("application/json")).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().is_some_and(|m| m.starts_with("invalid value for agentId: ")), "{body}");
    let (status, body) = send_raw(r#"{"end_user_number": 4155550100}"#, Some("application/json")).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().is_some_and(|m| m.starts_with("invalid value for end_user_number: ")), "{body}");
    // The type of a field is checked before row 1.
    let (status, body) = send_raw(r#"{"message": 1}"#, Some("application/json")).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().is_some_and(|m| m.starts_with("invalid value for message: ")), "{body}");

    // 415: another type, no type; parameters are fine.
    let seed = r#"{"chat_type":"Messaging (SMS)","end_user_number":"+1 415-555-0100","outbound_number":"+1 628-555-0199","message":"lorem ipsum"}"#;
    assert_eq!(send_raw(seed, Some("text/plain")).await, (415, msg("Content-Type must be application/json")));
    assert_eq!(send_raw(seed, None).await, (415, msg("Content-Type must be application/json")));
    assert_eq!(send_raw(seed, Some("application/x-www-form-urlencoded")).await.0, 415);
    assert_eq!(send_raw(seed, Some("application/json; charset=utf-8")).await.0, 200);

    // 413 over 65,536 bytes, before the content type; exactly 65,536 is read.
    let padded = |total: usize| {
        let head = r#"{"chat_type":"SMS","end_user_number":"+1 415-555-0101","outbound_number":"+1 628-555-0199","message":"hi","pad":""#;
        let tail = r#""}"#;
        format!("{head}{}{tail}", "x".repeat(total - head.len() - tail.len()))
    };
    let big = padded(65_537);
    let resp =
        app.as_tenant(&t, Method::POST, "/apps/api/v1/sms").header("Content-Type", "text/plain").body(big).send().await;
    let (status, body) = read(resp.unwrap()).await;
    assert_eq!((status, body), (413, msg("request body is larger than 65536 bytes")));
    let exact = padded(65_536);
    let resp = app
        .as_tenant(&t, Method::POST, "/apps/api/v1/sms")
        .header("Content-Type", "application/json")
        .body(exact)
        .send()
        .await;
    let (status, body) = read(resp.unwrap()).await;
    assert_eq!(status, 200, "{body}");

    // Credentials come before everything.
    let resp = app
        .client
        .post(app.url("/apps/api/v1/sms"))
        .header("Content-Type", "text/plain")
        .body(padded(70_000))
        .send()
        .await;
    let (status, body) = read(resp.unwrap()).await;
    assert_eq!((status, body), (401, msg("authentication required")));
}

async fn agent_faults(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let john = app.add_seed_agent(&t).await;
    let jane = app.add_agent(&t, json!({"email": "Jane@Foo.com", "first_name": "Jane", "last_name": "Roe"})).await;
    let other = app.seed_tenant_other().await;
    let stranger = app.add_agent(&other, json!({"email": "x@bar.com", "first_name": "X", "last_name": "Y"})).await;

    expect(&app, &t, body_with(&[("agentId", json!(9999))]), "agent is not found").await;
    expect(&app, &t, body_with(&[("agentId", stranger["id"].clone())]), "agent is not found").await;
    expect(&app, &t, body_with(&[("agentEmail", json!("x@bar.com"))]), "agent is not found").await;
    expect(&app, &t, body_with(&[("agentEmail", json!("nobody@foo.com"))]), "agent is not found").await;
    expect(&app, &t, body_with(&[("agent_id", json!(9999))]), "agent is not found").await;
    expect(
        &app,
        &t,
        body_with(&[("agentId", john["id"].clone()), ("agentEmail", json!("jane@foo.com"))]),
        "agentId and agentEmail refer to different agents",
    )
    .await;

    let deactivate = format!("/admin/v1/tenants/acme/agents/{}", jane["id"]);
    assert_eq!(app.admin_json(Method::PATCH, &deactivate, json!({"status": "deactivated"})).await.0, 200);
    expect(&app, &t, body_with(&[("agentEmail", json!("JANE@foo.com"))]), "agent is not active").await;
    expect(
        &app,
        &t,
        body_with(&[("agentId", jane["id"].clone()), ("agentEmail", json!("jane@foo.com"))]),
        "agent is not active",
    )
    .await;
    assert_eq!(app.db.count("chats"), 0);

    // camelCase wins over snake_case: the snake_case agent is not even looked up.
    let (status, chat) =
        app.send_sms(&t, &body_with(&[("agentId", john["id"].clone()), ("agent_id", json!(9999))])).await;
    assert_eq!(status, 200, "{chat}");
    assert_eq!(chat["agent_info"]["id"], john["id"]);
    assert_eq!(chat["status"], "assigned");
    // snake_case alone works, and by e-mail case-insensitively.
    let body = body_with(&[("end_user_number", json!("4155550101")), ("agent_email", json!("JOHN.DOE@FOO.COM"))]);
    let (status, chat) = app.send_sms(&t, &body).await;
    assert_eq!(status, 200, "{chat}");
    assert_eq!(chat["participants"][1]["user_id"], john["id"]);
    assert_eq!(chat["participants"][1]["type"], "agent");
    assert_eq!(chat["assigned_at"], chat["created_at"]);
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    rows_1_to_11,
    rows_3_and_4_tenant_switches,
    row_12_and_after_the_end,
    chat_types_and_fields,
    length_limits,
    precedence,
    body_faults,
    agent_faults,
);
