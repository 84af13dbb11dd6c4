//! What the pages show, prepared for the templates: every value is text or a flag here, so the
//! templates only lay it out. The templates are compiled into the binary.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use askama::Template;
use chrono::NaiveDateTime;
use sms_service::console::{Role, Viewer};

pub mod chats;
pub mod manage;

pub use chats::*;

/// The asset version in links, so a new binary's files are fetched again.
pub const ASSET_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Renders a page or a fragment: HTML, never cached.
pub fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "a console template failed to render");
            HttpResponse::InternalServerError().content_type("text/html; charset=utf-8").body("internal error")
        }
    }
}

/// The frame around every page: who is signed in, the navigation, the live state.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub title: String,
    pub signed_in: bool,
    pub who: String,
    pub role: String,
    pub tenant: String,
    pub csrf: String,
    pub operator: bool,
    /// Runs the tenant: a supervisor or an operator.
    pub supervisor: bool,
    pub has_tenant: bool,
    /// The page listens for live changes: `list`, `conversation` (with `chat`) or empty.
    pub live: String,
    pub chat: i64,
    pub version: &'static str,
    /// Which navigation item is current.
    pub current: &'static str,
}

impl Chrome {
    pub fn new(title: &str, viewer: Option<&Viewer>, current: &'static str) -> Self {
        let mut chrome = Self { title: title.to_owned(), version: ASSET_VERSION, current, ..Self::default() };
        if let Some(v) = viewer {
            chrome.signed_in = true;
            chrome.who = match &v.agent {
                Some(agent) => agent.name.clone(),
                None => "Operator".into(),
            };
            chrome.role = v.role.as_str().to_owned();
            chrome.tenant = v.tenant.as_ref().map(|t| t.name.clone()).unwrap_or_default();
            chrome.csrf = v.csrf.clone();
            chrome.operator = v.role == Role::Operator;
            chrome.supervisor = v.sees_all();
            chrome.has_tenant = v.tenant.is_some();
        }
        chrome
    }

    pub fn live(mut self, kind: &str, chat: i64) -> Self {
        self.live = kind.to_owned();
        self.chat = chat;
        self
    }
}

/// A time as the pages show it: in UTC on the server, turned into the viewer's own zone by the
/// page's script (the `datetime` attribute is exact).
#[derive(Debug, Clone, Default)]
pub struct Moment {
    pub iso: String,
    pub text: String,
}

impl Moment {
    pub fn of(at: NaiveDateTime) -> Self {
        Self {
            iso: format!("{}Z", at.format("%Y-%m-%dT%H:%M:%S")),
            text: format!("{} UTC", at.format("%Y-%m-%d %H:%M")),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub chrome: Chrome,
    pub message: String,
}

impl ErrorPage {
    pub fn new(viewer: Option<&Viewer>, status: StatusCode, message: &str) -> Self {
        let title = status.canonical_reason().unwrap_or("Error");
        Self { chrome: Chrome::new(title, viewer, ""), message: message.to_owned() }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub chrome: Chrome,
    pub failed: bool,
    pub notice: String,
    pub subdomain: String,
    pub email: String,
}

#[derive(Template)]
#[template(path = "tenant.html")]
pub struct TenantPage {
    pub chrome: Chrome,
    pub tenants: Vec<(String, String, bool)>,
}

#[derive(Template)]
#[template(path = "invitation.html")]
pub struct InvitationPage {
    pub chrome: Chrome,
    pub name: String,
    pub email: String,
    pub subdomain: String,
    pub error: String,
    pub min: usize,
    pub max: usize,
}

/// A choice of a `<select>`.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub(crate) fn choices(pairs: &[(&str, &str)], current: &str) -> Vec<Choice> {
    pairs
        .iter()
        .map(|(value, label)| Choice { value: (*value).into(), label: (*label).into(), selected: *value == current })
        .collect()
}
