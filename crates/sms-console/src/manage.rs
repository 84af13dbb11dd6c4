//! The supervisors' and operators' pages: opt-outs, settings, numbers, agents, webhooks and
//! tenants. Each action is the admin API's workflow for the tenant the viewer runs; the
//! viewer's role is checked by the application (`Viewer::supervised`, `require_operator`), and
//! a refusal shows the API's own message.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use serde::Deserialize;
use sms_domain::admin::{AdminInputError, AgentChangeInput, AgentInput, TenantInput};
use sms_domain::events::{EndpointCreate, EndpointPatch};
use sms_domain::{AgentId, DeliveryId, EndpointId, NumberId};
use sms_service::admin::DeliveryPage;
use sms_service::console::{console_page, Viewer, CONSOLE_PER_PAGE};
use sms_service::Service;

use crate::session::{check_csrf, see_other, PageError, PageResult};
use crate::views::manage::{
    event_choices, quiet_windows, AgentForm, AgentRow, AgentsPage, DeliveryView, EndpointRow, NumberRemovePage,
    NumberRow, NumbersPage, OptOutRow, OptOutsPage, Pager, SettingsForm, SettingsPage, ShownOncePage, TenantRow,
    TenantsPage, WebhookPage, WebhooksPage,
};
use crate::views::{render, Choice, Chrome};

/// The viewer's fault as a page in its frame.
fn refused(viewer: &Viewer) -> impl Fn(sms_service::ServiceError) -> PageError + '_ {
    move |e| PageError::from(e).for_viewer(viewer)
}

/// The form's pairs (a name may repeat: the event types).
fn pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
}

fn all<'a>(pairs: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = String> + 'a {
    pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.clone())
}

#[derive(Debug, Default, Deserialize)]
pub struct PageParam {
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    q: Option<String>,
}

impl PageParam {
    fn number(&self) -> i64 {
        self.page.as_deref().and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(1)
    }
}

fn params(req: &HttpRequest) -> PageParam {
    serde_urlencoded::from_str(req.query_string()).unwrap_or_default()
}

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
    csrf: String,
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

// --- Agents ---

async fn agents_view(
    state: &Service,
    viewer: &Viewer,
    page: i64,
    form: AgentForm,
    error: (StatusCode, String),
) -> PageResult {
    let subdomain = viewer.supervised().map_err(refused(viewer))?.to_owned();
    let (agents, total) = state.agents(&subdomain, &console_page(page)).await.map_err(refused(viewer))?;
    let form = AgentForm { csrf: viewer.csrf.clone(), ..form };
    let view = AgentsPage {
        chrome: Chrome::new("Agents", Some(viewer), "agents"),
        rows: agents.iter().map(AgentRow::from).collect(),
        pager: Pager::new("/console/agents?", page, CONSOLE_PER_PAGE, agents.len(), total),
        form,
        error: error.1,
    };
    Ok(render(error.0, &view))
}

pub async fn agents(req: HttpRequest, state: web::Data<Service>) -> PageResult {
    let viewer = signed_in!(req, state);
    agents_view(&state, &viewer, params(&req).number(), AgentForm::default(), (StatusCode::OK, String::new())).await
}

pub async fn add_agent(req: HttpRequest, state: web::Data<Service>, form: web::Form<AgentForm>) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    let form = form.into_inner();
    let input = AgentInput {
        email: Some(form.email.clone()),
        first_name: Some(form.first_name.clone()),
        last_name: Some(form.last_name.clone()),
        ..AgentInput::default()
    };
    let outcome = match input.into_draft() {
        Ok(draft) => state.add_agent(&subdomain, draft).await,
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(_) => Ok(see_other("/console/agents")),
        Err(e) => {
            let e = PageError::from(e);
            agents_view(&state, &viewer, 1, form, (e.status, e.message)).await
        }
    }
}

#[derive(Deserialize)]
pub struct AgentAction {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
}

fn agent_id(raw: &str) -> Result<AgentId, PageError> {
    raw.parse::<i64>().ok().map(AgentId::new).ok_or_else(|| PageError::new(StatusCode::NOT_FOUND, "agent not found"))
}

