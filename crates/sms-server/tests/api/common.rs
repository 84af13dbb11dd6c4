//! The calls and checks the test modules share (svix's `common_calls`): creating tenants,
//! numbers and agents, sending and replying, reading answers, the seed's bodies, Twilio and the
//! event receiver through the fake provider. A module's own helpers stay in it; anything a second
//! module needs moves here.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::Mac;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use sms_server::Config;

use crate::fake_provider::{FakeProvider, Recorded};
use crate::helpers::{Tenant, TestApp};

/// The public URL the Twilio configuration of [`twilio`] signs callbacks for.
pub const PUBLIC_URL: &str = "https://sms.example.test";
/// The Twilio account of [`twilio`].
pub const SID: &str = "AC0123456789";
/// The Twilio auth token of [`twilio`], which [`callback`] signs with.
pub const TOKEN: &str = "twilio-auth-token";

/// An answer's status and JSON body (`Value::Null` when the body is empty).
pub async fn read(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, body)
}

pub fn msg(message: &str) -> Value {
    json!({ "message": message })
}

/// The seed's request body.
pub fn seed_body() -> Value {
    json!({
        "chat_type": "Messaging (SMS)",
        "end_user_number": "+1 415-555-0100",
        "outbound_number": "+1 628-555-0199",
        "message": "lorem ipsum",
        "ticket_id": "5006x00000XXxxxXXX"
    })
}

/// The seed body with fields replaced (`Value::Null` values are sent as null) or removed (a
/// key prefixed with `-`).
pub fn body_with(changes: &[(&str, Value)]) -> Value {
    let mut body = seed_body();
    if let Some(map) = body.as_object_mut() {
        for (key, value) in changes {
            match key.strip_prefix('-') {
                Some(k) => {
                    map.remove(k);
                }
                None => {
                    map.insert((*key).to_owned(), value.clone());
                }
            }
        }
    }
    body
}

impl TestApp {
    pub async fn admin_json(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        read(self.admin(method, path).json(&body).send().await.unwrap()).await
    }

    pub async fn admin_call(&self, method: Method, path: &str) -> (u16, Value) {
        read(self.admin(method, path).send().await.unwrap()).await
    }

    /// Creates a tenant (with `settings` merged into the body) and an API token for it. Test
    /// tenants have no rate limit unless `settings` sets one.
    pub async fn tenant_with(&self, subdomain: &str, settings: Value) -> Tenant {
        let mut body =
            json!({ "subdomain": subdomain, "name": format!("{subdomain} Inc."), "rate_limit_per_second": 0 });
        if let (Some(map), Some(extra)) = (body.as_object_mut(), settings.as_object()) {
            for (k, v) in extra {
                map.insert(k.clone(), v.clone());
            }
        }
        let (status, created) = self.admin_json(Method::POST, "/admin/v1/tenants", body).await;
        assert_eq!(status, 201, "create tenant: {created}");
        let (status, token) = self.admin_call(Method::POST, &format!("/admin/v1/tenants/{subdomain}/api-tokens")).await;
        assert_eq!(status, 201, "create token: {token}");
        let token = token["token"].as_str().unwrap_or_else(|| panic!("no token in {token}")).to_owned();
        Tenant { subdomain: subdomain.to_owned(), token }
    }

    pub async fn tenant(&self, subdomain: &str) -> Tenant {
        self.tenant_with(subdomain, json!({})).await
    }

    /// A tenant owning the seed's outbound number.
    pub async fn seed_tenant(&self, subdomain: &str) -> Tenant {
        let tenant = self.tenant(subdomain).await;
        self.add_number(&tenant, "+1 628-555-0199").await;
        tenant
    }

    /// A second tenant, `other`, with its own outbound number.
    pub async fn seed_tenant_other(&self) -> Tenant {
        let tenant = self.tenant("other").await;
        self.add_number(&tenant, "+1 628-555-0150").await;
        tenant
    }

    pub async fn add_number(&self, tenant: &Tenant, number: &str) -> i64 {
        let path = format!("/admin/v1/tenants/{}/outbound-numbers", tenant.subdomain);
        let (status, body) = self.admin_json(Method::POST, &path, json!({ "number": number })).await;
        assert_eq!(status, 201, "add number: {body}");
        body["id"].as_i64().unwrap_or_default()
    }

    /// The seed's agent John Doe.
    pub async fn add_seed_agent(&self, tenant: &Tenant) -> Value {
        self.add_agent(
            tenant,
            json!({
                "email": "john.doe@foo.com", "first_name": "John", "last_name": "Doe",
                "agent_number": 9, "avatar_url": "https://foobar.com/johndoe"
            }),
        )
        .await
    }

    pub async fn add_agent(&self, tenant: &Tenant, body: Value) -> Value {
        let path = format!("/admin/v1/tenants/{}/agents", tenant.subdomain);
        let (status, agent) = self.admin_json(Method::POST, &path, body).await;
        assert_eq!(status, 201, "add agent: {agent}");
        agent
    }

    pub async fn patch_tenant(&self, tenant: &Tenant, body: Value) {
        let path = format!("/admin/v1/tenants/{}", tenant.subdomain);
        let (status, out) = self.admin_json(Method::PATCH, &path, body).await;
        assert_eq!(status, 200, "patch tenant: {out}");
    }

    pub async fn send_sms(&self, tenant: &Tenant, body: &Value) -> (u16, Value) {
        let req = self.as_tenant(tenant, Method::POST, "/apps/api/v1/sms").json(body);
        read(req.send().await.unwrap()).await
    }

