//! A tenant's agents.

use actix_web::{get, patch, post, put, web, HttpRequest, HttpResponse};
use sms_domain::admin::{AgentDraft, AgentUpdate};
use sms_domain::AgentId;
use sms_service::Service;

use super::super::{page, path_id, query};
use crate::auth::AdminAuth;
use crate::body::JsonBody;
use crate::error::{ApiError, ErrorBody};
use crate::wire::agents::{AgentCreate, AgentOut, AgentPatch, InvitationOut, PasswordSet};
use sms_service::PageQuery;

/// Adds an agent to the tenant.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    request_body = AgentCreate,
    responses(
        (status = 201, description = "Created.", body = AgentOut),
        (status = 400, description = "Invalid fields.", body = ErrorBody, example = json!({"message": "email is invalid"})),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
        (status = 409, description = "The tenant has an agent with this e-mail.", body = ErrorBody, example = json!({"message": "an agent with this email already exists"})),
    ),
    security(("bearer" = []))
)]
#[post("/admin/v1/tenants/{subdomain}/agents")]
pub async fn create_agent(
    _: AdminAuth,
    state: web::Data<Service>,
    subdomain: web::Path<String>,
    body: JsonBody<AgentCreate>,
) -> Result<HttpResponse, ApiError> {
    let agent = state.add_agent(&subdomain, AgentDraft::try_from(body.0)?).await?;
    Ok(HttpResponse::Created().json(AgentOut::from(&agent)))
}

/// Lists the tenant's agents.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain."), PageQuery),
    responses(
        (status = 200, description = "A page of agents.", body = Vec<AgentOut>, headers(("X-Total-Count" = i64, description = "Items over all pages."))),
        (status = 400, description = "Paging out of range.", body = ErrorBody, example = json!({"message": "per must be an integer from 1 to 100"})),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[get("/admin/v1/tenants/{subdomain}/agents")]
pub async fn list_agents(
    _: AdminAuth,
    req: HttpRequest,
    state: web::Data<Service>,
    subdomain: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(page(&state.agents(&subdomain, &query::<PageQuery>(&req)?).await?, AgentOut::from))
}

/// Reads an agent of the tenant.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The agent's id."),
    ),
    responses(
        (status = 200, description = "The agent.", body = AgentOut),
        (status = 404, description = "No such tenant or agent.", body = ErrorBody, example = json!({"message": "agent not found"})),
    ),
    security(("bearer" = []))
)]
#[get("/admin/v1/tenants/{subdomain}/agents/{id}")]
pub async fn get_agent(
    _: AdminAuth,
    state: web::Data<Service>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(AgentOut::from(&state.agent(&path.0, path_id::<AgentId>(&path.1, "agent")?).await?)))
}

/// Changes an agent; `{"status": "deactivated"}` deactivates it.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The agent's id."),
    ),
    request_body = AgentPatch,
    responses(
        (status = 200, description = "The agent as changed.", body = AgentOut),
        (status = 400, description = "Invalid fields.", body = ErrorBody, example = json!({"message": "status must be \"active\" or \"deactivated\""})),
        (status = 404, description = "No such tenant or agent.", body = ErrorBody, example = json!({"message": "agent not found"})),
        (status = 409, description = "The new e-mail is taken.", body = ErrorBody, example = json!({"message": "an agent with this email already exists"})),
    ),
    security(("bearer" = []))
)]
#[patch("/admin/v1/tenants/{subdomain}/agents/{id}")]
pub async fn patch_agent(
    _: AdminAuth,
    state: web::Data<Service>,
    path: web::Path<(String, String)>,
    body: JsonBody<AgentPatch>,
) -> Result<HttpResponse, ApiError> {
    let update = AgentUpdate::try_from(body.0)?;
    let agent = state.update_agent(&path.0, path_id::<AgentId>(&path.1, "agent")?, update).await?;
    Ok(HttpResponse::Ok().json(AgentOut::from(&agent)))
}

/// Sets the agent's console password: its console sessions end at once.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The agent's id."),
    ),
    request_body = PasswordSet,
    responses(
        (status = 204, description = "Set."),
        (status = 400, description = "The password is not 12 to 128 characters.", body = ErrorBody, example = json!({"message": "password is invalid"})),
        (status = 404, description = "No such tenant or agent.", body = ErrorBody, example = json!({"message": "agent not found"})),
    ),
    security(("bearer" = []))
)]
#[put("/admin/v1/tenants/{subdomain}/agents/{id}/password")]
pub async fn set_agent_password(
    _: AdminAuth,
    state: web::Data<Service>,
    path: web::Path<(String, String)>,
    body: JsonBody<PasswordSet>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id::<AgentId>(&path.1, "agent")?;
    state.set_agent_password(&path.0, id, body.0.password).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Invites the agent to the console: a one-time link, valid 72 hours, where it chooses its
/// password.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The agent's id."),
    ),
    responses(
        (status = 201, description = "The link, shown once.", body = InvitationOut),
        (status = 404, description = "No such tenant or agent.", body = ErrorBody, example = json!({"message": "agent not found"})),
    ),
    security(("bearer" = []))
)]
#[post("/admin/v1/tenants/{subdomain}/agents/{id}/invitation")]
pub async fn invite_agent(
    _: AdminAuth,
    state: web::Data<Service>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let invitation = state.invite_agent(&path.0, path_id::<AgentId>(&path.1, "agent")?).await?;
    Ok(HttpResponse::Created().json(InvitationOut::from(invitation)))
}
