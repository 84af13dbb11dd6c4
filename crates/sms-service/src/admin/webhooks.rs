//! A tenant's event webhook endpoints and their deliveries.

use sms_domain::admin::AdminInputError;
use sms_domain::events::{join_event_types, EndpointDraft};
use sms_domain::{DeliveryId, DeliveryState, EndpointFormat, EndpointId, EventType};
use sms_store::deliveries::{self, DeliveryRow};
use sms_store::endpoints::{self, EndpointChanges, NewEndpoint};
use sms_store::WebhookEndpoint;

use crate::error::{Result, ServiceError};
use crate::{PageQuery, Service};

/// An endpoint's deliveries as asked for: a state (`pending`, `delivered`, `failed`) and paging.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryPage {
    /// Only deliveries in this state.
    #[param(inline, value_type = Option<DeliveryState>)]
    pub status: Option<String>,
    /// From 1; default 1.
    #[param(value_type = Option<i64>)]
    pub page: Option<String>,
    /// 1 to 100; default 100.
    #[param(value_type = Option<i64>)]
    pub per: Option<String>,
}

/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;

impl Service {
    /// Registers an endpoint with a new signing secret, which this answer alone shows.
    pub async fn create_webhook(&self, subdomain: &str, draft: EndpointDraft) -> Result<WebhookEndpoint> {
        self.check_destination(&draft)?;
        self.for_tenant_writing(subdomain, move |conn, tenant, now| {
            let disabled = draft.disabled.unwrap_or(false);
            let new = NewEndpoint {
                tenant_id: tenant.id,
                url: draft.url.unwrap_or_default(),
                events: join_event_types(&draft.events.unwrap_or_default()),
                description: draft.description,
                disabled,
                secret: sms_delivery::events::new_secret(),
                created_at: now,
                updated_at: now,
                format: draft.format.unwrap_or(EndpointFormat::Standard).as_str().to_owned(),
                disabled_at: disabled.then_some(now),
            };
            Ok(endpoints::create(conn, &new)?)
        })
        .await
    }

    pub async fn webhooks(&self, subdomain: &str, page: &PageQuery) -> Result<(Vec<WebhookEndpoint>, i64)> {
        let window = page.window()?;
        self.for_tenant(subdomain, move |conn, tenant, _| Ok(endpoints::list(conn, tenant.id, window)?)).await
    }

    pub async fn webhook(&self, subdomain: &str, id: EndpointId) -> Result<WebhookEndpoint> {
        self.for_tenant(subdomain, move |conn, tenant, _| {
            endpoints::find(conn, tenant.id, id)?.ok_or(ServiceError::NotFound("webhook"))
        })
        .await
    }

    /// An endpoint's URL must not name the service's own network (a literal private, loopback,
    /// link-local… address) unless the operator allows it; a name is checked at connection time.
    fn check_destination(&self, draft: &EndpointDraft) -> Result<()> {
        match &draft.url {
            Some(url) if !self.inner.destinations.permits_url(url) => Err(AdminInputError::Url.into()),
            _ => Ok(()),
        }
    }

    /// Changes an endpoint. Enabling a disabled one lets its waiting deliveries go out;
    /// disabling one starts the time its deliveries may wait.
    pub async fn update_webhook(
        &self,
        subdomain: &str,
        id: EndpointId,
        draft: EndpointDraft,
    ) -> Result<WebhookEndpoint> {
        self.check_destination(&draft)?;
        self.for_tenant_writing(subdomain, move |conn, tenant, now| {
            sms_store::transaction(conn, |conn| {
                let current = endpoints::find(conn, tenant.id, id)?.ok_or(ServiceError::NotFound("webhook"))?;
                let disabled_at = match draft.disabled {
                    Some(true) if !current.disabled => Some(Some(now)),
                    Some(false) => Some(None),
                    _ => None,
                };
                let changes = EndpointChanges {
                    url: draft.url,
                    events: draft.events.map(|e| join_event_types(&e)),
                    description: draft.description.map(|d| Some(d).filter(|d| !d.is_empty())),
                    disabled: draft.disabled,
                    updated_at: Some(now),
                    format: draft.format.map(|f| f.as_str().to_owned()),
                    disabled_at,
                };
                endpoints::update(conn, tenant.id, id, &changes)?.ok_or(ServiceError::NotFound("webhook"))
            })
        })
        .await
    }

