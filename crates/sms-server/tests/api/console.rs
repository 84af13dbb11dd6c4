//! The console over HTTP (SPEC sections 4, 10 and 14, version 3): console accounts through
//! the admin API, signing in and out, sessions that end when they must, CSRF, what an agent
//! may see and do, the assign API, and live changes. The pages themselves are tested in a real
//! browser (`console-tests/`).

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{msg, read, seed_body};
use crate::helpers::{spawn_app, Backend, Tenant, TestApp};

const PASSWORD: &str = "correct horse battery";

/// A signed-in browser: its cookie and the session's CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

impl TestApp {
    async fn agent_with_password(&self, t: &Tenant, email: &str, role: &str) -> i64 {
        let agent = self.add_agent(t, json!({"email": email, "first_name": "Agent", "last_name": email})).await;
        let id = agent["id"].as_i64().unwrap();
        let path = format!("/admin/v1/tenants/{}/agents/{id}/password", t.subdomain);
        let resp = self.admin(Method::PUT, &path).json(&json!({"password": PASSWORD})).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 204);
        if role != "agent" {
            let path = format!("/admin/v1/tenants/{}/agents/{id}", t.subdomain);
            assert_eq!(self.admin_json(Method::PATCH, &path, json!({"console_role": role})).await.0, 200);
        }
        id
    }

    /// Posts the sign-in form; answers the status, the `Set-Cookie` and the body.
    async fn sign_in_form(&self, form: &[(&str, &str)]) -> (u16, String, String) {
        let resp = self.client.post(self.url("/console/login")).form(form).send().await.unwrap();
        let status = resp.status().as_u16();
        let cookie = resp.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        (status, cookie, resp.text().await.unwrap_or_default())
    }

    async fn sign_in(&self, subdomain: &str, email: &str, password: &str) -> Browser {
        let form = [("kind", "agent"), ("subdomain", subdomain), ("email", email), ("password", password)];
        let (status, set_cookie, body) = self.sign_in_form(&form).await;
        assert_eq!(status, 303, "sign-in: {body}");
        let cookie = set_cookie.split(';').next().unwrap_or_default().to_owned();
        let (_, page) = self.page(&cookie, "/console/chats").await;
        Browser { csrf: csrf_of(&page), cookie }
    }

    async fn page(&self, cookie: &str, path: &str) -> (u16, String) {
        let resp = self.client.get(self.url(path)).header("Cookie", cookie).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap_or_default())
    }

    /// Posts a console form; answers the status and the `Location` (or the body).
    async fn post_form(&self, browser: &Browser, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let resp = self.client.post(self.url(path)).header("Cookie", &browser.cookie).form(form).send().await.unwrap();
        let status = resp.status().as_u16();
        let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        (status, location.unwrap_or(resp.text().await.unwrap_or_default()))
    }
}

fn csrf_of(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").map(|i| i + 19).unwrap_or(0);
    page[start..].split('"').next().unwrap_or_default().to_owned()
}

