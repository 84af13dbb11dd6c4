//! The console (SPEC section 14): a web interface for agents, supervisors and operators,
//! served by the same binary under `/console/`.
//!
//! Another translator over the application crate, like `sms-http`: its handlers read a form
//! or a URL, call one workflow of `sms-service` for the signed-in viewer, and render a page
//! from templates compiled into the binary (askama). No rule lives here: scope, checks and
//! messages are the workflows'. Styles and the one small script are compiled in too, and every
//! page forbids any other origin and any inline script (its Content-Security-Policy).

/// The signed-in viewer; without one, the handler answers with the way to the sign-in page.
macro_rules! signed_in {
    ($req:expr, $state:expr) => {
        match crate::session::viewer(&$req, &$state).await? {
            Some(viewer) => viewer,
            None => return Ok(crate::session::to_sign_in(&$req)),
        }
    };
}

/// [`signed_in!`] for a change: the form must carry the session's CSRF token.
macro_rules! acting {
    ($req:expr, $state:expr, $csrf:expr) => {{
        let viewer = signed_in!($req, $state);
        crate::session::check_csrf(&$req, &viewer, $csrf)?;
        viewer
    }};
}

mod assets;
mod live;
mod manage;
mod pages;
mod session;
mod signin;
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
            .route("/login", web::get().to(signin::login_page))
            .route("/login", web::post().to(signin::login))
            .route("/logout", web::post().to(signin::logout))
            .route("/tenant", web::get().to(signin::tenant_page))
            .route("/tenant", web::post().to(signin::choose_tenant))
            .route("/chats", web::get().to(pages::chats))
            .route("/chats/new", web::get().to(pages::new_sms_page))
            .route("/chats/new", web::post().to(pages::send_sms))
            .route("/chats/{id}", web::get().to(pages::conversation))
            .route("/chats/{id}/reply", web::post().to(pages::reply))
            .route("/chats/{id}/assign", web::post().to(pages::assign))
            .route("/chats/{id}/end", web::post().to(pages::end))
            .route("/live", web::get().to(live::events))
            .route("/opt-outs", web::get().to(manage::opt_outs))
            .route("/opt-outs.csv", web::get().to(manage::opt_outs_csv))
            .route("/opt-outs/lift", web::post().to(manage::lift))
            .route("/settings", web::get().to(manage::settings))
            .route("/settings", web::post().to(manage::save_settings))
            .route("/numbers", web::get().to(manage::numbers))
            .route("/numbers", web::post().to(manage::add_number))
            .route("/numbers/{id}/remove", web::get().to(manage::number_removal))
            .route("/numbers/{id}/remove", web::post().to(manage::remove_number))
            .route("/agents", web::get().to(manage::agents))
            .route("/agents", web::post().to(manage::add_agent))
            .route("/agents/{id}", web::post().to(manage::change_agent))
            .route("/agents/{id}/invite", web::post().to(manage::invite_agent))
            .route("/webhooks", web::get().to(manage::webhooks))
            .route("/webhooks", web::post().to(manage::create_webhook))
            .route("/webhooks/{id}", web::get().to(manage::webhook))
            .route("/webhooks/{id}", web::post().to(manage::update_webhook))
            .route("/webhooks/{id}/rotate", web::post().to(manage::rotate_webhook))
            .route("/webhooks/{id}/test", web::post().to(manage::test_webhook))
            .route("/webhooks/{id}/deliveries/{delivery}/retry", web::post().to(manage::retry_delivery))
            .route("/tenants", web::get().to(manage::tenants))
            .route("/tenants", web::post().to(manage::create_tenant))
            .route("/tenants/{subdomain}", web::post().to(manage::set_tenant_active))
            .route("/invitations/{token}", web::get().to(signin::invitation_page))
            .route("/invitations/{token}", web::post().to(signin::accept_invitation))
            .route("/static/{name}", web::get().to(assets::serve))
            .default_service(web::to(pages::not_found)),
    );
}