pub async fn change_agent(
    req: HttpRequest,
    state: web::Data<Service>,
    id: web::Path<String>,
    form: web::Form<AgentAction>,
) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    let id = agent_id(&id).map_err(|e| e.for_viewer(&viewer))?;
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    let (status, console_role) = match form.action.as_str() {
        "deactivate" => (Some("deactivated"), None),
        "activate" => (Some("active"), None),
        "supervisor" => (None, Some("supervisor")),
        "agent" => (None, Some("agent")),
        _ => return Err(PageError::new(StatusCode::BAD_REQUEST, "unknown action").for_viewer(&viewer)),
    };
    let change = AgentChangeInput {
        status: status.map(str::to_owned),
        console_role: console_role.map(str::to_owned),
        ..AgentChangeInput::default()
    };
    let update = change.into_update().map_err(|e| PageError::from(sms_service::ServiceError::from(e)))?;
    state.update_agent(&subdomain, id, update).await.map_err(refused(&viewer))?;
    Ok(see_other("/console/agents"))
}

pub async fn invite_agent(
    req: HttpRequest,
    state: web::Data<Service>,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    let id = agent_id(&id).map_err(|e| e.for_viewer(&viewer))?;
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    let agent = state.agent(&subdomain, id).await.map_err(refused(&viewer))?;
    let invitation = state.invite_agent(&subdomain, id).await.map_err(refused(&viewer))?;
    let page = ShownOncePage {
        chrome: Chrome::new("Invitation", Some(&viewer), "agents"),
        heading: format!("Invitation for {}", agent.name),
        label: "One-time link".into(),
        value: invitation.url,
        details: format!(
            "Send it to {}. It works once, until {}, for choosing a console password.",
            agent.email,
            crate::views::Moment::of(invitation.expires_at).text
        ),
        back: "/console/agents".into(),
        back_label: "Back to the agents".into(),
    };
    Ok(render(StatusCode::OK, &page))
}

// --- Webhooks ---

fn formats(selected: &str) -> Vec<Choice> {
    [("standard", "Standard Webhooks"), ("ccai", "CCAI Platform")]
        .iter()
        .map(|(v, l)| Choice { value: (*v).into(), label: (*l).into(), selected: *v == selected })
        .collect()
}

async fn webhooks_view(state: &Service, viewer: &Viewer, url: String, error: (StatusCode, String)) -> PageResult {
    let subdomain = viewer.supervised().map_err(refused(viewer))?.to_owned();
    let (endpoints, _) = state.webhooks(&subdomain, &console_page(1)).await.map_err(refused(viewer))?;
    let all = sms_domain::EventType::SUBSCRIBABLE.map(|t| t.as_str()).join(" ");
    let page = WebhooksPage {
        chrome: Chrome::new("Webhooks", Some(viewer), "webhooks"),
        rows: endpoints.iter().map(EndpointRow::from).collect(),
        events: event_choices(&all),
        formats: formats("standard"),
        url,
        error: error.1,
    };
    Ok(render(error.0, &page))
}

pub async fn webhooks(req: HttpRequest, state: web::Data<Service>) -> PageResult {
    let viewer = signed_in!(req, state);
    webhooks_view(&state, &viewer, String::new(), (StatusCode::OK, String::new())).await
}

pub async fn create_webhook(req: HttpRequest, state: web::Data<Service>, body: web::Bytes) -> PageResult {
    let viewer = signed_in!(req, state);
    let form = pairs(&body);
    check_csrf(&req, &viewer, field(&form, "csrf"))?;
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    let create = EndpointCreate {
        url: Some(field(&form, "url").to_owned()),
        events: Some(all(&form, "events").collect()),
        description: None,
        disabled: None,
        format: Some(field(&form, "format").to_owned()).filter(|f| !f.is_empty()),
    };
    let outcome = match create.into_draft() {
        Ok(draft) => state.create_webhook(&subdomain, draft).await,
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(endpoint) => {
            let page = ShownOncePage {
                chrome: Chrome::new("Endpoint created", Some(&viewer), "webhooks"),
                heading: format!("Endpoint {}", endpoint.url),
                label: "Signing secret".into(),
                value: endpoint.secret.clone(),
                details: "Give it to the receiver: it checks each delivery's signature with it.".into(),
                back: format!("/console/webhooks/{}", endpoint.id),
                back_label: "Open the endpoint".into(),
            };
            Ok(render(StatusCode::CREATED, &page))
        }
        Err(e) => {
            let e = PageError::from(e);
            webhooks_view(&state, &viewer, field(&form, "url").to_owned(), (e.status, e.message)).await
        }
    }
}

