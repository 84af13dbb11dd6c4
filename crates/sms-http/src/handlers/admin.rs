//! The admin API under `/admin/v1` (SPEC section 4). Every handler takes [`AdminAuth`] first.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use sms_domain::admin::{self as rules, AdminInputError};
use sms_domain::time::now_millis;
use sms_domain::{E164Number, PhoneError};
use sms_store::{AgentChanges, DbConn, NewAgent, NewTenant, StoreError, Tenant, TenantChanges};

use super::parse_id;
use crate::auth::{self, AdminAuth};
use crate::body::JsonBody;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::wire::admin::*;

const MAX_NAME_CHARS: usize = 255;
const MAX_LANG_CHARS: usize = 35;
const MAX_URL_CHARS: usize = 2048;

impl From<AdminInputError> for ApiError {
    fn from(err: AdminInputError) -> Self {
        ApiError::bad_request(err.to_string())
    }
}

fn tenant_of(conn: &mut DbConn, subdomain: &str) -> Result<Tenant, ApiError> {
    sms_store::tenants::find_by_subdomain(conn, subdomain)?.ok_or_else(|| ApiError::not_found("tenant"))
}

/// Maps a unique-constraint refusal to 409 with `message`.
fn conflict_as(message: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::Conflict => ApiError::conflict(message),
        other => other.into(),
    }
}

fn optional_text(field: &'static str, value: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    value.map(|v| rules::check_text(field, Some(v), max)).transpose().map_err(Into::into)
}

// ---- tenants ----

/// Creates a tenant.
#[utoipa::path(
    tag = "admin",
    request_body = TenantCreate,
    responses(
        (status = 201, description = "Created.", body = TenantOut),
        (status = 400, description = "Invalid fields.", body = ErrorBody, example = json!({"message": "subdomain must be 1 to 63 characters of a-z, 0-9 and -"})),
        (status = 409, description = "The subdomain is taken.", body = ErrorBody, example = json!({"message": "tenant already exists"})),
    ),
    security(("bearer" = []))
)]
#[post("/admin/v1/tenants")]
pub async fn create_tenant(
    _: AdminAuth,
    state: web::Data<AppState>,
    body: JsonBody<TenantCreate>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let subdomain = input.subdomain.ok_or(AdminInputError::Required("subdomain"))?;
    rules::check_subdomain(&subdomain)?;
    let name = rules::check_text("name", input.name.as_deref(), MAX_NAME_CHARS)?;
    let lang =
        optional_text("lang", input.lang.as_deref(), MAX_LANG_CHARS)?.unwrap_or_else(|| rules::DEFAULT_LANG.into());
    let session_timeout_minutes = input.session_timeout_minutes.unwrap_or(rules::DEFAULT_SESSION_TIMEOUT_MINUTES);
    rules::check_session_timeout(session_timeout_minutes)?;
    let rate_limit_per_second = input.rate_limit_per_second.unwrap_or(rules::DEFAULT_RATE_LIMIT_PER_SECOND);
    let rate_limit_burst = input.rate_limit_burst.unwrap_or(rules::DEFAULT_RATE_LIMIT_BURST);
    rules::check_rate_limit(rate_limit_per_second, rate_limit_burst)?;
    let new = NewTenant {
        subdomain,
        name,
        lang,
        sms_enabled: input.sms_enabled.unwrap_or(true),
        outbound_sms_enabled: input.outbound_sms_enabled.unwrap_or(true),
        session_timeout_minutes,
        rate_limit_per_second,
        rate_limit_burst,
        created_at: now_millis(),
    };
    let tenant = state
        .db(move |conn| sms_store::tenants::create(conn, &new).map_err(conflict_as("tenant already exists")))
        .await?;
    Ok(HttpResponse::Created().json(TenantOut::from(&tenant)))
}

/// Lists tenants.
#[utoipa::path(
    tag = "admin",
    responses(
        (status = 200, description = "All tenants.", body = Vec<TenantOut>),
    ),
    security(("bearer" = []))
)]
#[get("/admin/v1/tenants")]
pub async fn list_tenants(_: AdminAuth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let tenants = state.db(|conn| Ok(sms_store::tenants::list(conn)?)).await?;
    Ok(HttpResponse::Ok().json(tenants.iter().map(TenantOut::from).collect::<Vec<_>>()))
}

/// Reads a tenant.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    responses(
        (status = 200, description = "The tenant.", body = TenantOut),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[get("/admin/v1/tenants/{subdomain}")]
pub async fn get_tenant(
    _: AdminAuth,
    state: web::Data<AppState>,
    subdomain: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let subdomain = subdomain.into_inner();
    let tenant = state.db(move |conn| tenant_of(conn, &subdomain)).await?;
    Ok(HttpResponse::Ok().json(TenantOut::from(&tenant)))
}

