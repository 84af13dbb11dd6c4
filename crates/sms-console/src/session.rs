//! The console's session cookie and the checks every request passes: who is signed in, and
//! for a change, its CSRF token.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use sms_service::console::Viewer;
use sms_service::Service;

use crate::views::ErrorPage;

/// The cookie that carries the session token.
pub const COOKIE: &str = "sms_console";

/// A console page's fault: rendered as a page with the status and the workflow's message.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
    /// Who sees the page, for its frame (boxed: a viewer is large).
    pub viewer: Option<Box<Viewer>>,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), viewer: None }
    }

    pub fn forbidden(message: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn for_viewer(mut self, viewer: &Viewer) -> Self {
        self.viewer = Some(Box::new(viewer.clone()));
        self
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<sms_service::ServiceError> for PageError {
    /// The API's own status and message.
    fn from(e: sms_service::ServiceError) -> Self {
        let api = sms_http::error::ApiError::from(e);
        Self::new(api.status(), api.message().to_owned())
    }
}

impl actix_web::ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        crate::views::render(self.status, &ErrorPage::new(self.viewer.as_deref(), self.status, &self.message))
    }
}

pub type PageResult = Result<HttpResponse, PageError>;

/// The session token the request's cookie carries.
pub fn token(req: &HttpRequest) -> Option<String> {
    req.cookie(COOKIE).map(|c| c.value().to_owned()).filter(|t| !t.is_empty() && t.len() <= 128)
}

/// Who is signed in, if anyone.
pub async fn viewer(req: &HttpRequest, state: &web::Data<Service>) -> Result<Option<Viewer>, PageError> {
    match token(req) {
        Some(token) => Ok(state.console_session(&token).await?),
        None => Ok(None),
    }
}

/// Whether the request comes from a script of the page (a partial update), which is answered
/// 401 rather than sent to the sign-in page.
pub fn is_partial(req: &HttpRequest) -> bool {
    req.headers().contains_key("x-console-fragment")
}

/// Sends a browser that is not signed in to the sign-in page.
pub fn to_sign_in(req: &HttpRequest) -> HttpResponse {
    if is_partial(req) {
        return HttpResponse::Unauthorized().content_type("text/html; charset=utf-8").body("signed out");
    }
    see_other("/console/login")
}

/// `303 See Other` to `location`.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}

/// Refuses a change without the session's CSRF token (403), or sent from another origin.
pub fn check_csrf(req: &HttpRequest, viewer: &Viewer, presented: &str) -> Result<(), PageError> {
    let same_origin = match req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        None => true,
        Some(origin) => {
            let host = req.connection_info().host().to_owned();
            origin.split_once("://").is_some_and(|(_, rest)| rest == host)
        }
    };
    if same_origin && constant_time_eq(presented.as_bytes(), viewer.csrf.as_bytes()) {
        Ok(())
    } else {
        Err(PageError::forbidden(
            "This form has expired or did not come from this console. Reload the page and try again.",
        )
        .for_viewer(viewer))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session cookie: `HttpOnly`, `SameSite=Strict`, `Path=/console`, `Secure` when the
/// service's public URL is `https`.
pub fn cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE, value).path("/console").http_only(true).same_site(SameSite::Strict).secure(secure).finish()
}

/// The cookie that removes the session cookie.
pub fn removal(secure: bool) -> Cookie<'static> {
    let mut c = cookie(String::new(), secure);
    c.make_removal();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_has_its_attributes() {
        let c = cookie("t".into(), true).to_string();
        for part in ["sms_console=t", "HttpOnly", "SameSite=Strict", "Path=/console", "Secure"] {
            assert!(c.contains(part), "{c} lacks {part}");
        }
        assert!(!cookie("t".into(), false).to_string().contains("Secure"));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