async fn console_accounts_through_the_admin_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let agent = app.add_seed_agent(&t).await;
    assert_eq!((&agent["console_role"], &agent["has_password"]), (&json!("agent"), &json!(false)));
    let id = agent["id"].as_i64().unwrap();
    let password = format!("/admin/v1/tenants/acme/agents/{id}/password");
    for bad in [json!({"password": "elevenchars"}), json!({"password": "x".repeat(129)}), json!({})] {
        assert_eq!(app.admin_json(Method::PUT, &password, bad).await, (400, msg("password is invalid")));
    }
    let resp = app.admin(Method::PUT, &password).json(&json!({"password": "twelve chars"})).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let missing =
        app.admin(Method::PUT, "/admin/v1/tenants/acme/agents/999/password").json(&json!({"password": PASSWORD}));
    assert_eq!(read(missing.send().await.unwrap()).await, (404, msg("agent not found")));
    let path = format!("/admin/v1/tenants/acme/agents/{id}");
    let (status, agent) = app.admin_json(Method::PATCH, &path, json!({"console_role": "supervisor"})).await;
    assert_eq!((status, &agent["console_role"], &agent["has_password"]), (200, &json!("supervisor"), &json!(true)));
    let refused = app.admin_json(Method::PATCH, &path, json!({"console_role": "boss"})).await;
    assert_eq!(refused, (400, msg("console_role must be \"agent\" or \"supervisor\"")));
    assert!(!agent.to_string().contains("twelve chars") && !agent.to_string().contains("argon2"));

    // A one-time invitation: the agent chooses a password there, once.
    let (status, invitation) = app.admin_call(Method::POST, &format!("{path}/invitation")).await;
    assert_eq!(status, 201, "{invitation}");
    let url = invitation["url"].as_str().unwrap();
    let link = &url[url.find("/console/invitations/").unwrap()..];
    assert!(invitation["expires_at"].as_str().is_some_and(|s| s.len() == 24));
    let (status, page) = app.page("", link).await;
    assert_eq!(status, 200);
    assert!(page.contains("john.doe@foo.com"));
    let form = |p: &str| [("password", p.to_owned())];
    let short = app.client.post(app.url(link)).form(&form("too short")).send().await.unwrap();
    assert_eq!(short.status().as_u16(), 400);
    assert!(short.text().await.unwrap().contains("password is invalid"));
    let chosen = app.client.post(app.url(link)).form(&form("my own passphrase")).send().await.unwrap();
    assert_eq!(chosen.status().as_u16(), 303);
    let again = app.client.post(app.url(link)).form(&form("another passphrase")).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 404, "an invitation works once");
    app.sign_in("acme", "john.doe@foo.com", "my own passphrase").await;
    let unknown = app.admin_call(Method::POST, "/admin/v1/tenants/acme/agents/999/invitation").await;
    assert_eq!(unknown, (404, msg("agent not found")));
}

async fn signing_in_and_out(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    app.agent_with_password(&t, "ada@acme.test", "agent").await;
    let failed_page = |body: &str| body.contains("Sign-in failed");
    // Every failure reads the same: a wrong password, an unknown e-mail, an unknown tenant.
    for (subdomain, email, password) in [
        ("acme", "ada@acme.test", "wrong password"),
        ("acme", "nobody@acme.test", PASSWORD),
        ("nope", "ada@acme.test", PASSWORD),
    ] {
        let form = [("kind", "agent"), ("subdomain", subdomain), ("email", email), ("password", password)];
        let (status, cookie, body) = app.sign_in_form(&form).await;
        assert_eq!((status, cookie.as_str(), failed_page(&body)), (401, "", true));
    }
    let form = [("kind", "agent"), ("subdomain", "acme"), ("email", "ADA@acme.test"), ("password", PASSWORD)];
    let (status, set_cookie, _) = app.sign_in_form(&form).await;
    assert_eq!(status, 303);
    for attribute in ["sms_console=", "HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(set_cookie.contains(attribute), "{set_cookie} lacks {attribute}");
    }
    let browser = app.sign_in("acme", "ada@acme.test", PASSWORD).await;
    assert_eq!(app.page(&browser.cookie, "/console/chats").await.0, 200);
    // Without a session, a page sends the browser to the sign-in page.
    let resp = app.client.get(app.url("/console/chats")).send().await.unwrap();
    assert_eq!((resp.status().as_u16(), resp.headers()["location"].to_str().unwrap()), (303, "/console/login"));

    // Signing out needs the CSRF token, and then the session is gone.
    assert_eq!(app.post_form(&browser, "/console/logout", &[("csrf", "forged")]).await.0, 403);
    assert_eq!(app.page(&browser.cookie, "/console/chats").await.0, 200);
    assert_eq!(app.post_form(&browser, "/console/logout", &[("csrf", &browser.csrf)]).await.0, 303);
    assert_eq!(app.page(&browser.cookie, "/console/chats").await.0, 303);

    // An operator signs in with an admin token, and chooses a tenant first.
    let (status, set_cookie, _) = app.sign_in_form(&[("kind", "operator"), ("token", &app.admin_token)]).await;
    assert_eq!(status, 303);
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let resp = app.client.get(app.url("/console/chats")).header("Cookie", &cookie).send().await.unwrap();
    assert_eq!(resp.headers()["location"], "/console/tenant");
    let (status, _, body) = app.sign_in_form(&[("kind", "operator"), ("token", &t.token)]).await;
    assert_eq!((status, failed_page(&body)), (401, true), "an API token is no admin token");
}

