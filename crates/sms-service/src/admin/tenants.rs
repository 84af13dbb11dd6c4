//! Tenants.

use sms_domain::admin::{check_rate_limit, AdminInputError, TenantDraft, TenantUpdate};
use sms_store::{NewTenant, Tenant, TenantChanges};

use crate::error::{conflict_as, Result, ServiceError};
use crate::Service;

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
        };
        self.db(move |conn| sms_store::tenants::create(conn, &new).map_err(conflict_as("tenant already exists"))).await
    }

    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        self.db(|conn| Ok(sms_store::tenants::list(conn)?)).await
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
        let changes = TenantChanges {
            name: update.name,
            lang: update.lang,
            sms_enabled: update.sms_enabled,
            outbound_sms_enabled: update.outbound_sms_enabled,
            session_timeout_minutes: update.session_timeout_minutes,
            rate_limit_per_second: update.rate_limit_per_second,
            rate_limit_burst: update.rate_limit_burst,
        };
        let updated = self
            .for_tenant(subdomain, move |conn, tenant, _| {
                check_rate_limit(
                    changes.rate_limit_per_second.unwrap_or(tenant.rate_limit_per_second),
                    changes.rate_limit_burst.unwrap_or(tenant.rate_limit_burst),
                )?;
                sms_store::tenants::update(conn, tenant.id, &changes)?.ok_or(ServiceError::NotFound("tenant"))
            })
            .await;
        // Also after a failure: whether the change committed is then unknown.
        self.tenants_changed().await;
        updated
    }
}
