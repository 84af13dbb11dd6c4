//! The admin operations, per resource. Every operation on a tenant's resources finds the tenant
//! through [`Service::for_tenant`], so a missing tenant answers the same everywhere and one
//! tenant's ids never reach another's rows.

mod agents;
mod numbers;
mod opt_outs;
mod tenants;
mod tokens;
mod webhooks;

use chrono::NaiveDateTime;
use sms_store::{DbConn, Tenant};

pub use tenants::IssuedJwt;
pub use tokens::IssuedToken;
pub use webhooks::{DeliveryPage, ROTATION_OVERLAP_HOURS};

use crate::error::{Result, ServiceError};
use crate::Service;

impl Service {
    /// Runs `f` in one blocking call with the tenant named by `subdomain` and the time now.
    pub(crate) async fn for_tenant<T, F>(&self, subdomain: &str, f: F) -> Result<T>
    where
        F: FnOnce(&mut DbConn, &Tenant, NaiveDateTime) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.db(with_tenant(subdomain, self.now(), f)).await
    }

    /// [`Service::for_tenant`] for work that writes: a write like a request's
    /// ([`Service::write`]; on SQLite the store's writer runs it), so that no statement takes
    /// SQLite's write lock outside the writer's queue.
    pub(crate) async fn for_tenant_writing<T, F>(&self, subdomain: &str, f: F) -> Result<T>
    where
        F: FnOnce(&mut DbConn, &Tenant, NaiveDateTime) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.write(with_tenant(subdomain, self.now(), f)).await
    }
}

/// `f`, given the tenant named by `subdomain` (404 `tenant` when there is none) and `now`.
fn with_tenant<T, F>(
    subdomain: &str,
    now: NaiveDateTime,
    f: F,
) -> impl FnOnce(&mut DbConn) -> Result<T> + Send + 'static
where
    F: FnOnce(&mut DbConn, &Tenant, NaiveDateTime) -> Result<T> + Send + 'static,
{
    let subdomain = subdomain.to_owned();
    move |conn| {
        let tenant =
            sms_store::tenants::find_by_subdomain(conn, &subdomain)?.ok_or(ServiceError::NotFound("tenant"))?;
        f(conn, &tenant, now)
    }
}
