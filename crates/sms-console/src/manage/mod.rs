//! The supervisors' and operators' pages: opt-outs, settings, numbers, agents, webhooks and
//! tenants. Each action is the admin API's workflow for the tenant the viewer runs; the
//! viewer's role is checked by the application (`Viewer::supervised`, `require_operator`), and
//! a refusal shows the API's own message.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use serde::Deserialize;
use sms_domain::admin::{AdminInputError, TenantInput};
use sms_domain::NumberId;
use sms_service::console::{Viewer, CONSOLE_PER_PAGE};
use sms_service::Service;

use crate::session::{check_csrf, see_other, PageError, PageResult};
use crate::views::manage::{
    quiet_windows, NumberRemovePage, NumberRow, NumbersPage, OptOutRow, OptOutsPage, Pager, SettingsForm, SettingsPage,
};
use crate::views::{render, Chrome};

/// The viewer's fault as a page in its frame.
pub(crate) fn refused(viewer: &Viewer) -> impl Fn(sms_service::ServiceError) -> PageError + '_ {
    move |e| PageError::from(e).for_viewer(viewer)
}

/// The form's pairs (a name may repeat: the event types).
pub(crate) fn pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

pub(crate) fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
}

pub(crate) fn all<'a>(pairs: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = String> + 'a {
    pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.clone())
}

#[derive(Debug, Default, Deserialize)]
pub struct PageParam {
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    pub(crate) notice: Option<String>,
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default)]
    pub(crate) q: Option<String>,
}

impl PageParam {
    pub(crate) fn number(&self) -> i64 {
        self.page.as_deref().and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(1)
    }
}

pub(crate) fn params(req: &HttpRequest) -> PageParam {
    serde_urlencoded::from_str(req.query_string()).unwrap_or_default()
}

mod agents;
mod tenants;
mod webhooks;

pub use agents::{add_agent, agents, change_agent, invite_agent};
pub use tenants::{create_tenant, set_tenant_active, tenants};
pub use webhooks::{create_webhook, retry_delivery, rotate_webhook, test_webhook, update_webhook, webhook, webhooks};

// --- Opt-outs ---

pub async fn opt_outs(req: HttpRequest, state: web::Data<Service>) -> PageResult {
    let viewer = signed_in!(req, state);
    let param = params(&req);
    let page = param.number();
    let (list, total) = state.console_opt_outs(&viewer, page).await.map_err(refused(&viewer))?;
    let notice = match param.notice.as_deref() {
        Some("lifted") => "The opt-out is lifted: the number can be texted again.",
        _ => "",
    };
    let page_view = OptOutsPage {
        chrome: Chrome::new("Opt-outs", Some(&viewer), "opt-outs"),
        rows: list.iter().map(OptOutRow::from).collect(),
        pager: Pager::new("/console/opt-outs?", page, CONSOLE_PER_PAGE, list.len(), total),
        may_lift: viewer.sees_all(),
        notice: notice.into(),
    };
    Ok(render(StatusCode::OK, &page_view))
}

pub async fn opt_outs_csv(req: HttpRequest, state: web::Data<Service>) -> PageResult {
    let viewer = signed_in!(req, state);
    let lines = state.console_opt_outs_csv(&viewer).map_err(refused(&viewer))?;
    let name = viewer.tenant.as_ref().map(|t| t.subdomain.clone()).unwrap_or_default();
    Ok(sms_http::handlers::admin::csv_response(&format!("opt-outs-{name}.csv"), lines))
}

#[derive(Deserialize)]
pub struct LiftForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    number: String,
}

pub async fn lift(req: HttpRequest, state: web::Data<Service>, form: web::Form<LiftForm>) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    state.remove_opt_out(&subdomain, &form.number).await.map_err(refused(&viewer))?;
    Ok(see_other("/console/opt-outs?notice=lifted"))
}

// --- Settings ---

fn settings_view(viewer: &Viewer, form: SettingsForm, error: String, notice: &str) -> SettingsPage {
    let tenant = viewer.tenant.as_ref();
    let quiet = tenant.and_then(|t| {
        sms_domain::QuietHours::from_settings(t.quiet_hours_start.as_deref(), t.quiet_hours_end.as_deref())
            .ok()
            .flatten()
    });
    SettingsPage {
        chrome: Chrome::new("Settings", Some(viewer), "settings"),
        form,
        windows: quiet_windows(quiet, chrono::Utc::now()),
        error,
        notice: notice.into(),
    }
}

pub async fn settings(req: HttpRequest, state: web::Data<Service>) -> PageResult {
    let viewer = signed_in!(req, state);
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    let tenant = state.tenant(&subdomain).await.map_err(refused(&viewer))?;
    let notice = if params(&req).notice.as_deref() == Some("saved") { "Settings saved." } else { "" };
    Ok(render(StatusCode::OK, &settings_view(&viewer, SettingsForm::from(&tenant), String::new(), notice)))
}