async fn sessions_end_when_their_agent_or_tenant_changes(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let ada = app.agent_with_password(&t, "ada@acme.test", "agent").await;
    let bob = app.agent_with_password(&t, "bob@acme.test", "agent").await;
    let ada_browser = app.sign_in("acme", "ada@acme.test", PASSWORD).await;
    let bob_browser = app.sign_in("acme", "bob@acme.test", PASSWORD).await;
    let patch = |id: i64| format!("/admin/v1/tenants/acme/agents/{id}");
    assert_eq!(app.admin_json(Method::PATCH, &patch(ada), json!({"status": "deactivated"})).await.0, 200);
    assert_eq!(app.page(&ada_browser.cookie, "/console/chats").await.0, 303, "deactivated: signed out at once");
    let resp =
        app.admin(Method::PUT, &format!("{}/password", patch(bob))).json(&json!({"password": "a new passphrase"}));
    assert_eq!(resp.send().await.unwrap().status().as_u16(), 204);
    assert_eq!(app.page(&bob_browser.cookie, "/console/chats").await.0, 303, "password changed: signed out");
    let bob_browser = app.sign_in("acme", "bob@acme.test", "a new passphrase").await;
    app.patch_tenant(&t, json!({"active": false})).await;
    assert_eq!(app.page(&bob_browser.cookie, "/console/chats").await.0, 303, "tenant deactivated: signed out");
}

async fn an_account_that_fails_ten_times_waits(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    app.agent_with_password(&t, "ada@acme.test", "agent").await;
    for _ in 0..10 {
        let form = [("kind", "agent"), ("subdomain", "acme"), ("email", "ada@acme.test"), ("password", "wrong guess")];
        assert_eq!(app.sign_in_form(&form).await.0, 401);
    }
    let form = [("kind", "agent"), ("subdomain", "acme"), ("email", "ada@acme.test"), ("password", PASSWORD)];
    let (status, cookie, body) = app.sign_in_form(&form).await;
    assert_eq!((status, cookie.as_str(), body.contains("Sign-in failed")), (401, "", true), "locked for 15 minutes");
}

/// Three chats: Ada's, Bob's, and one nobody has.
async fn three_chats(app: &TestApp, t: &Tenant, ada: i64, bob: i64) -> [i64; 3] {
    let mut ids = [0; 3];
    for (i, (number, agent)) in
        [("+14155550101", Some(ada)), ("+14155550102", Some(bob)), ("+14155550103", None)].into_iter().enumerate()
    {
        let mut body = seed_body();
        body["end_user_number"] = json!(number);
        body["agentId"] = agent.map_or(Value::Null, |a| json!(a));
        let (status, chat) = app.send_sms(t, &body).await;
        assert_eq!(status, 200, "{chat}");
        ids[i] = chat["id"].as_i64().unwrap();
    }
    ids
}

