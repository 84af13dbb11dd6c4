//! A tenant's API tokens: random, shown once, stored as a hash, revocable at once.

use sms_domain::TokenId;
use sms_store::ApiToken;

use crate::auth::new_api_token;
use crate::error::{Result, ServiceError};
use crate::{PageQuery, Service};

/// A token just issued: the only moment its secret is known.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub record: ApiToken,
    pub token: String,
}

impl Service {
    pub async fn issue_api_token(&self, subdomain: &str) -> Result<IssuedToken> {
        let (token, hash) = new_api_token();
        let record = self
            .for_tenant_writing(subdomain, move |conn, tenant, now| {
                Ok(sms_store::tokens::create(conn, tenant.id, &hash, now)?)
            })
            .await?;
        Ok(IssuedToken { record, token })
    }

    pub async fn api_tokens(&self, subdomain: &str, page: &PageQuery) -> Result<(Vec<ApiToken>, i64)> {
        let window = page.window()?;
        self.for_tenant(subdomain, move |conn, tenant, _| Ok(sms_store::tokens::list(conn, tenant.id, window)?)).await
    }

    /// Revokes a token; it stops working at once, on every instance.
    pub async fn revoke_api_token(&self, subdomain: &str, id: TokenId) -> Result<()> {
        let revoked = self
            .for_tenant_writing(subdomain, move |conn, tenant, now| {
                if sms_store::tokens::revoke(conn, tenant.id, id, now)? {
                    Ok(())
                } else {
                    Err(ServiceError::NotFound("api token"))
                }
            })
            .await;
        self.tenants_changed().await;
        revoked
    }
}
