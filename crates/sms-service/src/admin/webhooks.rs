//! A tenant's event webhook endpoints and their deliveries.

use sms_domain::events::{join_event_types, EndpointDraft};
use sms_store::events::{self, DeliveryRow, EndpointChanges, NewEndpoint};
use sms_store::WebhookEndpoint;

use super::parse_id;
use crate::error::{Result, ServiceError};
use crate::{PageQuery, Service};

/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;

/// The delivery states a list may be filtered by.
const DELIVERY_STATES: [&str; 3] = [events::PENDING, events::DELIVERED, events::FAILED];

impl Service {
    /// Registers an endpoint with a new signing secret, which this answer alone shows.
    pub async fn create_webhook(&self, subdomain: &str, draft: EndpointDraft) -> Result<WebhookEndpoint> {
        self.for_tenant(subdomain, move |conn, tenant, now| {
            let new = NewEndpoint {
                tenant_id: tenant.id,
                url: draft.url.unwrap_or_default(),
                events: join_event_types(&draft.events.unwrap_or_default()),
                description: draft.description,
                disabled: draft.disabled.unwrap_or(false),
                secret: sms_delivery::events::new_secret(),
                created_at: now,
                updated_at: now,
            };
            Ok(events::create_endpoint(conn, &new)?)
        })
        .await
    }

    pub async fn webhooks(&self, subdomain: &str, page: &PageQuery) -> Result<(Vec<WebhookEndpoint>, i64)> {
        let window = page.window()?;
        self.for_tenant(subdomain, move |conn, tenant, _| Ok(events::list_endpoints(conn, tenant.id, window)?)).await
    }

    pub async fn webhook(&self, subdomain: &str, id: &str) -> Result<WebhookEndpoint> {
        let id = parse_id(id, "webhook")?;
        self.for_tenant(subdomain, move |conn, tenant, _| {
            events::find_endpoint(conn, tenant.id, id)?.ok_or(ServiceError::NotFound("webhook"))
        })
        .await
    }

    /// Changes an endpoint. Enabling a disabled one lets its waiting deliveries go out.
    pub async fn update_webhook(&self, subdomain: &str, id: &str, draft: EndpointDraft) -> Result<WebhookEndpoint> {
        let id = parse_id(id, "webhook")?;
        self.for_tenant(subdomain, move |conn, tenant, now| {
            let changes = EndpointChanges {
                url: draft.url,
                events: draft.events.map(|e| join_event_types(&e)),
                description: draft.description.map(|d| Some(d).filter(|d| !d.is_empty())),
                disabled: draft.disabled,
                updated_at: Some(now),
            };
            events::update_endpoint(conn, tenant.id, id, &changes)?.ok_or(ServiceError::NotFound("webhook"))
        })
        .await
    }

    /// Deletes an endpoint; its pending deliveries are dropped.
    pub async fn delete_webhook(&self, subdomain: &str, id: &str) -> Result<()> {
        let id = parse_id(id, "webhook")?;
        self.for_tenant(subdomain, move |conn, tenant, _| {
            events::delete_endpoint(conn, tenant.id, id)?.then_some(()).ok_or(ServiceError::NotFound("webhook"))
        })
        .await
    }

    /// A new signing secret; for 24 hours the previous one signs too, so a receiver can switch
    /// over without losing a delivery.
    pub async fn rotate_webhook_secret(&self, subdomain: &str, id: &str) -> Result<String> {
        let id = parse_id(id, "webhook")?;
        self.for_tenant(subdomain, move |conn, tenant, now| {
            let secret = sms_delivery::events::new_secret();
            let until = now + chrono::Duration::hours(ROTATION_OVERLAP_HOURS);
            events::rotate_secret(conn, tenant.id, id, &secret, until, now)?
                .ok_or(ServiceError::NotFound("webhook"))?;
            Ok(secret)
        })
        .await
    }

    /// A page of an endpoint's deliveries, newest first, optionally of one status.
    pub async fn webhook_deliveries(
        &self,
        subdomain: &str,
        id: &str,
        status: Option<String>,
        page: &PageQuery,
    ) -> Result<(Vec<DeliveryRow>, i64)> {
        let id = parse_id(id, "webhook")?;
        let window = page.window()?;
        if let Some(s) = status.as_deref() {
            if !DELIVERY_STATES.contains(&s) {
                return Err(ServiceError::Invalid("status must be one of pending, delivered, failed".into()));
            }
        }
        self.for_tenant(subdomain, move |conn, tenant, _| {
            events::find_endpoint(conn, tenant.id, id)?.ok_or(ServiceError::NotFound("webhook"))?;
            Ok(events::list_deliveries(conn, id, status.as_deref(), window)?)
        })
        .await
    }

    /// Makes a delivery pending again, due now, its attempts starting over.
    pub async fn retry_webhook_delivery(&self, subdomain: &str, id: &str, delivery_id: &str) -> Result<DeliveryRow> {
        let id = parse_id(id, "webhook")?;
        let delivery_id = parse_id(delivery_id, "delivery")?;
        self.for_tenant(subdomain, move |conn, tenant, now| {
            events::find_endpoint(conn, tenant.id, id)?.ok_or(ServiceError::NotFound("webhook"))?;
            events::retry_delivery(conn, id, delivery_id, now)?.ok_or(ServiceError::NotFound("delivery"))
        })
        .await
    }
}
