//! A tenant's event webhook endpoints and their deliveries.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sms_domain::{DeliveryId, EndpointFormat, EndpointId, TenantId};

use crate::schema::*;

/// A tenant's event webhook endpoint.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
pub struct WebhookEndpoint {
    #[diesel(deserialize_as = i64)]
    pub id: EndpointId,
    #[diesel(deserialize_as = i64)]
    pub tenant_id: TenantId,
    pub url: String,
    /// The event types it receives, separated by spaces.
    pub events: String,
    pub description: Option<String>,
    pub disabled: bool,
    pub secret: String,
    /// The secret before the last rotation, which still signs until `previous_secret_until`.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// What its deliveries look like.
    #[diesel(deserialize_as = String)]
    pub format: EndpointFormat,
    /// Since when it is disabled; its waiting deliveries fail after the retention.
    pub disabled_at: Option<NaiveDateTime>,
}

impl WebhookEndpoint {
    /// The event types it receives.
    pub fn event_types(&self) -> impl Iterator<Item = &str> {
        self.events.split(' ').filter(|t| !t.is_empty())
    }

    pub fn receives(&self, event_type: &str) -> bool {
        self.event_types().any(|t| t == event_type)
    }
}

/// One event for one endpoint, as the admin API lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct WebhookDelivery {
    #[diesel(deserialize_as = i64)]
    pub id: DeliveryId,
    #[diesel(deserialize_as = i64)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = i64)]
    pub endpoint_id: EndpointId,
    pub event_id: i64,
    #[diesel(deserialize_as = String)]
    pub status: sms_domain::DeliveryState,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}
