//! The admin API.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{is_timestamp, msg, read};
use crate::helpers::{spawn_app, Backend};

async fn tenants(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, created) =
        app.admin_json(Method::POST, "/admin/v1/tenants", json!({"subdomain": "acme", "name": "Acme"})).await;
    assert_eq!(status, 201);
    let created_at = created["created_at"].clone();
    assert!(created_at.as_str().is_some_and(is_timestamp));
    assert_eq!(
        created,
        json!({
            "subdomain": "acme", "name": "Acme", "lang": "en", "sms_enabled": true, "outbound_sms_enabled": true,
            "session_timeout_minutes": 1440, "rate_limit_per_second": 10, "rate_limit_burst": 20, "active": true,
            "help_text": null, "opt_out_text": null, "opt_in_text": null, "quiet_hours_start": null,
            "quiet_hours_end": null, "created_at": created_at
        })
    );
    let full = json!({
        "subdomain": "beta-2", "name": "Beta", "lang": "es", "sms_enabled": false, "outbound_sms_enabled": false,
        "session_timeout_minutes": 10080, "rate_limit_per_second": 0, "rate_limit_burst": 5
    });
    let (status, beta) = app.admin_json(Method::POST, "/admin/v1/tenants", full.clone()).await;
    assert_eq!(status, 201);
    let mut expected = full;
    expected["created_at"] = beta["created_at"].clone();
    expected["active"] = json!(true);
    for key in ["help_text", "opt_out_text", "opt_in_text", "quiet_hours_start", "quiet_hours_end"] {
        expected[key] = Value::Null;
    }
    assert_eq!(beta, expected);

    assert_eq!(
        app.admin_json(Method::POST, "/admin/v1/tenants", json!({"subdomain": "acme", "name": "Again"})).await,
        (409, msg("tenant already exists"))
    );
    for (body, message) in [
        (json!({"name": "x"}), "subdomain is required"),
        (json!({"subdomain": "Acme", "name": "x"}), "subdomain must be 1 to 63 characters of a-z, 0-9 and -"),
        (json!({"subdomain": "", "name": "x"}), "subdomain must be 1 to 63 characters of a-z, 0-9 and -"),
        (json!({"subdomain": "a".repeat(64), "name": "x"}), "subdomain must be 1 to 63 characters of a-z, 0-9 and -"),
        (json!({"subdomain": "ok"}), "name is required"),
        (json!({"subdomain": "ok", "name": "  "}), "name is required"),
        (
            json!({"subdomain": "ok", "name": "x", "session_timeout_minutes": 0}),
            "session_timeout_minutes must be between 1 and 10080",
        ),
        (
            json!({"subdomain": "ok", "name": "x", "session_timeout_minutes": 10081}),
            "session_timeout_minutes must be between 1 and 10080",
        ),
        (
            json!({"subdomain": "ok", "name": "x", "rate_limit_per_second": -1}),
            "rate_limit_per_second must be between 0 and 1000000",
        ),
        (
            json!({"subdomain": "ok", "name": "x", "rate_limit_burst": 0}),
            "rate_limit_burst must be between 1 and 1000000",
        ),
    ] {
        assert_eq!(
            app.admin_json(Method::POST, "/admin/v1/tenants", body.clone()).await,
            (400, msg(message)),
            "{body}"
        );
    }
    let (status, body) = app
        .admin_json(Method::POST, "/admin/v1/tenants", json!({"subdomain": "ok", "name": "x", "sms_enabled": "yes"}))
        .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().is_some_and(|m| m.starts_with("invalid value for sms_enabled")), "{body}");

    let (status, list) = app.admin_call(Method::GET, "/admin/v1/tenants").await;
    assert_eq!(status, 200);
    assert_eq!(list, json!([created, beta]));
    assert_eq!(app.admin_call(Method::GET, "/admin/v1/tenants/acme").await, (200, created.clone()));
    assert_eq!(app.admin_call(Method::GET, "/admin/v1/tenants/nobody").await, (404, msg("tenant not found")));

    let (status, patched) = app
        .admin_json(
            Method::PATCH,
            "/admin/v1/tenants/acme",
            json!({"name": "Acme 2", "outbound_sms_enabled": false, "session_timeout_minutes": 5, "subdomain": "acme"}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!((patched["name"].as_str(), patched["outbound_sms_enabled"].as_bool()), (Some("Acme 2"), Some(false)));
    assert_eq!((patched["session_timeout_minutes"].as_i64(), patched["lang"].as_str()), (Some(5), Some("en")));
    assert_eq!(patched["created_at"], created["created_at"]);
    assert_eq!(
        app.admin_json(Method::PATCH, "/admin/v1/tenants/acme", json!({"subdomain": "renamed"})).await,
        (400, msg("subdomain cannot be changed"))
    );
    assert_eq!(
        app.admin_json(Method::PATCH, "/admin/v1/tenants/acme", json!({"session_timeout_minutes": 0})).await,
        (400, msg("session_timeout_minutes must be between 1 and 10080"))
    );
    assert_eq!(
        app.admin_json(Method::PATCH, "/admin/v1/tenants/nobody", json!({"name": "x"})).await,
        (404, msg("tenant not found"))
    );
    assert_eq!(app.admin_json(Method::PATCH, "/admin/v1/tenants/acme", json!({})).await.0, 200);
}

async fn api_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    app.tenant("acme").await;
    let (status, token) = app.admin_call(Method::POST, "/admin/v1/tenants/acme/api-tokens").await;
    assert_eq!(status, 201);
    let keys: Vec<&str> = token.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
    assert_eq!(keys, vec!["created_at", "id", "token"], "exactly these keys (sorted)");
    assert!(token["token"].as_str().is_some_and(|t| t.len() >= 43), "at least 32 random bytes");
    let (status, list) = app.admin_call(Method::GET, "/admin/v1/tenants/acme/api-tokens").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    assert!(!list.to_string().contains(token["token"].as_str().unwrap_or("-")), "tokens are never listed");
    assert_eq!(list[1], json!({"id": token["id"], "created_at": token["created_at"], "revoked_at": null}));
    let path = format!("/admin/v1/tenants/acme/api-tokens/{}", token["id"]);
    assert_eq!(app.admin_call(Method::DELETE, &path).await, (204, Value::Null));
    let (_, list) = app.admin_call(Method::GET, "/admin/v1/tenants/acme/api-tokens").await;
    assert!(list[1]["revoked_at"].as_str().is_some_and(is_timestamp));
    assert_eq!(
        app.admin_call(Method::DELETE, "/admin/v1/tenants/acme/api-tokens/999").await,
        (404, msg("api token not found"))
    );
    assert_eq!(
        app.admin_call(Method::POST, "/admin/v1/tenants/nobody/api-tokens").await,
        (404, msg("tenant not found"))
    );
    assert_eq!(
        app.admin_call(Method::GET, "/admin/v1/tenants/nobody/api-tokens").await,
        (404, msg("tenant not found"))
    );
}