/// A text field as a change: empty clears it.
fn text(value: &str) -> Option<Option<String>> {
    Some(Some(value.to_owned()).filter(|v| !v.trim().is_empty()))
}

fn integer(value: &str, fault: AdminInputError) -> Result<i32, AdminInputError> {
    value.trim().parse().map_err(|_| fault)
}

fn settings_input(form: &SettingsForm) -> Result<TenantInput, AdminInputError> {
    Ok(TenantInput {
        help_text: text(&form.help_text),
        opt_out_text: text(&form.opt_out_text),
        opt_in_text: text(&form.opt_in_text),
        quiet_hours_start: text(&form.quiet_hours_start),
        quiet_hours_end: text(&form.quiet_hours_end),
        session_timeout_minutes: Some(integer(&form.session_timeout_minutes, AdminInputError::SessionTimeout)?),
        rate_limit_per_second: Some(integer(&form.rate_limit_per_second, AdminInputError::RatePerSecond)?),
        rate_limit_burst: Some(integer(&form.rate_limit_burst, AdminInputError::RateBurst)?),
        ..TenantInput::default()
    })
}

#[derive(Deserialize)]
pub struct SettingsPost {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    form: SettingsForm,
}

pub async fn save_settings(req: HttpRequest, state: web::Data<Service>, body: web::Bytes) -> PageResult {
    let viewer = signed_in!(req, state);
    let posted: SettingsPost = serde_urlencoded::from_bytes(&body)
        .map_err(|e| PageError::new(StatusCode::BAD_REQUEST, format!("The form could not be read: {e}")))?;
    check_csrf(&req, &viewer, &posted.csrf)?;
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    let update = settings_input(&posted.form).and_then(TenantInput::into_update);
    let outcome = match update {
        Ok(update) => state.update_tenant(&subdomain, update).await,
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(_) => Ok(see_other("/console/settings?notice=saved")),
        Err(e) => {
            let e = PageError::from(e);
            if e.status != StatusCode::BAD_REQUEST {
                return Err(e.for_viewer(&viewer));
            }
            Ok(render(StatusCode::BAD_REQUEST, &settings_view(&viewer, posted.form, e.message, "")))
        }
    }
}

// --- Numbers ---

async fn numbers_view(state: &Service, viewer: &Viewer, draft: String, error: (StatusCode, String)) -> PageResult {
    let loads = state.console_number_loads(viewer).await.map_err(refused(viewer))?;
    let page = NumbersPage {
        chrome: Chrome::new("Numbers", Some(viewer), "numbers"),
        rows: loads.iter().map(NumberRow::from).collect(),
        draft,
        error: error.1,
    };
    Ok(render(error.0, &page))
}

pub async fn numbers(req: HttpRequest, state: web::Data<Service>) -> PageResult {
    let viewer = signed_in!(req, state);
    numbers_view(&state, &viewer, String::new(), (StatusCode::OK, String::new())).await
}

#[derive(Deserialize)]
pub struct NumberForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    number: String,
}

pub async fn add_number(req: HttpRequest, state: web::Data<Service>, form: web::Form<NumberForm>) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    match state.add_outbound_number(&subdomain, Some(&form.number)).await {
        Ok(_) => Ok(see_other("/console/numbers")),
        Err(e) => {
            let e = PageError::from(e);
            numbers_view(&state, &viewer, form.into_inner().number, (e.status, e.message)).await
        }
    }
}

fn number_id(raw: &str) -> Result<NumberId, PageError> {
    raw.parse::<i64>()
        .ok()
        .map(NumberId::new)
        .ok_or_else(|| PageError::new(StatusCode::NOT_FOUND, "outbound number not found"))
}

pub async fn number_removal(req: HttpRequest, state: web::Data<Service>, id: web::Path<String>) -> PageResult {
    let viewer = signed_in!(req, state);
    let id = number_id(&id).map_err(|e| e.for_viewer(&viewer))?;
    let load = state.console_number_load(&viewer, id).await.map_err(refused(&viewer))?;
    let title = format!("Remove {}", load.number.number.as_str());
    let page = NumberRemovePage { chrome: Chrome::new(&title, Some(&viewer), "numbers"), row: NumberRow::from(&load) };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub(crate) csrf: String,
}

pub async fn remove_number(
    req: HttpRequest,
    state: web::Data<Service>,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    let id = number_id(&id).map_err(|e| e.for_viewer(&viewer))?;
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    state.remove_outbound_number(&subdomain, id).await.map_err(refused(&viewer))?;
    Ok(see_other("/console/numbers"))
}
