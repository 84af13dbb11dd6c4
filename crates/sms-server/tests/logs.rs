//! Logs never carry a phone number, a message body, a token or a secret.
//!
//! Runs the real binary with JSON logs at `debug` level, drives the README walk-through and a
//! consumer's reply through it, and searches everything it printed.

// Tests may unwrap: clippy.toml allows it in `#[test]` functions only, not in the helpers here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use sms_http::JwtKeys;

const SECRET: &str = "log-test-secret-0123456789abcdef012345";
const TWILIO_TOKEN: &str = "twilio-token-never-logged";
const BODY: &str = "Your appointment is confirmed, code 7781";
const REPLY: &str = "Thanks, see you Tuesday";

#[test]
fn a_walkthrough_logs_no_number_body_token_or_secret() {
    let dir = tempfile::tempdir().unwrap();
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or_default();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sms-server"))
        .env("SMS_BIND", format!("127.0.0.1:{port}"))
        .env("SMS_DATA_DIR", dir.path())
        .env("SMS_JWT_SECRET", SECRET)
        .env("TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
        .env("SMS_LOG", "debug")
        .env("SMS_LOG_FORMAT", "json")
        .env("SMS_DELIVERY_POLL_MS", "50")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    while let Some(Ok(line)) = lines.next() {
        if line.starts_with("Serving on") {
            break;
        }
    }
    let admin = JwtKeys::new(SECRET.as_bytes()).admin_token(600).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let token = runtime.block_on(async {
        let http = reqwest::Client::new();
        let call = |req: reqwest::RequestBuilder| async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        };
        let admin_post = |path: &str, body: Value| http.post(format!("{base}{path}")).bearer_auth(&admin).json(&body);
        assert_eq!(call(admin_post("/admin/v1/tenants", json!({"subdomain": "acme", "name": "Acme"}))).await.0, 201);
        let (_, token) = call(admin_post("/admin/v1/tenants/acme/api-tokens", json!({}))).await;
        let token = token["token"].as_str().unwrap_or_default().to_owned();
        call(admin_post("/admin/v1/tenants/acme/outbound-numbers", json!({"number": "+1 628-555-0199"}))).await;
        call(admin_post(
            "/admin/v1/tenants/acme/agents",
            json!({"email": "john.doe@foo.com", "first_name": "John", "last_name": "Doe"}),
        ))
        .await;
        let tenant = |req: reqwest::RequestBuilder| req.basic_auth("acme", Some(&token));
        let send = json!({"chat_type": "SMS", "end_user_number": "(415) 555-0100", "outbound_number": "+1 628-555-0199",
                          "message": BODY, "agentEmail": "john.doe@foo.com"});
        let (status, chat) =
            call(tenant(http.post(format!("{base}/apps/api/v1/sms"))).header("Idempotency-Key", "k-1").json(&send))
                .await;
        assert_eq!(status, 200, "{chat}");
        assert_eq!(call(tenant(http.post(format!("{base}/apps/api/v1/sms"))).json(&send)).await.0, 400);
        let id = chat["id"].clone();
        call(tenant(http.get(format!("{base}/apps/api/v1/chats/{id}")))).await;
        call(tenant(http.get(format!("{base}/apps/api/v1/chats?end_user_number=%2B14155550100")))).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let reply = [
            ("From", "+14155550100"),
            ("To", "+16285550199"),
            ("Body", REPLY),
            ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
        ];
        let params: Vec<(String, String)> = reply.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let path = "/webhooks/twilio/acme/inbound";
        let signature = sms_delivery::twilio::signature(TWILIO_TOKEN, &format!("{base}{path}"), &params);
        let resp =
            http.post(format!("{base}{path}")).header("X-Twilio-Signature", signature).form(&params).send().await;
        assert_eq!(resp.map(|r| r.status().as_u16()).unwrap_or_default(), 200);
        let (status, messages) = call(tenant(http.get(format!("{base}/apps/api/v1/chats/{id}/messages")))).await;
        assert_eq!((status, messages.as_array().map(Vec::len)), (200, Some(2)));
        assert_eq!(messages[0]["delivery_status"], "sent", "the log provider sent it");
        call(tenant(http.post(format!("{base}/apps/api/v1/chats/{id}/end")))).await;
        call(tenant(
            http.get(format!("{base}/apps/api/v1/chats/{id}")).header("Authorization", "Basic bm9ib2R5Ondyb25n"),
        ))
        .await;
        token
    });
    let _ = child.kill();
    let _ = child.wait();
    let mut logs = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut logs);
    }
    assert!(logs.lines().count() > 20, "the walk-through was logged:\n{logs}");
    for line in logs.lines() {
        let parsed: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if parsed["target"] == "sms_http::access" {
            assert!(parsed["span"]["request_id"].as_str().is_some_and(|id| id.len() == 32), "{line}");
        }
    }
    for secret in [
        "+14155550100",
        "4155550100",
        "415-555-0100",
        "(415) 555-0100",
        "+16285550199",
        "6285550199",
        BODY,
        REPLY,
        "appointment",
        &token,
        &admin,
        SECRET,
        TWILIO_TOKEN,
        "john.doe@foo.com",
    ] {
        assert!(!logs.contains(secret), "the logs contain {secret:?}:\n{logs}");
    }
    assert!(logs.contains("********0100"), "numbers appear masked to their last 4 digits");
}
