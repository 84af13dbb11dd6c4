//! The tenant's agents: add, invite (the link shown once), make supervisor, deactivate.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use serde::Deserialize;
use sms_service::console::Viewer;
use sms_service::Service;

use super::params;
use super::{refused, CsrfOnly};
use crate::session::{see_other, PageError, PageResult};
use crate::views::manage::{AgentForm, AgentRow, AgentsPage, Pager, ShownOncePage};
use crate::views::render;
use crate::views::Chrome;
use sms_domain::admin::{AgentChangeInput, AgentInput};
use sms_domain::AgentId;
use sms_service::console::{console_page, CONSOLE_PER_PAGE};

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
