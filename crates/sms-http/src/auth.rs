//! Reading credentials off a request; the service decides whether they are good.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use base64::Engine;
use futures_util::future::{ready, Ready};
use sms_service::records::Tenant;
use sms_service::{Credentials, Service, ServiceError};

pub use sms_service::unix_now;

use crate::error::ApiError;

pub(crate) const TENANT_CHALLENGE: &str = "Basic realm=\"outbound-sms\", Bearer";
pub(crate) const ADMIN_CHALLENGE: &str = "Bearer";

/// The `Authorization` header as credentials: `None` when absent; a header that is neither
/// Basic nor Bearer, or does not decode, is refused as invalid.
fn credentials(
    req: &HttpRequest,
    unauthorized: fn(&'static str) -> ServiceError,
) -> Result<Option<Credentials>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    let invalid = || ApiError::from(unauthorized("invalid credentials"));
    let value = value.to_str().map_err(|_| invalid())?.trim();
    let (scheme, rest) = value.split_once(' ').ok_or_else(invalid)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(Credentials::Bearer(rest.to_owned())));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).map_err(|_| invalid())?;
        let decoded = String::from_utf8(decoded).map_err(|_| invalid())?;
        let (subdomain, token) = decoded.split_once(':').ok_or_else(invalid)?;
        return Ok(Some(Credentials::Basic { subdomain: subdomain.to_owned(), token: token.to_owned() }));
    }
    Err(invalid())
}

/// Authenticates a tenant API request and takes from the tenant's rate limit: 401 before 429,
/// both before any body fault. Explicit rather than an extractor, so handlers keep that order.
pub async fn tenant(req: &HttpRequest, service: &Service) -> Result<Tenant, ApiError> {
    let client = crate::client::address(req);
    let presented = match credentials(req, ServiceError::tenant_unauthorized) {
        Ok(presented) => presented,
        // A header that cannot be read is a failed authentication too.
        Err(_) => Some(Credentials::Bearer(String::new())),
    };
    Ok(service.authenticate_tenant(presented, client).await?)
}

/// Proof that a request carries a valid admin JWT. Resolves without I/O, so as the first
/// argument of a handler it reports credentials before any body fault.
pub struct AdminAuth;

impl FromRequest for AdminAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(admin(req))
    }
}

fn admin(req: &HttpRequest) -> Result<AdminAuth, ApiError> {
    let client = crate::client::address(req);
    let presented = match credentials(req, ServiceError::admin_unauthorized) {
        Ok(presented) => presented,
        Err(_) => Some(Credentials::Bearer(String::new())),
    };
    let service =
        req.app_data::<web::Data<Service>>().ok_or_else(|| ApiError::internal(&"application state is missing"))?;
    service.authorize_admin(presented, client)?;
    Ok(AdminAuth)
}
