//! A tenant's outbound numbers, in E.164; a number belongs to one tenant only.

use sms_domain::{E164Number, NumberId, PhoneError};
use sms_store::OutboundNumber;

use crate::error::{conflict_as, Result, ServiceError};
use crate::{PageQuery, Service};

impl Service {
    /// Registers a number sent in any common US format.
    pub async fn add_outbound_number(&self, subdomain: &str, number: Option<&str>) -> Result<OutboundNumber> {
        let raw =
            number.filter(|n| !n.trim().is_empty()).ok_or(sms_domain::admin::AdminInputError::Required("number"))?;
        let number = E164Number::parse(raw).map_err(|e| match e {
            PhoneError::Invalid => ServiceError::Invalid("number is invalid".into()),
            PhoneError::NonUs => ServiceError::Invalid("Non-US phone number not allowed".into()),
        })?;
        self.for_tenant_writing(subdomain, move |conn, tenant, now| {
            sms_store::numbers::create(conn, tenant.id, &number, now)
                .map_err(conflict_as("outbound number is already registered"))
        })
        .await
    }

    pub async fn outbound_numbers(&self, subdomain: &str, page: &PageQuery) -> Result<(Vec<OutboundNumber>, i64)> {
        let window = page.window()?;
        self.for_tenant(subdomain, move |conn, tenant, _| Ok(sms_store::numbers::list(conn, tenant.id, window)?)).await
    }

    /// Takes a number away from the tenant. In the same transaction its active chats end
    /// (`disconnected_by_system`, with their `chat.ended`) and its messages not yet sent fail with
    /// `number removed`: no tenant sends from a number it no longer owns. The ended chats' locks
    /// are released after the commit.
    pub async fn remove_outbound_number(&self, subdomain: &str, id: NumberId) -> Result<()> {
        let after = self
            .for_tenant_writing(subdomain, move |conn, tenant, now| {
                sms_store::transaction(conn, |conn| {
                    let removed = sms_store::numbers::delete(conn, tenant.id, id)?
                        .ok_or(ServiceError::NotFound("outbound number"))?;
                    Ok(crate::life::number_removed(conn, tenant.id, &removed.number, now)?)
                })
            })
            .await?;
        after.run(self).await;
        Ok(())
    }
}