async fn an_agent_sees_and_touches_only_its_own_and_unassigned_chats(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let ada = app.agent_with_password(&t, "ada@acme.test", "agent").await;
    let bob = app.agent_with_password(&t, "bob@acme.test", "agent").await;
    app.agent_with_password(&t, "sue@acme.test", "supervisor").await;
    let [adas, bobs, nobodys] = three_chats(&app, &t, ada, bob).await;
    let ada_browser = app.sign_in("acme", "ada@acme.test", PASSWORD).await;
    let (_, list) = app.page(&ada_browser.cookie, "/console/chats").await;
    let shows = |list: &str, id: i64| list.contains(&format!("href=\"/console/chats/{id}\""));
    assert_eq!((shows(&list, adas), shows(&list, bobs), shows(&list, nobodys)), (true, false, true));
    let (_, mine) = app.page(&ada_browser.cookie, "/console/chats?agent=me").await;
    assert_eq!((shows(&mine, adas), shows(&mine, nobodys)), (true, false));
    assert_eq!(app.page(&ada_browser.cookie, &format!("/console/chats?agent={bob}")).await.0, 403);
    assert_eq!(app.page(&ada_browser.cookie, &format!("/console/chats/{bobs}")).await.0, 404);
    let reply = [("csrf", ada_browser.csrf.as_str()), ("message", "Hello")];
    assert_eq!(app.post_form(&ada_browser, &format!("/console/chats/{bobs}/reply"), &reply).await.0, 404);
    assert_eq!(app.post_form(&ada_browser, &format!("/console/chats/{bobs}/end"), &reply[..1]).await.0, 404);
    // Another tenant's chat is not there at all.
    let other = app.seed_tenant_other().await;
    let mut body = seed_body();
    body["outbound_number"] = json!("+1 628-555-0150");
    let (_, theirs) = app.send_sms(&other, &body).await;
    assert_eq!(app.page(&ada_browser.cookie, &format!("/console/chats/{}", theirs["id"])).await.0, 404);

    // A supervisor sees every chat of the tenant, and nothing of another.
    let sue = app.sign_in("acme", "sue@acme.test", PASSWORD).await;
    let (_, all) = app.page(&sue.cookie, "/console/chats").await;
    assert_eq!((shows(&all, adas), shows(&all, bobs), shows(&all, nobodys)), (true, true, true));
    assert!(!shows(&all, theirs["id"].as_i64().unwrap()));
    let (_, filtered) = app.page(&sue.cookie, "/console/chats?q=0102").await;
    assert_eq!((shows(&filtered, bobs), shows(&filtered, adas)), (true, false), "search by the consumer's number");
}

