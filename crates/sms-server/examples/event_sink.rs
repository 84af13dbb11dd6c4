//! A receiver of event webhooks for the benchmark: answers every `POST` 200 at once, as a
//! tenant's well-behaved endpoint would, and `GET /count` with how many it took. It checks no
//! signature (the tests and CI do); it exists so that a benchmark measures the service, not a
//! slow receiver.
//!
//!     cargo run --release -p sms-server --example event_sink -- 127.0.0.1:9100

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix_web::{web, App, HttpResponse, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9100".to_owned());
    let taken = web::Data::from(Arc::new(AtomicU64::new(0)));
    HttpServer::new(move || {
        App::new()
            .app_data(taken.clone())
            .route(
                "/count",
                web::get().to(|taken: web::Data<AtomicU64>| async move {
                    HttpResponse::Ok().body(taken.load(Ordering::Relaxed).to_string())
                }),
            )
            // The body is read, as a receiver does: actix closes a connection whose request body
            // was left unread, and the service's client would then connect anew for most posts.
            .default_service(web::to(|taken: web::Data<AtomicU64>, _event: web::Bytes| async move {
                taken.fetch_add(1, Ordering::Relaxed);
                HttpResponse::Ok().finish()
            }))
    })
    .workers(1)
    .bind(bind)?
    .run()
    .await
}
