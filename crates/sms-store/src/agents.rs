//! Agents of a tenant. E-mails are unique per tenant, compared in lower case.

use diesel::prelude::*;

use sms_domain::{AgentId, TenantId};

use crate::schema::agents;
use crate::tx::transaction;
use crate::{Agent, AgentChanges, DbConn, NewAgent, StoreError, Window};

/// Creates an agent; an e-mail the tenant already has is [`StoreError::Conflict`].
pub fn create(conn: &mut DbConn, new: &NewAgent) -> Result<Agent, StoreError> {
    db_run!(conn, |c| diesel::insert_into(agents::table)
        .values(new.clone())
        .returning(Agent::as_returning())
        .get_result(c))
    .map_err(StoreError::from)
}

/// A page of the tenant's agents, oldest first, and how many it has.
pub fn list(conn: &mut DbConn, tenant_id: TenantId, window: Window) -> Result<(Vec<Agent>, i64), StoreError> {
    let owned = agents::table.filter(agents::tenant_id.eq(tenant_id.get()));
    db_run!(conn, |c| {
        let total: i64 = owned.count().get_result(c)?;
        let rows =
            owned.order(agents::id).offset(window.offset).limit(window.limit).select(Agent::as_select()).load(c)?;
        Ok((rows, total))
    })
}

pub fn find(conn: &mut DbConn, tenant_id: TenantId, id: AgentId) -> Result<Option<Agent>, StoreError> {
    db_run!(conn, |c| agents::table
        .filter(agents::id.eq(id.get()))
        .filter(agents::tenant_id.eq(tenant_id.get()))
        .select(Agent::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// Finds an agent by e-mail, case-insensitively.
pub fn find_by_email(conn: &mut DbConn, tenant_id: TenantId, email: &str) -> Result<Option<Agent>, StoreError> {
    let lower = email.trim().to_lowercase();
    db_run!(conn, |c| agents::table
        .filter(agents::email_lower.eq(&lower))
        .filter(agents::tenant_id.eq(tenant_id.get()))
        .select(Agent::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// Applies `changes` at `now` (a status that changes moves `status_updated_at`); `None` when the
/// tenant has no such agent, [`StoreError::Conflict`] when the new e-mail is taken.
pub fn update(
    conn: &mut DbConn,
    tenant_id: TenantId,
    id: AgentId,
    changes: &AgentChanges,
    now: chrono::NaiveDateTime,
) -> Result<Option<Agent>, StoreError> {
    let target = agents::table.filter(agents::id.eq(id.get())).filter(agents::tenant_id.eq(tenant_id.get()));
    transaction(conn, |conn| {
        if let Some(status) = changes.status {
            let moved = target.filter(agents::status.ne(status));
            db_run!(conn, |c| diesel::update(moved).set(agents::status_updated_at.eq(now)).execute(c))?;
        }
        let updated = db_run!(conn, |c| diesel::update(target).set(changes).execute(c));
        match updated {
            // An empty change set is an error in diesel; it changes nothing here.
            Err(diesel::result::Error::QueryBuilderError(_)) | Ok(_) => {}
            Err(e) => return Err(StoreError::from(e)),
        }
        db_run!(conn, |c| target.select(Agent::as_select()).first(c).optional()).map_err(StoreError::from)
    })
}