    /// `POST /apps/api/v1/chats/{chat_id}/messages` with `body`.
    pub async fn reply(&self, tenant: &Tenant, chat_id: &Value, body: &Value) -> (u16, Value) {
        let req = self.as_tenant(tenant, Method::POST, &format!("/apps/api/v1/chats/{chat_id}/messages")).json(body);
        read(req.send().await.unwrap()).await
    }

    pub async fn tenant_call(&self, tenant: &Tenant, method: Method, path: &str) -> (u16, Value) {
        read(self.as_tenant(tenant, method, path).send().await.unwrap()).await
    }
}

/// Whether a JSON text has these keys in this order (each key's first appearance), and as its
/// only top-level keys: the wire order, which a parsed `Value` does not keep.
pub fn in_key_order(text: &str, keys: &[&str]) -> bool {
    let parsed: Value = serde_json::from_str(text).unwrap_or_default();
    let mut sorted: Vec<&str> = parsed.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    let mut expected = keys.to_vec();
    sorted.sort_unstable();
    expected.sort_unstable();
    let at: Vec<usize> = keys.iter().map(|k| text.find(&format!("\"{k}\":")).unwrap_or(usize::MAX)).collect();
    sorted == expected && at.windows(2).all(|w| w[0] < w[1])
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Twilio through the fake, fast retries, a 1 s request timeout, three attempts.
pub fn twilio(fake: &FakeProvider) -> impl FnOnce(&mut Config) + '_ {
    move |config| {
        config.public_url = Some(PUBLIC_URL.into());
        let d = &mut config.delivery;
        d.worker = true;
        d.provider = sms_server::config::ProviderKind::Twilio;
        d.twilio_base_url = fake.url.clone();
        d.twilio_account_sid = Some(SID.into());
        d.twilio_auth_token = Some(TOKEN.into());
        d.poll = Duration::from_millis(50);
        d.retry_base = Duration::from_millis(100);
        d.retry_max = Duration::from_millis(400);
        d.timeout = Duration::from_secs(1);
        d.max_attempts = 3;
    }
}

/// The chat's messages, as the tenant reads them.
pub async fn messages(app: &TestApp, t: &Tenant, chat_id: &Value) -> Vec<Value> {
    let (status, list) = app.tenant_call(t, Method::GET, &format!("/apps/api/v1/chats/{chat_id}/messages")).await;
    assert_eq!(status, 200, "{list}");
    list.as_array().cloned().unwrap_or_default()
}

/// Waits until the chat's first message reaches one of `statuses`.
pub async fn first_message_becomes(app: &TestApp, t: &Tenant, chat_id: &Value, statuses: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let first = messages(app, t, chat_id).await.first().cloned().unwrap_or(Value::Null);
        if statuses.iter().any(|s| first["delivery_status"] == *s) {
            return first;
        }
        assert!(Instant::now() < deadline, "still {first} after 15 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `MessageSid` of Twilio's form for a test's short name of a message (`"SMstop"`, `"SM1"`):
/// the same name always the same sid. A name that is a sid already is kept.
pub fn message_sid(name: &str) -> String {
    let valid = name.len() == 34 && name[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if valid {
        return name.to_owned();
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{}{:032x}", if name.starts_with("MM") { "MM" } else { "SM" }, hash)
}

/// Posts a Twilio callback form, signed as Twilio signs (or with `signature` when given). Tests
/// name inbound messages briefly; their `MessageSid` is sent in Twilio's form ([`message_sid`]).
pub async fn callback(app: &TestApp, path: &str, form: &[(&str, &str)], signature: Option<&str>) -> (u16, String) {
    let params: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| ((*k).to_owned(), if *k == "MessageSid" { message_sid(v) } else { (*v).to_owned() }))
        .collect();
    let signed = sms_delivery::twilio::signature(TOKEN, &format!("{PUBLIC_URL}{path}"), &params);
    let mut req = app.client.post(app.url(path)).form(&params);
    match signature {
        Some("") => {}
        Some(sig) => req = req.header("X-Twilio-Signature", sig),
        None => req = req.header("X-Twilio-Signature", signed),
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// Events on, posted fast: 1 s timeout, retries after about 100 ms, three attempts.
pub fn events_on(config: &mut Config) {
    config.events_worker = true;
    config.events.timeout = Duration::from_secs(1);
    config.events.retry_base = Duration::from_millis(100);
    config.events.retry_max = Duration::from_millis(400);
    config.events.max_attempts = 3;
    config.events.poll = Duration::from_millis(50);
}

/// Waits until `receiver` has `n` requests.
pub async fn received(receiver: &FakeProvider, n: usize) -> Vec<Recorded> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let requests = receiver.requests();
        if requests.len() >= n {
            return requests;
        }
        assert!(Instant::now() < deadline, "{} of {n} deliveries after 20 s", requests.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks a delivery's Standard Webhooks headers with an HMAC of the test's own, against each
/// secret; answers which secrets signed it.
pub fn signed_by(request: &Recorded, secrets: &[&str]) -> Vec<bool> {
    let id = request.webhook_id.clone().unwrap_or_default();
    let timestamp = request.webhook_timestamp.clone().unwrap_or_default();
    let presented: Vec<String> =
        request.webhook_signature.clone().unwrap_or_default().split(' ').map(str::to_owned).collect();
    secrets
        .iter()
        .map(|secret| {
            let key = BASE64.decode(secret.trim_start_matches("whsec_")).unwrap_or_default();
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(&request.body);
            let expected = format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()));
            presented.contains(&expected)
        })
        .collect()
}