/// Changes a tenant's settings; `subdomain` cannot change.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    request_body = TenantPatch,
    responses(
        (status = 200, description = "The tenant as changed.", body = TenantOut),
        (status = 400, description = "Invalid fields, or a new subdomain.", body = ErrorBody, example = json!({"message": "subdomain cannot be changed"})),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[patch("/admin/v1/tenants/{subdomain}")]
pub async fn patch_tenant(
    _: AdminAuth,
    state: web::Data<AppState>,
    subdomain: web::Path<String>,
    body: JsonBody<TenantPatch>,
) -> Result<HttpResponse, ApiError> {
    let subdomain = subdomain.into_inner();
    let input = body.0;
    if input.subdomain.as_deref().is_some_and(|s| s != subdomain) {
        return Err(AdminInputError::SubdomainChange.into());
    }
    let changes = TenantChanges {
        name: optional_text("name", input.name.as_deref(), MAX_NAME_CHARS)?,
        lang: optional_text("lang", input.lang.as_deref(), MAX_LANG_CHARS)?,
        sms_enabled: input.sms_enabled,
        outbound_sms_enabled: input.outbound_sms_enabled,
        session_timeout_minutes: input.session_timeout_minutes,
        rate_limit_per_second: input.rate_limit_per_second,
        rate_limit_burst: input.rate_limit_burst,
    };
    if let Some(minutes) = changes.session_timeout_minutes {
        rules::check_session_timeout(minutes)?;
    }
    let updated = state
        .db(move |conn| {
            let tenant = tenant_of(conn, &subdomain)?;
            rules::check_rate_limit(
                changes.rate_limit_per_second.unwrap_or(tenant.rate_limit_per_second),
                changes.rate_limit_burst.unwrap_or(tenant.rate_limit_burst),
            )?;
            sms_store::tenants::update(conn, tenant.id, &changes)?.ok_or_else(|| ApiError::not_found("tenant"))
        })
        .await;
    // Also after a failure: whether the change committed is then unknown.
    state.tenants_changed().await;
    let tenant = updated?;
    Ok(HttpResponse::Ok().json(TenantOut::from(&tenant)))
}

// ---- API tokens ----

/// Issues an API token for the tenant; the token is in this answer only.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    responses(
        (status = 201, description = "The new token.", body = ApiTokenCreated),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[post("/admin/v1/tenants/{subdomain}/api-tokens")]
pub async fn create_api_token(
    _: AdminAuth,
    state: web::Data<AppState>,
    subdomain: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let subdomain = subdomain.into_inner();
    let (token, hash) = auth::new_api_token();
    let row = state
        .db(move |conn| {
            let tenant = tenant_of(conn, &subdomain)?;
            Ok(sms_store::tokens::create(conn, tenant.id, &hash, now_millis())?)
        })
        .await?;
    Ok(HttpResponse::Created().json(ApiTokenCreated {
        id: row.id,
        token,
        created_at: sms_domain::time::format_timestamp(row.created_at),
    }))
}

/// Lists the tenant's API tokens (never the tokens themselves).
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    responses(
        (status = 200, description = "The tokens.", body = Vec<ApiTokenOut>),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[get("/admin/v1/tenants/{subdomain}/api-tokens")]
pub async fn list_api_tokens(
    _: AdminAuth,
    state: web::Data<AppState>,
    subdomain: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let subdomain = subdomain.into_inner();
    let rows = state
        .db(move |conn| {
            let tenant = tenant_of(conn, &subdomain)?;
            Ok(sms_store::tokens::list(conn, tenant.id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(ApiTokenOut::from).collect::<Vec<_>>()))
}

/// Revokes an API token at once.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The token's id."),
    ),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, description = "No such tenant or token.", body = ErrorBody, example = json!({"message": "api token not found"})),
    ),
    security(("bearer" = []))
)]
#[delete("/admin/v1/tenants/{subdomain}/api-tokens/{id}")]
pub async fn revoke_api_token(
    _: AdminAuth,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (subdomain, id) = path.into_inner();
    let revoked = state
        .db(move |conn| {
            let tenant = tenant_of(conn, &subdomain)?;
            let id = parse_id(&id, "api token")?;
            if sms_store::tokens::revoke(conn, tenant.id, id, now_millis())? {
                Ok(())
            } else {
                Err(ApiError::not_found("api token"))
            }
        })
        .await;
    // A revoked token stops working at once, on every instance.
    state.tenants_changed().await;
    revoked?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- outbound numbers ----

/// Registers an outbound number for the tenant.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    request_body = OutboundNumberCreate,
    responses(
        (status = 201, description = "Registered.", body = OutboundNumberOut),
        (status = 400, description = "Missing, invalid or non-US number.", body = ErrorBody, example = json!({"message": "Non-US phone number not allowed"})),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
        (status = 409, description = "The number is registered already (by any tenant).", body = ErrorBody, example = json!({"message": "outbound number is already registered"})),
    ),
    security(("bearer" = []))
)]
#[post("/admin/v1/tenants/{subdomain}/outbound-numbers")]
pub async fn create_outbound_number(
    _: AdminAuth,
    state: web::Data<AppState>,
    subdomain: web::Path<String>,
    body: JsonBody<OutboundNumberCreate>,
) -> Result<HttpResponse, ApiError> {
    let subdomain = subdomain.into_inner();
    let raw = body.0.number.filter(|n| !n.trim().is_empty()).ok_or(AdminInputError::Required("number"))?;
    let number = E164Number::parse(&raw).map_err(|e| match e {
        PhoneError::Invalid => ApiError::bad_request("number is invalid"),
        PhoneError::NonUs => ApiError::bad_request("Non-US phone number not allowed"),
    })?;
    let row = state
        .db(move |conn| {
            let tenant = tenant_of(conn, &subdomain)?;
            sms_store::numbers::create(conn, tenant.id, &number, now_millis())
                .map_err(conflict_as("outbound number is already registered"))
        })
        .await?;
    Ok(HttpResponse::Created().json(OutboundNumberOut::from(&row)))
}

