//! The consumers who opted out of a tenant's messages.

use sms_domain::E164Number;
use sms_store::OptOut;

use crate::error::{Result, ServiceError};
use crate::{PageQuery, Service};

impl Service {
    pub async fn opt_outs(&self, subdomain: &str, page: &PageQuery) -> Result<(Vec<OptOut>, i64)> {
        let window = page.window()?;
        self.for_tenant(subdomain, move |conn, tenant, _| Ok(sms_store::opt_outs::list(conn, tenant.id, window)?)).await
    }

    /// Removes an opt-out, so the tenant may text the number again.
    pub async fn remove_opt_out(&self, subdomain: &str, number: &str) -> Result<()> {
        let number = number.to_owned();
        self.for_tenant(subdomain, move |conn, tenant, _| {
            let number = E164Number::parse(&number).map_err(|_| ServiceError::NotFound("opt-out"))?;
            if crate::life::lift(conn, tenant.id, &number)? {
                Ok(())
            } else {
                Err(ServiceError::NotFound("opt-out"))
            }
        })
        .await
    }
}
