//! Authentication (SPEC section 4).
//!
//! Tenant API: HTTP Basic `subdomain:api-token`, or a Bearer JWT with `role: "tenant"`.
//! Admin API: a Bearer JWT with `role: "admin"`. JWTs are HS256 only, with `sub` and `exp`
//! required and no leeway on expiry.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use base64::Engine;
use futures_util::future::{ready, Ready};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sms_store::Tenant;
use subtle::ConstantTimeEq;

use crate::auth_cache::CacheKey;
use crate::error::ApiError;
use crate::state::AppState;

const TENANT_CHALLENGE: &str = "Basic realm=\"outbound-sms\", Bearer";
const ADMIN_CHALLENGE: &str = "Bearer";

pub const ROLE_ADMIN: &str = "admin";
pub const ROLE_TENANT: &str = "tenant";

/// The claims this service reads and writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub role: Option<String>,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// The HS256 keys made from `SMS_JWT_SECRET`.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation }
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// Verifies signature, algorithm and expiry; `None` for any token that fails.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok().map(|data| data.claims)
    }

    /// A signed admin token valid for `ttl_seconds`.
    pub fn admin_token(&self, ttl_seconds: u64) -> Result<String, jsonwebtoken::errors::Error> {
        let now = unix_now();
        self.sign(&Claims {
            sub: "admin".into(),
            role: Some(ROLE_ADMIN.into()),
            exp: now.saturating_add(ttl_seconds),
            iat: Some(now),
            tenant: None,
        })
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A new random API token (32 bytes, base64url) and its stored hash.
pub fn new_api_token() -> (String, String) {
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let hash = hash_token(&token);
    (token, hash)
}

/// The hex SHA-256 under which a token is stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

enum Presented {
    Basic { subdomain: String, token: String },
    Bearer(String),
}

fn presented(req: &HttpRequest, challenge: &'static str) -> Result<Presented, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("authentication required", challenge))?;
    let invalid = || ApiError::unauthorized("invalid credentials", challenge);
    let value = value.to_str().map_err(|_| invalid())?.trim();
    let (scheme, rest) = value.split_once(' ').ok_or_else(invalid)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Presented::Bearer(rest.to_owned()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).map_err(|_| invalid())?;
        let decoded = String::from_utf8(decoded).map_err(|_| invalid())?;
        let (subdomain, token) = decoded.split_once(':').ok_or_else(invalid)?;
        return Ok(Presented::Basic { subdomain: subdomain.to_owned(), token: token.to_owned() });
    }
    Err(invalid())
}

/// Authenticates a tenant API request, then takes a token from the tenant's rate limit, and
/// answers the tenant: 401 before 429, both before any body fault or other database work.
/// Explicit rather than an extractor, so handlers control that order.
pub async fn tenant(req: &HttpRequest, state: &AppState) -> Result<Tenant, ApiError> {
    let tenant = authenticate(req, state).await?;
    let rate = u32::try_from(tenant.rate_limit_per_second).unwrap_or(0);
    let burst = u32::try_from(tenant.rate_limit_burst).unwrap_or(1);
    match state.limiter.check(tenant.id, rate, burst).await? {
        sms_lock::Decision::Allowed => Ok(tenant),
        sms_lock::Decision::Limited { retry_after } => {
            metrics::counter!("sms_rate_limited_total").increment(1);
            Err(ApiError::rate_limited(retry_after))
        }
    }
}

async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Tenant, ApiError> {
    let invalid = || ApiError::unauthorized("invalid credentials", TENANT_CHALLENGE);
    let (key, presented_hash) = match presented(req, TENANT_CHALLENGE)? {
        Presented::Basic { subdomain, token } => {
            let token_hash = hash_token(&token);
            (CacheKey::Basic { subdomain, token_hash: token_hash.clone() }, Some(token_hash))
        }
        Presented::Bearer(jwt) => {
            let claims = state.jwt.verify(&jwt).ok_or_else(invalid)?;
            match claims.role.as_deref() {
                Some(ROLE_TENANT) => {}
                Some(ROLE_ADMIN) => return Err(ApiError::forbidden("an admin token cannot use the tenant API")),
                _ => return Err(invalid()),
            }
            (CacheKey::Jwt { subdomain: claims.tenant.ok_or_else(invalid)? }, None)
        }
    };
    if let Some(tenant) = state.auth_cache.get(&key) {
        metrics::counter!("sms_auth_cache_total", "outcome" => "hit").increment(1);
        return Ok(tenant);
    }
    metrics::counter!("sms_auth_cache_total", "outcome" => "miss").increment(1);
    let ticket = state.auth_cache.ticket();
    let subdomain = match &key {
        CacheKey::Basic { subdomain, .. } | CacheKey::Jwt { subdomain } => subdomain.clone(),
    };
    let found = state
        .db(move |conn| {
            let Some(tenant) = sms_store::tenants::find_by_subdomain(conn, &subdomain)? else {
                return Ok(None);
            };
            let Some(presented_hash) = presented_hash else { return Ok(Some(tenant)) };
            let hashes = sms_store::tokens::active_hashes(conn, tenant.id)?;
            // Compare against every token in constant time; no early exit.
            let matched = hashes
                .iter()
                .fold(subtle::Choice::from(0), |acc, stored| acc | stored.as_bytes().ct_eq(presented_hash.as_bytes()));
            Ok(bool::from(matched).then_some(tenant))
        })
        .await?;
    let tenant = found.ok_or_else(invalid)?;
    if let Some(ticket) = ticket {
        state.auth_cache.fill(ticket, key, tenant.clone());
    }
    Ok(tenant)
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
    let invalid = || ApiError::unauthorized("invalid credentials", ADMIN_CHALLENGE);
    let Presented::Bearer(jwt) = presented(req, ADMIN_CHALLENGE)? else {
        return Err(invalid());
    };
    let state =
        req.app_data::<web::Data<AppState>>().ok_or_else(|| ApiError::internal(&"application state is missing"))?;
    let claims = state.jwt.verify(&jwt).ok_or_else(invalid)?;
    match claims.role.as_deref() {
        Some(ROLE_ADMIN) => Ok(AdminAuth),
        Some(ROLE_TENANT) => Err(ApiError::forbidden("a tenant token cannot use the admin API")),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, hash_a) = new_api_token();
        let (b, _) = new_api_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_a, hash_token(&a));
        assert_eq!(hash_a.len(), 64);
        assert!(!hash_a.contains(&a));
    }

    #[test]
    fn jwts_need_the_right_key_and_a_future_exp() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let token = match keys.admin_token(60) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(keys.verify(&token).and_then(|c| c.role), Some("admin".into()));
        assert!(JwtKeys::new(b"another secret another secret ..").verify(&token).is_none());
        let expired = keys.sign(&Claims {
            sub: "x".into(),
            role: Some("admin".into()),
            exp: unix_now() - 1,
            iat: None,
            tenant: None,
        });
        assert!(expired.ok().and_then(|t| keys.verify(&t)).is_none());
    }
}
