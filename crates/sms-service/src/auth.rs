//! Authentication: who a request is, before anything else is looked at.
//!
//! Tenant API: HTTP Basic `subdomain:api-token`, or a Bearer JWT with `role: "tenant"`.
//! Admin API: a Bearer JWT with `role: "admin"`. JWTs are HS256 only, with `sub` and `exp`
//! required and no leeway on expiry. API tokens are stored as the hex SHA-256 of the token and
//! compared in constant time.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::IpAddr;

use sms_lock::Decision;
use sms_store::Tenant;

use crate::failures::Fingerprint;

use crate::auth_cache::CacheKey;
use crate::error::{Result, ServiceError};
use crate::Service;

pub const ROLE_ADMIN: &str = "admin";
pub const ROLE_TENANT: &str = "tenant";

/// What a request presented in its `Authorization` header.
#[derive(Clone)]
pub enum Credentials {
    Basic { subdomain: String, token: String },
    Bearer(String),
}

impl Credentials {
    /// What the failed-authentication limit remembers of a credential that worked: its hash.
    pub fn fingerprint(&self) -> crate::failures::Fingerprint {
        match self {
            Self::Basic { subdomain, token } => {
                crate::failures::Fingerprint::of(format!("basic\0{subdomain}\0{token}").as_bytes())
            }
            Self::Bearer(jwt) => crate::failures::Fingerprint::of(format!("bearer\0{jwt}").as_bytes()),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Basic { subdomain, .. } => write!(f, "Basic({subdomain}, …)"),
            Self::Bearer(_) => f.write_str("Bearer(…)"),
        }
    }
}

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
    /// A token's own id: the server's tenant JWTs carry one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// The longest a JWT may live by default (`SMS_JWT_MAX_TTL_SECS`): 30 days.
pub const DEFAULT_JWT_MAX_TTL_SECS: u64 = 30 * 24 * 3600;
/// A tenant JWT's lifetime when the admin asks for none.
pub const DEFAULT_TENANT_JWT_TTL_SECS: u64 = 3600;

/// Why a token could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("a token may live at most {max} seconds (SMS_JWT_MAX_TTL_SECS)")]
    TooLong { max: u64 },
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