async fn outbound_numbers(backend: Backend) {
    let app = spawn_app(backend).await;
    app.tenant("acme").await;
    app.tenant("other").await;
    let path = "/admin/v1/tenants/acme/outbound-numbers";
    let (status, number) = app.admin_json(Method::POST, path, json!({"number": "(628) 555-0199"})).await;
    assert_eq!(status, 201);
    assert_eq!(number, json!({"id": number["id"], "number": "+16285550199"}));
    for (body, message) in [
        (json!({}), "number is required"),
        (json!({"number": " "}), "number is required"),
        (json!({"number": "12345"}), "number is invalid"),
        (json!({"number": "+82 000-000-0000"}), "Non-US phone number not allowed"),
        (json!({"number": "+1 416-555-0100"}), "Non-US phone number not allowed"),
    ] {
        assert_eq!(app.admin_json(Method::POST, path, body.clone()).await, (400, msg(message)), "{body}");
    }
    let taken = (409, msg("outbound number is already registered"));
    assert_eq!(app.admin_json(Method::POST, path, json!({"number": "+16285550199"})).await, taken);
    assert_eq!(
        app.admin_json(Method::POST, "/admin/v1/tenants/other/outbound-numbers", json!({"number": "628-555-0199"}))
            .await,
        taken
    );
    assert_eq!(app.admin_call(Method::GET, path).await, (200, json!([number])));
    assert_eq!(app.admin_call(Method::GET, "/admin/v1/tenants/other/outbound-numbers").await, (200, json!([])));
    // Another tenant's number is not found through this tenant.
    let other_path = format!("/admin/v1/tenants/other/outbound-numbers/{}", number["id"]);
    assert_eq!(app.admin_call(Method::DELETE, &other_path).await, (404, msg("outbound number not found")));
    assert_eq!(app.admin_call(Method::DELETE, &format!("{path}/{}", number["id"])).await, (204, Value::Null));
    assert_eq!(
        app.admin_call(Method::DELETE, &format!("{path}/{}", number["id"])).await,
        (404, msg("outbound number not found"))
    );
    // Once removed, it can be registered again, by any tenant.
    assert_eq!(
        app.admin_json(Method::POST, "/admin/v1/tenants/other/outbound-numbers", json!({"number": "628-555-0199"}))
            .await
            .0,
        201
    );
}