async fn console_actions_are_the_api_workflows(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let ada = app.agent_with_password(&t, "ada@acme.test", "agent").await;
    let bob = app.agent_with_password(&t, "bob@acme.test", "agent").await;
    let [_, _, nobodys] = three_chats(&app, &t, ada, bob).await;
    let browser = app.sign_in("acme", "ada@acme.test", PASSWORD).await;
    let chat = format!("/console/chats/{nobodys}");
    let messages_now = app.db.count("messages");
    // Without the CSRF token nothing is written.
    assert_eq!(app.post_form(&browser, &format!("{chat}/reply"), &[("message", "Hi")]).await.0, 403);
    assert_eq!(app.db.count("messages"), messages_now);
    // Assign to me: the API's assign.
    let (status, location) = app.post_form(&browser, &format!("{chat}/assign"), &[("csrf", &browser.csrf)]).await;
    assert_eq!((status, location.as_str()), (303, chat.as_str()));
    let (_, assigned) = app.tenant_call(&t, Method::GET, &format!("/apps/api/v1/chats/{nobodys}")).await;
    assert_eq!((&assigned["status"], &assigned["agent_info"]["id"]), (&json!("assigned"), &json!(ada)));
    // A reply: the API's reply, written by Ada; a refusal shows the API's message.
    let reply = |text: &'static str| [("csrf", browser.csrf.clone()), ("message", text.to_owned())];
    let form = reply("Your order shipped.");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(app.post_form(&browser, &format!("{chat}/reply"), &form).await.0, 303);
    let (_, listed) = app.tenant_call(&t, Method::GET, &format!("/apps/api/v1/chats/{nobodys}/messages")).await;
    let last = &listed.as_array().unwrap()[1];
    assert_eq!((&last["body"], &last["agent_id"]), (&json!("Your order shipped."), &json!(ada)));
    let form = reply("   ");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, page) = app.post_form(&browser, &format!("{chat}/reply"), &form).await;
    assert_eq!(status, 400);
    assert!(page.contains("message is required"), "the API's own message");
    // End conversation: the API's end.
    assert_eq!(app.post_form(&browser, &format!("{chat}/end"), &[("csrf", &browser.csrf)]).await.0, 303);
    let (_, ended) = app.tenant_call(&t, Method::GET, &format!("/apps/api/v1/chats/{nobodys}")).await;
    assert_eq!((&ended["status"], &ended["disconnected_by"]), (&json!("finished"), &json!("disconnected_by_agent")));
    let (status, page) = app.post_form(&browser, &format!("{chat}/reply"), &form).await;
    assert_eq!(status, 400);
    assert!(!page.is_empty());

    // New SMS: the pre-check names the rule, and links the active chat.
    let new = [
        ("csrf", browser.csrf.as_str()),
        ("to", "+14155550101"),
        ("from", "+16285550199"),
        ("message", "Hi"),
        ("check", "1"),
    ];
    let (status, page) = app.post_form(&browser, "/console/chats/new", &new).await;
    assert_eq!(status, 200);
    assert!(page.contains("Active conversation") && page.contains("/console/chats/"), "{page}");
    let send = [("csrf", browser.csrf.as_str()), ("to", "+14155550109"), ("from", "+16285550199"), ("message", "Hi")];
    let (status, location) = app.post_form(&browser, "/console/chats/new", &send).await;
    assert_eq!(status, 303, "{location}");
}

async fn chats_are_assigned_through_the_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let ada = app.add_agent(&t, json!({"email": "ada@acme.test", "first_name": "Ada", "last_name": "L"})).await;
    let bob = app.add_agent(&t, json!({"email": "bob@acme.test", "first_name": "Bob", "last_name": "B"})).await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let path = format!("/apps/api/v1/chats/{}/assign", chat["id"]);
    let assign = |body: Value| {
        let req = app.as_tenant(&t, Method::POST, &path).json(&body);
        async move { read(req.send().await.unwrap()).await }
    };
    assert_eq!(assign(json!({})).await, (400, msg("agent is required")));
    assert_eq!(assign(json!({"agentId": 999})).await, (400, msg("agent is not found")));
    let (status, first) = assign(json!({"agentEmail": "ADA@acme.test"})).await;
    assert_eq!((status, &first["status"], &first["agent_info"]["id"]), (200, &json!("assigned"), &ada["id"]));
    assert!(first["assigned_at"].is_string());
    let (status, same) = assign(json!({"agent_id": ada["id"]})).await;
    assert_eq!((status, &same), (200, &first), "the same agent again changes nothing");
    let (status, moved) = assign(json!({"agentId": bob["id"]})).await;
    assert_eq!((status, &moved["agent_info"]["id"]), (200, &bob["id"]));
    let agents: Vec<(&Value, &Value, bool)> = moved["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "agent")
        .map(|p| (&p["user_id"], &p["status"], p["ended_at"].is_string()))
        .collect();
    assert_eq!(agents, [(&ada["id"], &json!("disconnected"), true), (&bob["id"], &json!("connected"), false)]);
    let other = app.seed_tenant_other().await;
    let theirs = app.as_tenant(&other, Method::POST, &path).json(&json!({"agentId": bob["id"]}));
    assert_eq!(read(theirs.send().await.unwrap()).await, (404, msg("chat not found")));
    let end = app.as_tenant(&t, Method::POST, &format!("/apps/api/v1/chats/{}/end", chat["id"]));
    assert_eq!(end.send().await.unwrap().status().as_u16(), 200);
    assert_eq!(assign(json!({"agentId": ada["id"]})).await, (409, msg("chat is not active")));
}