/// Lists the tenant's outbound numbers.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    responses(
        (status = 200, description = "The numbers.", body = Vec<OutboundNumberOut>),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[get("/admin/v1/tenants/{subdomain}/outbound-numbers")]
pub async fn list_outbound_numbers(
    _: AdminAuth,
    state: web::Data<AppState>,
    subdomain: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let subdomain = subdomain.into_inner();
    let rows = state
        .db(move |conn| {
            let tenant = tenant_of(conn, &subdomain)?;
            Ok(sms_store::numbers::list(conn, tenant.id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(OutboundNumberOut::from).collect::<Vec<_>>()))
}

/// Removes an outbound number from the tenant.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("id" = i64, Path, description = "The number's id."),
    ),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, description = "No such tenant or number.", body = ErrorBody, example = json!({"message": "outbound number not found"})),
    ),
    security(("bearer" = []))
)]
#[delete("/admin/v1/tenants/{subdomain}/outbound-numbers/{id}")]
pub async fn delete_outbound_number(
    _: AdminAuth,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (subdomain, id) = path.into_inner();
    state
        .db(move |conn| {
            let tenant = tenant_of(conn, &subdomain)?;
            let id = parse_id(&id, "outbound number")?;
            if sms_store::numbers::delete(conn, tenant.id, id)? {
                Ok(())
            } else {
                Err(ApiError::not_found("outbound number"))
            }
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---- agents ----

fn check_agent_number(value: Option<i64>) -> Result<Option<i64>, AdminInputError> {
    match value {
        Some(n) if n < 0 => Err(AdminInputError::AgentNumber),
        other => Ok(other),
    }
}

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
    state: web::Data<AppState>,
    subdomain: web::Path<String>,
    body: JsonBody<AgentCreate>,
) -> Result<HttpResponse, ApiError> {
    let subdomain = subdomain.into_inner();
    let input = body.0;
    let email = rules::check_email(input.email.as_deref())?;
    let first_name = rules::check_text("first_name", input.first_name.as_deref(), MAX_NAME_CHARS)?;
    let last_name = rules::check_text("last_name", input.last_name.as_deref(), MAX_NAME_CHARS)?;
    let name = optional_text("name", input.name.as_deref(), MAX_NAME_CHARS)?
        .unwrap_or_else(|| format!("{first_name} {last_name}"));
    let agent_number = check_agent_number(input.agent_number)?;
    let avatar_url = optional_text("avatar_url", input.avatar_url.as_deref(), MAX_URL_CHARS)?;
    let agent = state
        .db(move |conn| {
            let tenant = tenant_of(conn, &subdomain)?;
            let new = NewAgent {
                tenant_id: tenant.id,
                email_lower: email.to_lowercase(),
                email,
                first_name,
                last_name,
                name,
                agent_number,
                avatar_url,
                status: sms_store::Agent::ACTIVE.into(),
                created_at: now_millis(),
            };
            sms_store::agents::create(conn, &new).map_err(conflict_as("an agent with this email already exists"))
        })
        .await?;
    Ok(HttpResponse::Created().json(AgentOut::from(&agent)))
}

/// Lists the tenant's agents.
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    responses(
        (status = 200, description = "The agents.", body = Vec<AgentOut>),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[get("/admin/v1/tenants/{subdomain}/agents")]
pub async fn list_agents(
    _: AdminAuth,
    state: web::Data<AppState>,
    subdomain: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let subdomain = subdomain.into_inner();
    let rows = state
        .db(move |conn| {
            let tenant = tenant_of(conn, &subdomain)?;
            Ok(sms_store::agents::list(conn, tenant.id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(AgentOut::from).collect::<Vec<_>>()))
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
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (subdomain, id) = path.into_inner();
    let agent = state
        .db(move |conn| {
            let tenant = tenant_of(conn, &subdomain)?;
            let id = parse_id(&id, "agent")?;
            sms_store::agents::find(conn, tenant.id, id)?.ok_or_else(|| ApiError::not_found("agent"))
        })
        .await?;
    Ok(HttpResponse::Ok().json(AgentOut::from(&agent)))
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
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: JsonBody<AgentPatch>,
) -> Result<HttpResponse, ApiError> {
    let (subdomain, id) = path.into_inner();
    let input = body.0;
    let email = input.email.as_deref().map(|e| rules::check_email(Some(e))).transpose()?;
    let status = match input.status.as_deref() {
        None => None,
        Some(s @ (sms_store::Agent::ACTIVE | sms_store::Agent::DEACTIVATED)) => Some(s.to_owned()),
        Some(_) => return Err(AdminInputError::AgentStatus.into()),
    };
    let changes = AgentChanges {
        email_lower: email.as_ref().map(|e| e.to_lowercase()),
        email,
        first_name: optional_text("first_name", input.first_name.as_deref(), MAX_NAME_CHARS)?,
        last_name: optional_text("last_name", input.last_name.as_deref(), MAX_NAME_CHARS)?,
        name: optional_text("name", input.name.as_deref(), MAX_NAME_CHARS)?,
        agent_number: input.agent_number.map(check_agent_number).transpose()?,
        avatar_url: input
            .avatar_url
            .map(|url| url.map(|u| rules::check_text("avatar_url", Some(&u), MAX_URL_CHARS)).transpose())
            .transpose()?,
        status,
    };
    let agent = state
        .db(move |conn| {
            let tenant = tenant_of(conn, &subdomain)?;
            let id = parse_id(&id, "agent")?;
            sms_store::agents::update(conn, tenant.id, id, &changes)
                .map_err(conflict_as("an agent with this email already exists"))?
                .ok_or_else(|| ApiError::not_found("agent"))
        })
        .await?;
    Ok(HttpResponse::Ok().json(AgentOut::from(&agent)))
}

// ---- opt-outs ----

/// Lists the consumers who opted out of the tenant's messages (by replying STOP).
#[utoipa::path(
    tag = "admin",
    params(("subdomain" = String, Path, description = "The tenant's subdomain.")),
    responses(
        (status = 200, description = "The opted-out numbers.", body = Vec<OptOutOut>),
        (status = 404, description = "No such tenant.", body = ErrorBody, example = json!({"message": "tenant not found"})),
    ),
    security(("bearer" = []))
)]
#[get("/admin/v1/tenants/{subdomain}/opt-outs")]
pub async fn list_opt_outs(
    _: AdminAuth,
    state: web::Data<AppState>,
    subdomain: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let subdomain = subdomain.into_inner();
    let rows = state
        .db(move |conn| {
            let tenant = tenant_of(conn, &subdomain)?;
            Ok(sms_store::delivery::list_opt_outs(conn, tenant.id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(OptOutOut::from).collect::<Vec<_>>()))
}

/// Removes an opt-out, so the tenant may text the number again.
#[utoipa::path(
    tag = "admin",
    params(
        ("subdomain" = String, Path, description = "The tenant's subdomain."),
        ("number" = String, Path, description = "The number, any common US format (URL-encoded)."),
    ),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, description = "No such tenant, or the number is not opted out.", body = ErrorBody, example = json!({"message": "opt-out not found"})),
    ),
    security(("bearer" = []))
)]
#[delete("/admin/v1/tenants/{subdomain}/opt-outs/{number}")]
pub async fn delete_opt_out(
    _: AdminAuth,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (subdomain, number) = path.into_inner();
    state
        .db(move |conn| {
            let tenant = tenant_of(conn, &subdomain)?;
            let number = E164Number::parse(&number).map_err(|_| ApiError::not_found("opt-out"))?;
            if sms_store::delivery::opt_in(conn, tenant.id, number.as_str())? {
                Ok(())
            } else {
                Err(ApiError::not_found("opt-out"))
            }
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