async fn agents(backend: Backend) {
    let app = spawn_app(backend).await;
    app.tenant("acme").await;
    app.tenant("other").await;
    let path = "/admin/v1/tenants/acme/agents";
    let (status, john) = app
        .admin_json(Method::POST, path, json!({"email": "John.Doe@foo.com", "first_name": "John", "last_name": "Doe"}))
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        john,
        json!({"id": john["id"], "agent_number": null, "email": "John.Doe@foo.com", "name": "John Doe",
               "first_name": "John", "last_name": "Doe", "avatar_url": null, "status": "active",
               "console_role": "agent", "has_password": false})
    );
    let conflict = (409, msg("an agent with this email already exists"));
    assert_eq!(
        app.admin_json(Method::POST, path, json!({"email": "JOHN.DOE@FOO.COM", "first_name": "J", "last_name": "D"}))
            .await,
        conflict
    );
    let (status, _) = app
        .admin_json(
            Method::POST,
            "/admin/v1/tenants/other/agents",
            json!({"email": "john.doe@foo.com", "first_name": "J", "last_name": "D"}),
        )
        .await;
    assert_eq!(status, 201, "e-mails are unique per tenant only");
    for (body, message) in [
        (json!({"first_name": "a", "last_name": "b"}), "email is required"),
        (json!({"email": "nope", "first_name": "a", "last_name": "b"}), "email is invalid"),
        (json!({"email": " a@b.c", "first_name": "a", "last_name": "b"}), "email is invalid"),
        (json!({"email": "a@b.c", "first_name": " ", "last_name": "b"}), "first_name is required"),
        (json!({"email": "a@b.c", "first_name": "a", "last_name": "b", "name": "x".repeat(256)}), "name is too long"),
        (json!({"email": "a@b.c", "last_name": "b"}), "first_name is required"),
        (json!({"email": "a@b.c", "first_name": "a"}), "last_name is required"),
        (
            json!({"email": "a@b.c", "first_name": "a", "last_name": "b", "agent_number": -1}),
            "agent_number must be a non-negative integer",
        ),
    ] {
        assert_eq!(app.admin_json(Method::POST, path, body.clone()).await, (400, msg(message)), "{body}");
    }
    let (status, jane) = app
        .admin_json(Method::POST, path, json!({"email": "jane@foo.com", "first_name": "Jane", "last_name": "Roe", "name": "J. Roe", "agent_number": 7, "avatar_url": "https://x/y.png"}))
        .await;
    assert_eq!(status, 201);
    assert_eq!((jane["name"].as_str(), jane["agent_number"].as_i64()), (Some("J. Roe"), Some(7)));
    assert_eq!(app.admin_call(Method::GET, path).await, (200, json!([john, jane])));
    let one = format!("{path}/{}", jane["id"]);
    assert_eq!(app.admin_call(Method::GET, &one).await, (200, jane.clone()));
    assert_eq!(
        app.admin_call(Method::GET, &format!("/admin/v1/tenants/other/agents/{}", jane["id"])).await,
        (404, msg("agent not found"))
    );
    assert_eq!(app.admin_call(Method::GET, &format!("{path}/9999")).await, (404, msg("agent not found")));

    let (status, patched) =
        app.admin_json(Method::PATCH, &one, json!({"status": "deactivated", "avatar_url": null})).await;
    assert_eq!(status, 200);
    assert_eq!(
        (patched["status"].as_str(), patched["avatar_url"].is_null(), patched["agent_number"].as_i64()),
        (Some("deactivated"), true, Some(7))
    );
    assert_eq!(
        app.admin_json(Method::PATCH, &one, json!({"status": "gone"})).await,
        (400, msg("status must be \"active\" or \"deactivated\""))
    );
    assert_eq!(app.admin_json(Method::PATCH, &one, json!({"email": "JOHN.doe@foo.com"})).await, conflict);
    let (status, back) = app.admin_json(Method::PATCH, &one, json!({"status": "active"})).await;
    assert_eq!((status, back["status"].as_str()), (200, Some("active")));
    assert_eq!(
        app.admin_json(Method::PATCH, &format!("{path}/9999"), json!({"status": "active"})).await,
        (404, msg("agent not found"))
    );
}

async fn admin_bodies(backend: Backend) {
    let app = spawn_app(backend).await;
    let resp =
        app.admin(Method::POST, "/admin/v1/tenants").header("Content-Type", "text/plain").body("{}").send().await;
    assert_eq!(read(resp.unwrap()).await, (415, msg("Content-Type must be application/json")));
    let resp =
        app.admin(Method::POST, "/admin/v1/tenants").header("Content-Type", "application/json").body("{").send().await;
    let (status, body) = read(resp.unwrap()).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().is_some_and(|m| m.starts_with("request body is not valid JSON")));
    let resp = app
        .admin(Method::POST, "/admin/v1/tenants")
        .header("Content-Type", "application/json")
        .body(format!("{{\"name\": \"{}\"}}", "x".repeat(70_000)))
        .send()
        .await;
    assert_eq!(read(resp.unwrap()).await, (413, msg("request body is larger than 65536 bytes")));
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    tenants,
    api_tokens,
    outbound_numbers,
    agents,
    admin_bodies,
);
