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
        let (subdomain, now) = (subdomain.to_owned(), self.now());
        self.db(move |conn| {
            let tenant =
                sms_store::tenants::find_by_subdomain(conn, &subdomain)?.ok_or(ServiceError::NotFound("tenant"))?;
            f(conn, &tenant, now)
        })
        .await
    }

    /// [`Service::for_tenant`] for work that writes: a write like a request's
    /// ([`Service::write`]; on SQLite the store's writer runs it), so that no statement takes
    /// SQLite's write lock outside the writer's queue.
    pub(crate) async fn for_tenant_writing<T, F>(&self, subdomain: &str, f: F) -> Result<T>
    where
        F: FnOnce(&mut DbConn, &Tenant, NaiveDateTime) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (subdomain, now) = (subdomain.to_owned(), self.now());
        self.write(move |conn| {
            let tenant =
                sms_store::tenants::find_by_subdomain(conn, &subdomain)?.ok_or(ServiceError::NotFound("tenant"))?;
            f(conn, &tenant, now)
        })
        .await
    }
}
