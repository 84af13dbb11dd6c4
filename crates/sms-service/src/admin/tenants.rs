//! Tenants.

use sms_domain::admin::{check_rate_limit, AdminInputError, TenantDraft, TenantUpdate};
use sms_store::{NewTenant, Tenant, TenantChanges};

use crate::error::{conflict_as, Result, ServiceError};
use crate::{PageQuery, Service};

impl Service {
    pub async fn create_tenant(&self, draft: TenantDraft) -> Result<Tenant> {
        let new = NewTenant {
            subdomain: draft.subdomain,
            name: draft.name,
            lang: draft.lang,
            sms_enabled: draft.sms_enabled,
            outbound_sms_enabled: draft.outbound_sms_enabled,
            session_timeout_minutes: draft.session_timeout_minutes,
            rate_limit_per_second: draft.rate_limit_per_second,
            rate_limit_burst: draft.rate_limit_burst,
            created_at: self.now(),
            active: true,
            help_text: draft.help_text,
            opt_out_text: draft.opt_out_text,
            opt_in_text: draft.opt_in_text,
            quiet_hours_start: draft.quiet_hours_start,
            quiet_hours_end: draft.quiet_hours_end,
        };
        self.write(move |conn| sms_store::tenants::create(conn, &new).map_err(conflict_as("tenant already exists")))
            .await
    }

    pub async fn tenants(&self, page: &PageQuery) -> Result<(Vec<Tenant>, i64)> {
        let window = page.window()?;
        self.db(move |conn| Ok(sms_store::tenants::list(conn, window)?)).await
    }

    pub async fn tenant(&self, subdomain: &str) -> Result<Tenant> {
        self.for_tenant(subdomain, |_, tenant, _| Ok(tenant.clone())).await
    }

    /// Changes a tenant's settings; `subdomain` cannot change. The change reaches every
    /// instance's authentication at once.
    pub async fn update_tenant(&self, subdomain: &str, update: TenantUpdate) -> Result<Tenant> {
        if update.subdomain.as_deref().is_some_and(|s| s != subdomain) {
            return Err(AdminInputError::SubdomainChange.into());
        }
        let texting = update.texting;
        let mut changes = TenantChanges {
            name: update.name,
            lang: update.lang,
            sms_enabled: update.sms_enabled,
            outbound_sms_enabled: update.outbound_sms_enabled,
            session_timeout_minutes: update.session_timeout_minutes,
            rate_limit_per_second: update.rate_limit_per_second,
            rate_limit_burst: update.rate_limit_burst,
            active: update.active,
            help_text: texting.help_text.clone(),
            opt_out_text: texting.opt_out_text.clone(),
            opt_in_text: texting.opt_in_text.clone(),
            quiet_hours_start: None,
            quiet_hours_end: None,
        };
        let updated = self
            .for_tenant_writing(subdomain, move |conn, tenant, _| {
                check_rate_limit(
                    changes.rate_limit_per_second.unwrap_or(tenant.rate_limit_per_second),
                    changes.rate_limit_burst.unwrap_or(tenant.rate_limit_burst),
                )?;
                // Quiet hours: both set or both null once the change is applied.
                let current = (tenant.quiet_hours_start.as_deref(), tenant.quiet_hours_end.as_deref());
                let (start, end) = texting.quiet_hours_after(current)?;
                if texting.quiet_hours_start.is_some() || texting.quiet_hours_end.is_some() {
                    (changes.quiet_hours_start, changes.quiet_hours_end) = (Some(start), Some(end));
                }
                sms_store::tenants::update(conn, tenant.id, &changes)?.ok_or(ServiceError::NotFound("tenant"))
            })
            .await;
        // Also after a failure: whether the change committed is then unknown.
        self.tenants_changed().await;
        updated
    }

    /// A tenant JWT for an integration, so that it never needs the secret (which also signs
    /// admin tokens): valid `ttl_seconds` (default one hour, at most the JWT lifetime cap).
    pub async fn issue_tenant_jwt(&self, subdomain: &str, ttl_seconds: Option<i64>) -> Result<IssuedJwt> {
        let max = self.inner.jwt.max_ttl();
        let ttl = ttl_seconds.unwrap_or(crate::DEFAULT_TENANT_JWT_TTL_SECS as i64);
        let ttl = u64::try_from(ttl)
            .ok()
            .filter(|t| (1..=max).contains(t))
            .ok_or_else(|| ServiceError::Invalid(format!("ttl_seconds must be between 1 and {max}")))?;
        let tenant = self.tenant(subdomain).await?;
        let revoked_until = tenant.jwt_revoked_at.map_or(0, |at| u64::try_from(at.and_utc().timestamp()).unwrap_or(0));
        let (token, exp) = self
            .inner
            .jwt
            .tenant_token(&tenant.subdomain, ttl, revoked_until)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let expires_at = chrono::DateTime::from_timestamp(i64::try_from(exp).unwrap_or(i64::MAX), 0)
            .map(|t| t.naive_utc())
            .ok_or_else(|| ServiceError::Internal("token expiry out of range".into()))?;
        Ok(IssuedJwt { token, expires_at })
    }
}

impl Service {
    /// Revokes every tenant JWT of the tenant issued until now, on every instance (their
    /// caches are emptied); its API tokens and admin tokens keep working.
    pub async fn revoke_tenant_jwts(&self, subdomain: &str) -> Result<()> {
        let revoked = self
            .for_tenant_writing(subdomain, |conn, tenant, now| {
                sms_store::tenants::revoke_jwts(conn, tenant.id, now)?;
                Ok(())
            })
            .await;
        self.tenants_changed().await;
        revoked
    }
}

/// A tenant JWT just issued.
#[derive(Debug, Clone)]
pub struct IssuedJwt {
    pub token: String,
    pub expires_at: chrono::NaiveDateTime,
}
