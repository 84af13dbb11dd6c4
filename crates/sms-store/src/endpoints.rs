//! A tenant's event webhook endpoints: where its events go, and the secrets that sign them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sms_domain::{EndpointFormat, EndpointId, TenantId};

use crate::schema::{webhook_deliveries, webhook_endpoints};
use crate::{DbConn, StoreError, WebhookEndpoint, Window};

/// A new endpoint.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_endpoints)]
pub struct NewEndpoint {
    #[diesel(serialize_as = i64)]
    pub tenant_id: TenantId,
    pub url: String,
    pub events: String,
    pub description: Option<String>,
    pub disabled: bool,
    pub secret: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub format: String,
    pub disabled_at: Option<NaiveDateTime>,
}

/// A partial update of an endpoint; `None` leaves a field as it is (for `description`, the
/// inner `None` clears it).
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub events: Option<String>,
    pub description: Option<Option<String>>,
    pub disabled: Option<bool>,
    pub updated_at: Option<NaiveDateTime>,
    pub format: Option<String>,
    /// Set when the endpoint is disabled, cleared when it is enabled.
    pub disabled_at: Option<Option<NaiveDateTime>>,
}

pub fn create(conn: &mut DbConn, new: &NewEndpoint) -> Result<WebhookEndpoint, StoreError> {
    db_run!(conn, |c| diesel::insert_into(webhook_endpoints::table)
        .values(new.clone())
        .returning(WebhookEndpoint::as_returning())
        .get_result(c))
    .map_err(StoreError::from)
}

/// A page of the tenant's endpoints, oldest first, and how many it has.
pub fn list(conn: &mut DbConn, tenant_id: TenantId, window: Window) -> Result<(Vec<WebhookEndpoint>, i64), StoreError> {
    let owned = webhook_endpoints::table.filter(webhook_endpoints::tenant_id.eq(tenant_id.get()));
    db_run!(conn, |c| {
        let total: i64 = owned.count().get_result(c)?;
        let rows = owned
            .order(webhook_endpoints::id)
            .offset(window.offset)
            .limit(window.limit)
            .select(WebhookEndpoint::as_select())
            .load(c)?;
        Ok((rows, total))
    })
}

/// An endpoint of the tenant; another tenant's is `None` exactly like a missing one.
pub fn find(conn: &mut DbConn, tenant_id: TenantId, id: EndpointId) -> Result<Option<WebhookEndpoint>, StoreError> {
    db_run!(conn, |c| webhook_endpoints::table
        .filter(webhook_endpoints::tenant_id.eq(tenant_id.get()))
        .filter(webhook_endpoints::id.eq(id.get()))
        .select(WebhookEndpoint::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

pub fn update(
    conn: &mut DbConn,
    tenant_id: TenantId,
    id: EndpointId,
    changes: &EndpointChanges,
) -> Result<Option<WebhookEndpoint>, StoreError> {
    let target = webhook_endpoints::table
        .filter(webhook_endpoints::tenant_id.eq(tenant_id.get()))
        .filter(webhook_endpoints::id.eq(id.get()));
    db_run!(conn, |c| diesel::update(target)
        .set(changes)
        .returning(WebhookEndpoint::as_returning())
        .get_result(c)
        .optional())
    .map_err(StoreError::from)
}

/// Deletes an endpoint and, with it, its deliveries; `false` when there was none.
pub fn delete(conn: &mut DbConn, tenant_id: TenantId, id: EndpointId) -> Result<bool, StoreError> {
    crate::transaction(conn, |conn| {
        let owned = find(conn, tenant_id, id)?.is_some();
        if owned {
            db_run!(conn, |c| diesel::delete(
                webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id.get()))
            )
            .execute(c))?;
            db_run!(conn, |c| diesel::delete(webhook_endpoints::table.filter(webhook_endpoints::id.eq(id.get())))
                .execute(c))?;
        }
        Ok(owned)
    })
}

/// Replaces the endpoint's secret; the one it replaces keeps signing until `previous_until`.
pub fn rotate_secret(
    conn: &mut DbConn,
    tenant_id: TenantId,
    id: EndpointId,
    secret: &str,
    previous_until: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Option<WebhookEndpoint>, StoreError> {
    crate::transaction(conn, |conn| {
        let Some(current) = find(conn, tenant_id, id)? else { return Ok(None) };
        db_run!(conn, |c| diesel::update(webhook_endpoints::table.filter(webhook_endpoints::id.eq(id.get())))
            .set((
                webhook_endpoints::secret.eq(secret),
                webhook_endpoints::previous_secret.eq(Some(&current.secret)),
                webhook_endpoints::previous_secret_until.eq(Some(previous_until)),
                webhook_endpoints::updated_at.eq(now),
            ))
            .returning(WebhookEndpoint::as_returning())
            .get_result(c)
            .optional())
        .map_err(StoreError::from)
    })
}

/// An endpoint as events are addressed to it: the types it receives and its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub id: EndpointId,
    /// The event types it receives, separated by spaces.
    pub types: String,
    pub format: EndpointFormat,
}

impl Subscriber {
    /// Whether it receives events of `kind` in `format`.
    pub fn receives(&self, kind: &str, format: EndpointFormat) -> bool {
        self.format == format && self.types.split(' ').any(|t| t == kind)
    }
}

/// The tenant's endpoints, with the event types each receives and its format, enabled or not.
pub fn subscribers(conn: &mut DbConn, tenant_id: TenantId) -> Result<Vec<Subscriber>, StoreError> {
    let rows: Vec<(i64, String, String)> = db_run!(conn, |c| webhook_endpoints::table
        .filter(webhook_endpoints::tenant_id.eq(tenant_id.get()))
        .select((webhook_endpoints::id, webhook_endpoints::events, webhook_endpoints::format))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(id, types, format)| Subscriber {
            id: EndpointId::new(id),
            types,
            format: EndpointFormat::parse(&format).unwrap_or(EndpointFormat::Standard),
        })
        .collect())
}
