//! A real HTTP peer standing in for Twilio (or a webhook receiver): it records every request
//! and answers as the test told it to.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

/// How the fake answers one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// 201 with a Twilio message resource (`sid`).
    Created,
    /// This status with this JSON body.
    Status(u16, &'static str),
    /// Wait this long, then 201: past the client's timeout, the attempt times out.
    Hang(Duration),
}

/// The `n`th message id the fake answers, in Twilio's form: `SM` and 32 hexadecimal digits.
pub fn sid(n: usize) -> String {
    format!("SM{n:032x}")
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub authorization: Option<String>,
    pub signature: Option<String>,
    pub content_type: Option<String>,
    /// The Standard Webhooks headers of an event delivery.
    pub webhook_id: Option<String>,
    pub webhook_timestamp: Option<String>,
    pub webhook_signature: Option<String>,
    /// The platform's headers of a delivery to a `ccai` endpoint.
    pub x_signature: Option<String>,
    pub x_signature_timestamp: Option<String>,
    pub x_event_id: Option<String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn form(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_bytes(&self.body).unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

#[derive(Default)]
struct Shared {
    answers: Mutex<VecDeque<Answer>>,
    requests: Mutex<Vec<Recorded>>,
}

pub struct FakeProvider {
    pub url: String,
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
}

impl FakeProvider {
    /// Starts on a free port; unscripted requests are answered [`Answer::Created`].
    pub fn start(answers: Vec<Answer>) -> Self {
        let shared = Arc::new(Shared { answers: Mutex::new(answers.into()), requests: Mutex::default() });
        let data = web::Data::from(Arc::clone(&shared));
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(answer)))
            .workers(1)
            .bind("127.0.0.1:0")
            .unwrap();
        let port = server.addrs().first().map(|a| a.port()).unwrap_or_default();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self { url: format!("http://127.0.0.1:{port}"), shared, handle }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

async fn answer(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let count = {
        let mut requests = shared.requests.lock().unwrap_or_else(|p| p.into_inner());
        requests.push(Recorded {
            path: req.path().to_owned(),
            authorization: header("authorization"),
            signature: header("x-signature-256"),
            content_type: header("content-type"),
            webhook_id: header("webhook-id"),
            webhook_timestamp: header("webhook-timestamp"),
            webhook_signature: header("webhook-signature"),
            x_signature: header("x-signature"),
            x_signature_timestamp: header("x-signature-timestamp"),
            x_event_id: header("x-event-id"),
            body: body.to_vec(),
        });
        requests.len()
    };
    let next = shared.answers.lock().unwrap_or_else(|p| p.into_inner()).pop_front().unwrap_or(Answer::Created);
    let created = || HttpResponse::Created().json(serde_json::json!({"sid": sid(count), "status": "queued"}));
    match next {
        Answer::Created => created(),
        Answer::Status(code, body) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap_or_default())
                .content_type("application/json")
                .body(body)
        }
        Answer::Hang(wait) => {
            tokio::time::sleep(wait).await;
            created()
        }
    }
}