fn endpoint_id(raw: &str) -> Result<EndpointId, PageError> {
    raw.parse::<i64>()
        .ok()
        .map(EndpointId::new)
        .ok_or_else(|| PageError::new(StatusCode::NOT_FOUND, "webhook not found"))
}

async fn webhook_view(
    req: &HttpRequest,
    state: &Service,
    viewer: &Viewer,
    id: EndpointId,
    (status, error, notice): (StatusCode, String, &str),
) -> PageResult {
    let subdomain = viewer.supervised().map_err(refused(viewer))?.to_owned();
    let endpoint = state.webhook(&subdomain, id).await.map_err(refused(viewer))?;
    let param = params(req);
    let filter = param.status.clone().filter(|s| !s.is_empty());
    let page = param.number();
    let query =
        DeliveryPage { status: filter.clone(), page: Some(page.to_string()), per: Some(CONSOLE_PER_PAGE.to_string()) };
    let (rows, total) = state.webhook_deliveries(&subdomain, id, &query).await.map_err(refused(viewer))?;
    let current = filter.clone().unwrap_or_default();
    let statuses = [("", "Any status"), ("pending", "Pending"), ("delivered", "Delivered"), ("failed", "Failed")]
        .iter()
        .map(|(v, l)| Choice { value: (*v).into(), label: (*l).into(), selected: *v == current })
        .collect();
    let base = match &filter {
        Some(s) => format!("/console/webhooks/{id}?status={s}&"),
        None => format!("/console/webhooks/{id}?"),
    };
    let view = WebhookPage {
        chrome: Chrome::new(&format!("Endpoint {}", endpoint.url), Some(viewer), "webhooks"),
        events: event_choices(&endpoint.events),
        endpoint: EndpointRow::from(&endpoint),
        statuses,
        deliveries: rows.iter().map(|(d, _, kind)| DeliveryView::new(d, kind)).collect(),
        pager: Pager::new(&base, page, CONSOLE_PER_PAGE, rows.len(), total),
        error,
        notice: notice.into(),
    };
    Ok(render(status, &view))
}

pub async fn webhook(req: HttpRequest, state: web::Data<Service>, id: web::Path<String>) -> PageResult {
    let viewer = signed_in!(req, state);
    let id = endpoint_id(&id).map_err(|e| e.for_viewer(&viewer))?;
    let notice = match params(&req).notice.as_deref() {
        Some("saved") => "Endpoint saved.",
        Some("tested") => "A webhook.test event is on its way: it is listed below.",
        Some("retried") => "The delivery goes out again now.",
        _ => "",
    };
    webhook_view(&req, &state, &viewer, id, (StatusCode::OK, String::new(), notice)).await
}

pub async fn update_webhook(
    req: HttpRequest,
    state: web::Data<Service>,
    id: web::Path<String>,
    body: web::Bytes,
) -> PageResult {
    let viewer = signed_in!(req, state);
    let form = pairs(&body);
    check_csrf(&req, &viewer, field(&form, "csrf"))?;
    let id = endpoint_id(&id).map_err(|e| e.for_viewer(&viewer))?;
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    let patch = EndpointPatch {
        url: Some(field(&form, "url").to_owned()),
        events: Some(all(&form, "events").collect()),
        description: Some(field(&form, "description").to_owned()),
        disabled: Some(field(&form, "disabled") == "true"),
        format: None,
    };
    let outcome = match patch.into_update() {
        Ok(draft) => state.update_webhook(&subdomain, id, draft).await,
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(_) => Ok(see_other(&format!("/console/webhooks/{id}?notice=saved"))),
        Err(e) => {
            let e = PageError::from(e);
            if e.status != StatusCode::BAD_REQUEST {
                return Err(e.for_viewer(&viewer));
            }
            webhook_view(&req, &state, &viewer, id, (e.status, e.message, "")).await
        }
    }
}