/// The HS256 keys made from `SMS_JWT_SECRET`, and the longest lifetime a token may have.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    max_ttl: u64,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            max_ttl: DEFAULT_JWT_MAX_TTL_SECS,
        }
    }

    /// Tokens whose `exp` lies more than `seconds` after their `iat` (or, without `iat`, after
    /// the moment they are checked) are refused, and none is issued for longer.
    pub fn with_max_ttl(mut self, seconds: u64) -> Self {
        self.max_ttl = seconds;
        self
    }

    pub fn max_ttl(&self) -> u64 {
        self.max_ttl
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// Verifies signature, algorithm, expiry and the lifetime cap; `None` for any token that
    /// fails.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?.claims;
        let start = claims.iat.unwrap_or_else(unix_now);
        (claims.exp.saturating_sub(start) <= self.max_ttl).then_some(claims)
    }

    /// A signed admin token valid for `ttl_seconds`.
    pub fn admin_token(&self, ttl_seconds: u64) -> Result<String, TokenError> {
        self.issue("admin".into(), ROLE_ADMIN, None, ttl_seconds, 0).map(|(token, _)| token)
    }

    /// A signed tenant token valid for `ttl_seconds`, with an id of its own (`jti`), issued
    /// after `revoked_until` (Unix seconds: the tenant's JWTs issued up to that second are
    /// refused, so one issued within the same second says it was issued in the next), and when
    /// it expires.
    pub fn tenant_token(
        &self,
        subdomain: &str,
        ttl_seconds: u64,
        revoked_until: u64,
    ) -> Result<(String, u64), TokenError> {
        let sub = format!("tenant:{subdomain}");
        self.issue(sub, ROLE_TENANT, Some(subdomain.to_owned()), ttl_seconds, revoked_until.saturating_add(1))
    }

    fn issue(
        &self,
        sub: String,
        role: &str,
        tenant: Option<String>,
        ttl: u64,
        not_before: u64,
    ) -> Result<(String, u64), TokenError> {
        if ttl > self.max_ttl {
            return Err(TokenError::TooLong { max: self.max_ttl });
        }
        let now = unix_now().max(not_before);
        let exp = now.saturating_add(ttl);
        let jti = tenant.is_some().then(|| hex::encode(rand::random::<[u8; 16]>()));
        let claims = Claims { sub, role: Some(role.into()), exp, iat: Some(now), tenant, jti };
        let token = self.sign(&claims).map_err(|e| TokenError::Sign(e.to_string()))?;
        Ok((token, exp))
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

impl Service {
    /// Authenticates a tenant API request from `client`, then takes a token from the tenant's
    /// rate limit: 401 before 429, both before anything else of the request is looked at. An
    /// address that failed too often this minute is refused first, without a query.
    pub async fn authenticate_tenant(&self, credentials: Option<Credentials>, client: IpAddr) -> Result<Tenant> {
        let fingerprint = credentials.as_ref().map(Credentials::fingerprint);
        self.admit(client, fingerprint)?;
        let tenant = self.tenant_of(credentials).await;
        let tenant = self.note_outcome(tenant, client, fingerprint)?;
        let rate = u32::try_from(tenant.rate_limit_per_second).unwrap_or(0);
        let burst = u32::try_from(tenant.rate_limit_burst).unwrap_or(1);
        match self.inner.limiter.check(tenant.id.get(), rate, burst).await? {
            Decision::Allowed => Ok(tenant),
            Decision::Limited { retry_after } => {
                metrics::counter!("sms_rate_limited_total").increment(1);
                Err(ServiceError::RateLimited(retry_after))
            }
        }
    }

    /// Refuses an address that failed authentication too often this minute, unless its
    /// credential worked on this instance within the last minute.
    pub(crate) fn admit(&self, client: IpAddr, fingerprint: Option<Fingerprint>) -> Result<()> {
        self.inner.failures.admit(client, fingerprint).map_err(|retry_after| {
            metrics::counter!("sms_auth_refused_total").increment(1);
            ServiceError::TooManyFailures(retry_after)
        })
    }

    /// Counts a failed authentication against its address; remembers a credential that worked.
    pub(crate) fn note_outcome<T>(
        &self,
        outcome: Result<T>,
        client: IpAddr,
        fingerprint: Option<Fingerprint>,
    ) -> Result<T> {
        match &outcome {
            Ok(_) => {
                if let Some(fingerprint) = fingerprint {
                    self.inner.failures.succeeded(fingerprint);
                }
            }
            Err(ServiceError::Unauthorized { .. } | ServiceError::BadSignature) => self.inner.failures.failed(client),
            Err(_) => {}
        }
        outcome
    }

    async fn tenant_of(&self, credentials: Option<Credentials>) -> Result<Tenant> {
        let invalid = || ServiceError::tenant_unauthorized("invalid credentials");
        let credentials = credentials.ok_or(ServiceError::tenant_unauthorized("authentication required"))?;
        // A tenant JWT's `iat`, checked against the tenant's revocation once the tenant is known.
        let mut issued_at = None;
        let (key, presented_hash) = match credentials {
            Credentials::Basic { subdomain, token } => {
                let token_hash = hash_token(&token);
                (CacheKey::Basic { subdomain, token_hash: token_hash.clone() }, Some(token_hash))
            }
            Credentials::Bearer(jwt) => {
                let claims = self.inner.jwt.verify(&jwt).ok_or_else(invalid)?;
                match claims.role.as_deref() {
                    Some(ROLE_TENANT) => {}
                    Some(ROLE_ADMIN) => {
                        return Err(ServiceError::Forbidden("an admin token cannot use the tenant API"))
                    }
                    _ => return Err(invalid()),
                }
                issued_at = Some(claims.iat.unwrap_or(0));
                (CacheKey::Jwt { subdomain: claims.tenant.ok_or_else(invalid)? }, None)
            }
        };
        let revoked = |tenant: &Tenant| {
            let until = tenant.jwt_revoked_at.map(|at| u64::try_from(at.and_utc().timestamp()).unwrap_or(0));
            issued_at.zip(until).is_some_and(|(iat, until)| iat <= until)
        };
        let cache = &self.inner.auth_cache;
        if let Some(tenant) = cache.get(&key) {
            metrics::counter!("sms_auth_cache_total", "outcome" => "hit").increment(1);
            return if revoked(&tenant) { Err(invalid()) } else { Ok(tenant) };
        }
        metrics::counter!("sms_auth_cache_total", "outcome" => "miss").increment(1);
        let ticket = cache.ticket();
        let subdomain = match &key {
            CacheKey::Basic { subdomain, .. } | CacheKey::Jwt { subdomain } => subdomain.clone(),
        };
        // One indexed query either way: a wrong token costs a probe of the hash index (the
        // hash of a random secret: its timing tells nothing about the token).
        let found = self
            .db(move |conn| match presented_hash {
                Some(hash) => Ok(sms_store::tokens::authenticate(conn, &subdomain, &hash)?),
                None => Ok(sms_store::tenants::find_by_subdomain(conn, &subdomain)?),
            })
            .await?;
        // A deactivated tenant's credentials are refused like wrong ones.
        let tenant = found.filter(|t| t.active).ok_or_else(invalid)?;
        if let Some(ticket) = ticket {
            cache.fill(ticket, key, tenant.clone());
        }
        if revoked(&tenant) {
            return Err(invalid());
        }
        Ok(tenant)
    }

    /// Checks an admin request's credentials (from `client`, which failed authentication too
    /// often if it is refused). No I/O, so it can run before the body is read.
    pub fn authorize_admin(&self, credentials: Option<Credentials>, client: IpAddr) -> Result<()> {
        let fingerprint = credentials.as_ref().map(Credentials::fingerprint);
        self.admit(client, fingerprint)?;
        let outcome = self.admin_claims(credentials);
        self.note_outcome(outcome, client, fingerprint)
    }

    fn admin_claims(&self, credentials: Option<Credentials>) -> Result<()> {
        let invalid = || ServiceError::admin_unauthorized("invalid credentials");
        let Credentials::Bearer(jwt) =
            credentials.ok_or(ServiceError::admin_unauthorized("authentication required"))?
        else {
            return Err(invalid());
        };
        let claims = self.inner.jwt.verify(&jwt).ok_or_else(invalid)?;
        match claims.role.as_deref() {
            Some(ROLE_ADMIN) => Ok(()),
            Some(ROLE_TENANT) => Err(ServiceError::Forbidden("a tenant token cannot use the admin API")),
            _ => Err(invalid()),
        }
    }

    /// A tenant or its tokens changed (committed or not): forget cached authentications here
    /// and tell the other instances to.
    pub(crate) async fn tenants_changed(&self) {
        self.inner.auth_cache.invalidate();
        if let Some(feed) = &self.inner.changes {
            if let Err(e) = feed.publish().await {
                tracing::warn!(error = %e, "could not announce a tenant change; other instances forget it within the cache TTL");
            }
        }
    }

    /// Hears the other instances' changes for as long as it runs (spawn it); nothing to do
    /// without a feed.
    pub async fn listen_for_changes(&self) {
        let Some(feed) = self.inner.changes.clone() else { return };
        let service = self.clone();
        feed.listen(move |notice| match notice {
            sms_lock::Notice::Listening => service.inner.auth_cache.set_listening(true),
            sms_lock::Notice::Changed => service.inner.auth_cache.invalidate(),
            sms_lock::Notice::Lost => service.inner.auth_cache.set_listening(false),
        })
        .await;
    }

    /// Whether authentications are served from the cache now (for tests of the change feed).
    pub fn auth_cache_in_use(&self) -> bool {
        self.inner.auth_cache.in_use()
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
        let token = keys.admin_token(60).unwrap();
        assert_eq!(keys.verify(&token).and_then(|c| c.role), Some("admin".into()));
        assert!(JwtKeys::new(b"another secret another secret ..").verify(&token).is_none());
        let expired = keys.sign(&Claims {
            sub: "x".into(),
            role: Some("admin".into()),
            exp: unix_now() - 1,
            iat: None,
            tenant: None,
            jti: None,
        });
        assert!(expired.ok().and_then(|t| keys.verify(&t)).is_none());
    }
}
