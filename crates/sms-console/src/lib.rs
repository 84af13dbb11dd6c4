//! The console (SPEC section 14): a web interface for agents, supervisors and operators,
//! served by the same binary under `/console/`.
//!
//! Another translator over the application crate, like `sms-http`: its handlers read a form
//! or a URL, call one workflow of `sms-service` for the signed-in viewer, and render a page
//! from templates compiled into the binary (askama). No rule lives here: scope, checks and
//! messages are the workflows'. Styles and the one small script are compiled in too, and every
//! page forbids any other origin and any inline script (its Content-Security-Policy).

mod assets;
mod live;
mod pages;
mod session;
mod views;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::DefaultHeaders;
use actix_web::web;

/// The console's Content-Security-Policy: nothing from any other origin, no inline script or
/// style, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Largest form the console takes (a reply of 1,600 characters, percent-encoded, fits).
const FORM_LIMIT: usize = 64 * 1024;

/// Registers the console under `/console`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::redirect("/console", "/console/")).service(
        web::scope("/console")
            .app_data(web::FormConfig::default().limit(FORM_LIMIT).error_handler(|e, _| {
                let status = match &e {
                    actix_web::error::UrlencodedError::Overflow { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    actix_web::error::UrlencodedError::ContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    _ => StatusCode::BAD_REQUEST,
                };
                session::PageError::new(status, format!("The form could not be read: {e}")).into()
            }))
            .wrap(
                DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)))
                    .add((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
                    .add((header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
                    .add((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"))),
            )
            .route("/", web::get().to(pages::home))
            .route("/login", web::get().to(pages::login_page))
            .route("/login", web::post().to(pages::login))
            .route("/logout", web::post().to(pages::logout))
            .route("/tenant", web::get().to(pages::tenant_page))
            .route("/tenant", web::post().to(pages::choose_tenant))
            .route("/chats", web::get().to(pages::chats))
            .route("/chats/new", web::get().to(pages::new_sms_page))
            .route("/chats/new", web::post().to(pages::send_sms))
            .route("/chats/{id}", web::get().to(pages::conversation))
            .route("/chats/{id}/reply", web::post().to(pages::reply))
            .route("/chats/{id}/assign", web::post().to(pages::assign))
            .route("/chats/{id}/end", web::post().to(pages::end))
            .route("/live", web::get().to(live::events))
            .route("/invitations/{token}", web::get().to(pages::invitation_page))
            .route("/invitations/{token}", web::post().to(pages::accept_invitation))
            .route("/static/{name}", web::get().to(assets::serve))
            .default_service(web::to(pages::not_found)),
    );
}
