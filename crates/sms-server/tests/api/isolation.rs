//! Nothing of one tenant is visible to, or usable by, another.

use reqwest::Method;
use serde_json::json;

use crate::common::{body_with, msg, seed_body};
use crate::helpers::{spawn_app, Backend};

async fn tenants_are_isolated(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.seed_tenant("acme").await;
    let b = app.seed_tenant_other().await;
    let agent_a = app.add_seed_agent(&a).await;
    let (status, chat_a) = app.send_sms(&a, &seed_body()).await;
    assert_eq!(status, 200);

    // B cannot read, end or list A's chat: 404 exactly like a missing one.
    let path = format!("/apps/api/v1/chats/{}", chat_a["id"]);
    assert_eq!(app.tenant_call(&b, Method::GET, &path).await, (404, msg("chat not found")));
    assert_eq!(app.tenant_call(&b, Method::POST, &format!("{path}/end")).await, (404, msg("chat not found")));
    assert_eq!(app.tenant_call(&b, Method::GET, "/apps/api/v1/chats").await, (200, json!([])));
    let (_, still) = app.tenant_call(&a, Method::GET, &path).await;
    assert_eq!(still["status"], "selecting");

    // B cannot send from A's number, nor assign A's agent.
    assert_eq!(app.send_sms(&b, &seed_body()).await, (400, msg("outbound_number is not found")));
    let from_b = body_with(&[("outbound_number", json!("+1 628-555-0150"))]);
    assert_eq!(
        app.send_sms(
            &b,
            &body_with(&[("outbound_number", json!("+1 628-555-0150")), ("agentId", agent_a["id"].clone())])
        )
        .await,
        (400, msg("agent is not found"))
    );
    assert_eq!(
        app.send_sms(
            &b,
            &body_with(&[("outbound_number", json!("+1 628-555-0150")), ("agentEmail", json!("john.doe@foo.com"))])
        )
        .await,
        (400, msg("agent is not found"))
    );

    // The one-session rule is per tenant: the same consumer may be texted by B, as another end user.
    let (status, chat_b) = app.send_sms(&b, &from_b).await;
    assert_eq!(status, 200, "{chat_b}");
    assert_ne!(chat_b["end_user"]["id"], chat_a["end_user"]["id"]);

    // A's token does not open B's API, even with B's subdomain.
    let crossed = crate::helpers::Tenant { subdomain: b.subdomain.clone(), token: a.token.clone() };
    assert_eq!(app.tenant_call(&crossed, Method::GET, "/apps/api/v1/chats").await, (401, msg("invalid credentials")));

    // Admin paths are scoped by subdomain too.
    let (_, agents_b) = app.admin_call(Method::GET, "/admin/v1/tenants/other/agents").await;
    assert_eq!(agents_b, json!([]));
    let agent_via_b = format!("/admin/v1/tenants/other/agents/{}", agent_a["id"]);
    assert_eq!(
        app.admin_json(Method::PATCH, &agent_via_b, json!({"status": "deactivated"})).await,
        (404, msg("agent not found"))
    );
    let (_, tokens_a) = app.admin_call(Method::GET, "/admin/v1/tenants/acme/api-tokens").await;
    let token_via_b = format!("/admin/v1/tenants/other/api-tokens/{}", tokens_a[0]["id"]);
    assert_eq!(app.admin_call(Method::DELETE, &token_via_b).await, (404, msg("api token not found")));
    assert_eq!(app.tenant_call(&a, Method::GET, "/apps/api/v1/chats").await.0, 200, "A's token still works");
}

sms_test_support::on_both_backends!(attr = actix_web::test; tenants_are_isolated);
