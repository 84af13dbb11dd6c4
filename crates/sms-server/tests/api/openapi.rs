//! The committed OpenAPI document is what the code generates.

#[test]
fn committed_openapi_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = sms_http::openapi_json();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -p sms-server -- openapi > openapi/openapi.json`"
    );
}

#[test]
fn document_covers_every_route_with_security_and_examples() {
    let doc: serde_json::Value = serde_json::from_str(&sms_http::openapi_json()).unwrap_or_default();
    let paths: Vec<&str> = doc["paths"].as_object().map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
    assert_eq!(
        paths,
        vec![
            "/admin/v1/tenants",
            "/admin/v1/tenants/{subdomain}",
            "/admin/v1/tenants/{subdomain}/agents",
            "/admin/v1/tenants/{subdomain}/agents/{id}",
            "/admin/v1/tenants/{subdomain}/agents/{id}/invitation",
            "/admin/v1/tenants/{subdomain}/agents/{id}/password",
            "/admin/v1/tenants/{subdomain}/api-tokens",
            "/admin/v1/tenants/{subdomain}/api-tokens/{id}",
            "/admin/v1/tenants/{subdomain}/jwt",
            "/admin/v1/tenants/{subdomain}/jwt/revoke",
            "/admin/v1/tenants/{subdomain}/opt-outs",
            "/admin/v1/tenants/{subdomain}/opt-outs/{number}",
            "/admin/v1/tenants/{subdomain}/outbound-numbers",
            "/admin/v1/tenants/{subdomain}/outbound-numbers/{id}",
            "/admin/v1/tenants/{subdomain}/webhooks",
            "/admin/v1/tenants/{subdomain}/webhooks/{id}",
            "/admin/v1/tenants/{subdomain}/webhooks/{id}/deliveries",
            "/admin/v1/tenants/{subdomain}/webhooks/{id}/deliveries/{delivery_id}/retry",
            "/admin/v1/tenants/{subdomain}/webhooks/{id}/rotate-secret",
            "/admin/v1/tenants/{subdomain}/webhooks/{id}/test",
            "/apps/api/v1/chats",
            "/apps/api/v1/chats/{id}",
            "/apps/api/v1/chats/{id}/assign",
            "/apps/api/v1/chats/{id}/end",
            "/apps/api/v1/chats/{id}/message",
            "/apps/api/v1/chats/{id}/messages",
            "/apps/api/v1/sms",
            "/healthz",
            "/manager/api/v1/agents",
            "/manager/api/v1/chats",
            "/manager/api/v1/settings/organization",
            "/metrics",
            "/openapi.json",
            "/readyz",
            "/webhooks/twilio/{subdomain}/inbound",
            "/webhooks/twilio/{subdomain}/status",
        ]
    );
    assert_eq!(doc["servers"][0]["url"], "https://{subdomain}.{domain}");
    assert!(doc["components"]["securitySchemes"]["basic"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert_eq!(
        doc["paths"]["/apps/api/v1/sms"]["post"]["security"],
        serde_json::json!([{"basic": []}, {"bearer": []}])
    );
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                if status.starts_with('4') || status.starts_with('5') {
                    let content = &response["content"]["application/json"];
                    assert!(
                        content["example"].is_object() || content["examples"].is_object(),
                        "{method} {path} {status} has no example"
                    );
                }
            }
        }
    }
}