/// Reads server-sent events until `pred` holds for one, or `within` passes.
async fn hears(resp: reqwest::Response, within: Duration, pred: impl Fn(&str) -> bool) -> (bool, Vec<String>) {
    let mut stream = resp.bytes_stream();
    let mut seen = Vec::new();
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + within;
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, stream.next()).await {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if pred(&event) {
                return (true, seen);
            }
            seen.push(event);
        }
    }
    (false, seen)
}

async fn live_changes_reach_only_those_who_may_see_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.seed_tenant("acme").await;
    let ada = app.agent_with_password(&t, "ada@acme.test", "agent").await;
    let bob = app.agent_with_password(&t, "bob@acme.test", "agent").await;
    let [adas, bobs, _] = three_chats(&app, &t, ada, bob).await;
    let browser = app.sign_in("acme", "ada@acme.test", PASSWORD).await;
    let open = || app.client.get(app.url("/console/live")).header("Cookie", &browser.cookie).send();
    let unsigned = app.client.get(app.url("/console/live")).send().await.unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);

    // Bob's chat changes: Ada hears nothing of it. Then her own changes: she hears it.
    let resp = open().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let (ready, _) = hears(resp, Duration::from_secs(5), |e| e.contains("event: ready")).await;
    assert!(ready);
    let resp = open().await.unwrap();
    let listening = tokio::spawn(hears(resp, Duration::from_secs(5), move |e| e.contains(&format!("\"chat\":{adas}"))));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.reply(&t, &json!(bobs), &json!({"message": "to Bob's consumer"})).await.0, 201);
    let started = std::time::Instant::now();
    assert_eq!(app.reply(&t, &json!(adas), &json!({"message": "to Ada's consumer"})).await.0, 201);
    let (heard, before) = listening.await.unwrap();
    assert!(heard, "Ada hears of her chat: {before:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "within 2 s");
    assert!(before.iter().all(|e| !e.contains(&format!("\"chat\":{bobs}"))), "never of Bob's: {before:?}");
}

async fn live_changes_cross_instances() {
    let app = spawn_app(Backend::Postgres).await;
    let t = app.seed_tenant("acme").await;
    let ada = app.agent_with_password(&t, "ada@acme.test", "agent").await;
    let (_, chat) = app.send_sms(&t, &seed_body()).await;
    let browser = app.sign_in("acme", "ada@acme.test", PASSWORD).await;
    let sibling = app.another_instance();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let resp = app.client.get(app.url("/console/live")).header("Cookie", &browser.cookie).send().await.unwrap();
    let id = chat["id"].as_i64().unwrap();
    let listening = tokio::spawn(hears(resp, Duration::from_secs(5), move |e| e.contains(&format!("\"chat\":{id}"))));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The change is made through the other instance.
    let path = format!("{}/apps/api/v1/chats/{id}/messages", sibling.address);
    let req =
        app.client.post(path).basic_auth(&t.subdomain, Some(&t.token)).json(&json!({"message": "hi", "agentId": ada}));
    assert_eq!(req.send().await.unwrap().status().as_u16(), 201);
    let (heard, seen) = listening.await.unwrap();
    assert!(heard, "a change on one instance reaches a viewer on another: {seen:?}");
}

sms_test_support::on_both_backends!(
    attr = actix_web::test;
    console_accounts_through_the_admin_api,
    signing_in_and_out,
    sessions_end_when_their_agent_or_tenant_changes,
    an_account_that_fails_ten_times_waits,
    an_agent_sees_and_touches_only_its_own_and_unassigned_chats,
    console_actions_are_the_api_workflows,
    chats_are_assigned_through_the_api,
    live_changes_reach_only_those_who_may_see_them,
);

#[actix_web::test]
async fn live_changes_cross_instances_over_redis() {
    live_changes_cross_instances().await;
}
