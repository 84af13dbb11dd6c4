//! Signing in and out, an operator's choice of tenant, and the one-time invitation where an
//! agent chooses its password.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use sms_domain::admin::PASSWORD_CHARS;
use sms_service::console::SignIn;
use sms_service::{Service, ServiceError};

use crate::session::{self, see_other, PageError, PageResult};
use crate::views::{render, Chrome, InvitationPage, LoginPage, TenantPage};

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    notice: String,
}

pub async fn login_page(query: web::Query<LoginQuery>) -> HttpResponse {
    let notice = match query.notice.as_str() {
        "password-set" => "Your password is set. Sign in with it.",
        "signed-out" => "You are signed out.",
        _ => "",
    };
    let page = LoginPage {
        chrome: Chrome::new("Sign in", None, ""),
        failed: false,
        notice: notice.into(),
        subdomain: String::new(),
        email: String::new(),
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    subdomain: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: String,
}

pub async fn login(req: HttpRequest, state: web::Data<Service>, form: web::Form<LoginForm>) -> PageResult {
    let form = form.into_inner();
    let sign_in = match form.kind.as_str() {
        "operator" => SignIn::Operator { token: form.token },
        _ => SignIn::Agent { subdomain: form.subdomain.clone(), email: form.email.clone(), password: form.password },
    };
    match state.console_sign_in(sign_in, sms_http::client::address(&req)).await {
        Ok(opened) => {
            let next = if opened.viewer.tenant.is_some() { "/console/chats" } else { "/console/tenant" };
            let mut response = see_other(next);
            response
                .add_cookie(&session::cookie(opened.token, state.console_secure_cookie()))
                .map_err(|e| PageError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            Ok(response)
        }
        Err(ServiceError::SignInFailed) => {
            let page = LoginPage {
                chrome: Chrome::new("Sign in", None, ""),
                failed: true,
                notice: String::new(),
                subdomain: form.subdomain,
                email: form.email,
            };
            Ok(render(StatusCode::UNAUTHORIZED, &page))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub(crate) csrf: String,
}

pub async fn logout(req: HttpRequest, state: web::Data<Service>, form: web::Form<CsrfForm>) -> PageResult {
    let _signed_in = acting!(req, state, &form.csrf);
    if let Some(token) = session::token(&req) {
        state.console_sign_out(&token).await?;
    }
    let mut response = see_other("/console/login?notice=signed-out");
    response
        .add_cookie(&session::removal(state.console_secure_cookie()))
        .map_err(|e| PageError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(response)
}

pub async fn tenant_page(req: HttpRequest, state: web::Data<Service>) -> PageResult {
    let viewer = signed_in!(req, state);
    let tenants = state.console_tenants(&viewer, "").await.map_err(|e| PageError::from(e).for_viewer(&viewer))?;
    let current = viewer.tenant.as_ref().map(|t| t.id);
    let tenants = tenants.iter().map(|t| (t.subdomain.clone(), t.name.clone(), Some(t.id) == current)).collect();
    Ok(render(StatusCode::OK, &TenantPage { chrome: Chrome::new("Choose a tenant", Some(&viewer), "tenant"), tenants }))
}

#[derive(Deserialize)]
pub struct TenantForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    subdomain: String,
}

pub async fn choose_tenant(req: HttpRequest, state: web::Data<Service>, form: web::Form<TenantForm>) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    state.console_choose_tenant(&viewer, &form.subdomain).await.map_err(|e| PageError::from(e).for_viewer(&viewer))?;
    Ok(see_other("/console/chats"))
}

fn invitation_view(invited: &sms_service::console::Invited, error: String) -> InvitationPage {
    InvitationPage {
        chrome: Chrome::new("Choose your password", None, ""),
        name: invited.name.clone(),
        email: invited.email.clone(),
        subdomain: invited.subdomain.clone(),
        error,
        min: *PASSWORD_CHARS.start(),
        max: *PASSWORD_CHARS.end(),
    }
}

fn invitation_gone() -> PageError {
    PageError::new(StatusCode::NOT_FOUND, "This invitation has been used or has expired. Ask for a new one.")
}

pub async fn invitation_page(state: web::Data<Service>, token: web::Path<String>) -> PageResult {
    let invited = state.invitation(&token).await.map_err(|_| invitation_gone())?;
    Ok(render(StatusCode::OK, &invitation_view(&invited, String::new())))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
}

pub async fn accept_invitation(
    state: web::Data<Service>,
    token: web::Path<String>,
    form: web::Form<PasswordForm>,
) -> PageResult {
    match state.accept_invitation(&token, Some(form.into_inner().password)).await {
        Ok(_) => Ok(see_other("/console/login?notice=password-set")),
        Err(ServiceError::Input(e)) => {
            let invited = state.invitation(&token).await.map_err(|_| invitation_gone())?;
            Ok(render(StatusCode::BAD_REQUEST, &invitation_view(&invited, e.to_string())))
        }
        Err(ServiceError::NotFound(_)) => Err(invitation_gone()),
        Err(e) => Err(e.into()),
    }
}
