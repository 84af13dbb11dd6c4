//! Running a tenant from the console (SPEC section 14, the supervisors' and operators' rows):
//! opt-outs, settings, numbers, agents, webhooks and tenants. Each is the admin API's own
//! workflow, called for the tenant the viewer runs once the viewer's role allows it: an agent
//! reads opt-outs and nothing else here (403); tenants are the operators'.

use futures_util::Stream;
use sms_domain::{NumberId, TenantId};
use sms_store::{OptOut, OutboundNumber, Tenant, Window};

use super::Viewer;
use crate::error::{Result, ServiceError};
use crate::{PageQuery, Service};

/// Rows on a page of the console's lists.
pub const CONSOLE_PER_PAGE: i64 = 50;

impl Viewer {
    /// The subdomain of the tenant a supervisor or an operator runs: 403 for an agent, 409 for
    /// an operator who has not chosen a tenant.
    pub fn supervised(&self) -> Result<&str> {
        self.require_supervisor()?;
        Ok(&self.tenant()?.subdomain)
    }
}

/// A page of a console list, as the admin API pages it.
pub fn console_page(page: i64) -> PageQuery {
    PageQuery { page: Some(page.max(1).to_string()), per: Some(CONSOLE_PER_PAGE.to_string()) }
}

/// A number of the tenant and what removing it would end.
#[derive(Debug, Clone)]
pub struct NumberLoad {
    pub number: OutboundNumber,
    /// Active chats sent from it: removing the number ends them.
    pub active_chats: i64,
    /// Its messages not sent yet: removing the number fails them (`number removed`).
    pub unsent: i64,
}

impl Service {
    /// A page of the tenant's opt-outs, for every role (agents read them).
    pub async fn console_opt_outs(&self, viewer: &Viewer, page: i64) -> Result<(Vec<OptOut>, i64)> {
        let subdomain = viewer.tenant()?.subdomain.clone();
        self.opt_outs(&subdomain, &console_page(page)).await
    }

    /// The tenant's whole opt-out list as CSV lines, as the admin API exports it.
    pub fn console_opt_outs_csv(&self, viewer: &Viewer) -> Result<impl Stream<Item = Result<String>> + 'static> {
        Ok(self.opt_out_lines(viewer.tenant()?.id))
    }

    /// The tenant's numbers, each with what removing it would end.
    pub async fn console_number_loads(&self, viewer: &Viewer) -> Result<Vec<NumberLoad>> {
        viewer.supervised()?;
        let tenant_id = viewer.tenant()?.id;
        self.db(move |conn| {
            let (numbers, _) = sms_store::numbers::list(conn, tenant_id, Window { offset: 0, limit: 1000 })?;
            numbers.into_iter().map(|number| load(conn, tenant_id, number)).collect()
        })
        .await
    }

    /// One number of the tenant and what removing it would end.
    pub async fn console_number_load(&self, viewer: &Viewer, id: NumberId) -> Result<NumberLoad> {
        viewer.supervised()?;
        let tenant_id = viewer.tenant()?.id;
        self.db(move |conn| {
            let (numbers, _) = sms_store::numbers::list(conn, tenant_id, Window { offset: 0, limit: 1000 })?;
            let number = numbers.into_iter().find(|n| n.id == id).ok_or(ServiceError::NotFound("outbound number"))?;
            load(conn, tenant_id, number)
        })
        .await
    }

    /// The tenants an operator may choose from, those whose subdomain or name contains `q`
    /// (case-insensitively), by subdomain.
    pub async fn console_tenants(&self, viewer: &Viewer, q: &str) -> Result<Vec<Tenant>> {
        viewer.require_operator()?;
        let q = q.trim().to_lowercase();
        let mut all = self.db(move |conn| Ok(sms_store::tenants::list(conn, Window::default())?.0)).await?;
        all.retain(|t| q.is_empty() || t.subdomain.contains(&q) || t.name.to_lowercase().contains(&q));
        all.sort_by(|a, b| a.subdomain.cmp(&b.subdomain));
        Ok(all)
    }
}

fn load(conn: &mut sms_store::DbConn, tenant_id: TenantId, number: OutboundNumber) -> Result<NumberLoad> {
    let active_chats = sms_store::chats::active_count_from(conn, tenant_id, &number.number)?;
    let unsent = sms_store::outbox::unsent_from(conn, tenant_id, &number.number)?;
    Ok(NumberLoad { number, active_chats, unsent })
}