    /// Queues one delivery of a `webhook.test` event (`data`: `{"endpoint_id"}`) to this endpoint
    /// alone, whatever its `events`: signed, retried and listed like any other.
    pub async fn test_webhook(&self, subdomain: &str, id: EndpointId) -> Result<DeliveryRow> {
        self.for_tenant_writing(subdomain, move |conn, tenant, now| {
            sms_store::transaction(conn, |conn| {
                let endpoint = endpoints::find(conn, tenant.id, id)?.ok_or(ServiceError::NotFound("webhook"))?;
                let data = crate::events::TestEventData { endpoint_id: id.get() };
                let to = (id, endpoint.format);
                let delivery = crate::events::emit_to(conn, tenant.id, to, EventType::WebhookTest, data, now)?;
                deliveries::find(conn, id, delivery)?.ok_or(ServiceError::Internal("the test delivery vanished".into()))
            })
        })
        .await
    }

    /// Deletes an endpoint; its pending deliveries are dropped.
    pub async fn delete_webhook(&self, subdomain: &str, id: EndpointId) -> Result<()> {
        self.for_tenant_writing(subdomain, move |conn, tenant, _| {
            endpoints::delete(conn, tenant.id, id)?.then_some(()).ok_or(ServiceError::NotFound("webhook"))
        })
        .await
    }

    /// A new signing secret; for 24 hours the previous one signs too, so a receiver can switch
    /// over without losing a delivery.
    pub async fn rotate_webhook_secret(&self, subdomain: &str, id: EndpointId) -> Result<String> {
        self.for_tenant_writing(subdomain, move |conn, tenant, now| {
            let secret = sms_delivery::events::new_secret();
            let until = now + chrono::Duration::hours(ROTATION_OVERLAP_HOURS);
            endpoints::rotate_secret(conn, tenant.id, id, &secret, until, now)?
                .ok_or(ServiceError::NotFound("webhook"))?;
            Ok(secret)
        })
        .await
    }

    /// A page of an endpoint's deliveries, newest first, optionally of one status.
    pub async fn webhook_deliveries(
        &self,
        subdomain: &str,
        id: EndpointId,
        query: &DeliveryPage,
    ) -> Result<(Vec<DeliveryRow>, i64)> {
        let window = PageQuery { page: query.page.clone(), per: query.per.clone() }.window()?;
        let status = query
            .status
            .as_deref()
            .map(|s| {
                DeliveryState::parse(s)
                    .ok_or_else(|| ServiceError::Invalid("status must be one of pending, delivered, failed".into()))
            })
            .transpose()?;
        self.for_tenant(subdomain, move |conn, tenant, _| {
            endpoints::find(conn, tenant.id, id)?.ok_or(ServiceError::NotFound("webhook"))?;
            Ok(deliveries::list(conn, id, status, window)?)
        })
        .await
    }

    /// Makes a delivery pending again, due now, its attempts starting over.
    pub async fn retry_webhook_delivery(
        &self,
        subdomain: &str,
        id: EndpointId,
        delivery_id: DeliveryId,
    ) -> Result<DeliveryRow> {
        self.for_tenant_writing(subdomain, move |conn, tenant, now| {
            endpoints::find(conn, tenant.id, id)?.ok_or(ServiceError::NotFound("webhook"))?;
            deliveries::retry(conn, id, delivery_id, now)?.ok_or(ServiceError::NotFound("delivery"))
        })
        .await
    }
}
