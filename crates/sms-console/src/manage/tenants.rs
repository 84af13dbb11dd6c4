//! Tenants, for operators: search, create, deactivate and reactivate.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use serde::Deserialize;
use sms_service::console::Viewer;
use sms_service::Service;

use super::params;
use super::refused;
use crate::session::{see_other, PageError, PageResult};
use crate::views::manage::{TenantRow, TenantsPage};
use crate::views::render;
use crate::views::Chrome;
use sms_domain::admin::TenantInput;

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
