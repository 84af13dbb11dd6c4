//! Answers of the event webhook admin API. The request bodies are the domain's own types
//! (`sms_domain::events::EndpointCreate`, `EndpointPatch`).

use serde::Serialize;
use sms_domain::events::split_event_types;
use sms_domain::time::format_timestamp;
use sms_domain::{DeliveryState, EventType};
use sms_service::records::{DeliveryRow, WebhookEndpoint};
use utoipa::ToSchema;

/// An endpoint; its secret is never here.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 1, "url": "https://crm.example.com/hooks/sms", "events": ["chat.created", "message.received"], "description": "CRM", "disabled": false, "created_at": "2026-12-03T10:00:00.000Z"}))]
pub struct WebhookOut {
    pub id: i64,
    pub url: String,
    /// The event types it receives.
    #[schema(value_type = Vec<EventType>)]
    pub events: Vec<String>,
    pub description: Option<String>,
    pub disabled: bool,
    /// What its deliveries look like: `standard` (Standard Webhooks).
    #[schema(value_type = sms_domain::EndpointFormat)]
    pub format: String,
    pub created_at: String,
}

impl From<&WebhookEndpoint> for WebhookOut {
    fn from(e: &WebhookEndpoint) -> Self {
        Self {
            id: e.id.get(),
            url: e.url.clone(),
            events: split_event_types(&e.events).into_iter().map(|t| t.as_str().to_owned()).collect(),
            description: e.description.clone(),
            disabled: e.disabled,
            format: e.format.as_str().to_owned(),
            created_at: format_timestamp(e.created_at),
        }
    }
}

/// An endpoint just created: the only answer, with rotation's, that shows its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 1, "url": "https://crm.example.com/hooks/sms", "events": ["chat.created", "message.received"], "description": "CRM", "disabled": false, "created_at": "2026-12-03T10:00:00.000Z", "secret": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}))]
pub struct WebhookCreated {
    #[serde(flatten)]
    #[schema(inline)]
    pub endpoint: WebhookOut,
    /// `whsec_` and the Base64 of 32 random bytes: the key of the Standard Webhooks signature.
    pub secret: String,
}

/// A rotated secret. For 24 hours the previous secret signs too.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"secret": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}))]
pub struct WebhookSecret {
    pub secret: String,
}

/// One event for one endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 12, "event_id": "evt_3f1c2a9d0b7e4c5a8e6f1d2c3b4a5968", "event_type": "chat.created", "status": "delivered", "attempts": 1, "last_status_code": 200, "last_error": null, "next_attempt_at": null, "created_at": "2026-12-03T10:00:01.000Z", "delivered_at": "2026-12-03T10:00:01.250Z"}))]
pub struct DeliveryOut {
    pub id: i64,
    /// The event's id: `webhook-id` of every attempt.
    pub event_id: String,
    /// The event's type as the endpoint receives it: one of `EventType` (`chat.created`, …), or,
    /// for an endpoint in the platform's format (`ccai`), the platform's name of it
    /// (`chat_created`, `webhook_test`, …).
    #[schema(example = "chat.created")]
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    #[schema(value_type = DeliveryState)]
    pub status: String,
    /// Attempts made (410 answers do not count).
    pub attempts: i32,
    /// The status the endpoint last answered, if it answered.
    pub last_status_code: Option<i32>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it is tried next, while pending.
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

impl From<&DeliveryRow> for DeliveryOut {
    fn from((d, event_id, event_type): &DeliveryRow) -> Self {
        Self {
            id: d.id.get(),
            event_id: event_id.clone(),
            event_type: event_type.clone(),
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error.clone(),
            next_attempt_at: d.next_attempt_at.map(format_timestamp),
            created_at: format_timestamp(d.created_at),
            delivered_at: d.delivered_at.map(format_timestamp),
        }
    }
}