pub async fn rotate_webhook(
    req: HttpRequest,
    state: web::Data<Service>,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    let id = endpoint_id(&id).map_err(|e| e.for_viewer(&viewer))?;
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    let secret = state.rotate_webhook_secret(&subdomain, id).await.map_err(refused(&viewer))?;
    let endpoint = state.webhook(&subdomain, id).await.map_err(refused(&viewer))?;
    let until = endpoint.previous_secret_until.map(|at| crate::views::Moment::of(at).text).unwrap_or_default();
    let page = ShownOncePage {
        chrome: Chrome::new("Secret rotated", Some(&viewer), "webhooks"),
        heading: format!("New secret for {}", endpoint.url),
        label: "Signing secret".into(),
        value: secret,
        details: format!(
            "The previous secret still signs every delivery until {until}: switch the receiver before then."
        ),
        back: format!("/console/webhooks/{id}"),
        back_label: "Back to the endpoint".into(),
    };
    Ok(render(StatusCode::OK, &page))
}

pub async fn test_webhook(
    req: HttpRequest,
    state: web::Data<Service>,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    let id = endpoint_id(&id).map_err(|e| e.for_viewer(&viewer))?;
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    state.test_webhook(&subdomain, id).await.map_err(refused(&viewer))?;
    Ok(see_other(&format!("/console/webhooks/{id}?notice=tested")))
}

pub async fn retry_delivery(
    req: HttpRequest,
    state: web::Data<Service>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    let id = endpoint_id(&path.0).map_err(|e| e.for_viewer(&viewer))?;
    let delivery = path
        .1
        .parse::<i64>()
        .ok()
        .map(DeliveryId::new)
        .ok_or_else(|| PageError::new(StatusCode::NOT_FOUND, "delivery not found").for_viewer(&viewer))?;
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    state.retry_webhook_delivery(&subdomain, id, delivery).await.map_err(refused(&viewer))?;
    Ok(see_other(&format!("/console/webhooks/{id}?notice=retried")))
}

// --- Tenants (operators) ---

async fn tenants_view(
    state: &Service,
    viewer: &Viewer,
    q: &str,
    draft: (String, String),
    error: (StatusCode, String),
) -> PageResult {
    let tenants = state.console_tenants(viewer, q).await.map_err(refused(viewer))?;
    let current = viewer.tenant.as_ref().map(|t| t.id);
    let page = TenantsPage {
        chrome: Chrome::new("Tenants", Some(viewer), "tenants"),
        rows: tenants
            .iter()
            .map(|t| TenantRow {
                subdomain: t.subdomain.clone(),
                name: t.name.clone(),
                active: t.active,
                current: Some(t.id) == current,
            })
            .collect(),
        q: q.to_owned(),
        subdomain: draft.0,
        name: draft.1,
        error: error.1,
    };
    Ok(render(error.0, &page))
}

pub async fn tenants(req: HttpRequest, state: web::Data<Service>) -> PageResult {
    let viewer = signed_in!(req, state);
    let q = params(&req).q.unwrap_or_default();
    tenants_view(&state, &viewer, &q, Default::default(), (StatusCode::OK, String::new())).await
}

#[derive(Deserialize)]
pub struct TenantForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    subdomain: String,
    #[serde(default)]
    name: String,
}

pub async fn create_tenant(req: HttpRequest, state: web::Data<Service>, form: web::Form<TenantForm>) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    viewer.require_operator().map_err(refused(&viewer))?;
    let form = form.into_inner();
    let input = TenantInput {
        subdomain: Some(form.subdomain.clone()),
        name: Some(form.name.clone()),
        ..TenantInput::default()
    };
    let outcome = match input.into_draft() {
        Ok(draft) => state.create_tenant(draft).await,
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(_) => Ok(see_other("/console/tenants")),
        Err(e) => {
            let e = PageError::from(e);
            tenants_view(&state, &viewer, "", (form.subdomain, form.name), (e.status, e.message)).await
        }
    }
}

#[derive(Deserialize)]
pub struct ActiveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    active: String,
}

pub async fn set_tenant_active(
    req: HttpRequest,
    state: web::Data<Service>,
    subdomain: web::Path<String>,
    form: web::Form<ActiveForm>,
) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    viewer.require_operator().map_err(refused(&viewer))?;
    let input = TenantInput { active: Some(form.active == "true"), ..TenantInput::default() };
    let update = input.into_update().map_err(|e| PageError::from(sms_service::ServiceError::from(e)))?;
    state.update_tenant(&subdomain, update).await.map_err(refused(&viewer))?;
    Ok(see_other("/console/tenants"))
}
