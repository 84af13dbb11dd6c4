//! Bodies of the event webhook admin API, and their conversions into the domain's inputs.

use serde::{Deserialize, Serialize};
use sms_domain::admin::AdminInputError;
use sms_domain::events::{split_event_types, EndpointDraft, EndpointInput};
use sms_domain::time::format_timestamp;
use sms_domain::EventType;
use sms_service::records::{DeliveryRow, WebhookEndpoint};
use utoipa::ToSchema;

/// A new endpoint. (Documents the body; it is read as [`EndpointInput`].)
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"url": "https://crm.example.com/hooks/sms", "events": ["chat.created", "message.received"], "description": "CRM"}))]
pub struct WebhookCreate {
    /// Absolute `http` or `https`, at most 2048 characters, without a user name or password.
    #[schema(required = true, nullable = false, max_length = 2048, example = "https://crm.example.com/hooks/sms")]
    pub url: Option<String>,
    /// The event types it receives: distinct, at least one; default all seven.
    #[schema(min_items = 1)]
    pub events: Option<Vec<EventType>>,
    /// Free text for people, at most 255 characters.
    #[schema(max_length = 255)]
    pub description: Option<String>,
    /// Create it disabled (default false): its deliveries wait until it is enabled.
    pub disabled: Option<bool>,
}

/// A change to an endpoint; absent fields keep their value.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"disabled": false}))]
pub struct WebhookPatch {
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    #[schema(min_items = 1)]
    pub events: Option<Vec<EventType>>,
    /// An empty string clears it.
    #[schema(max_length = 255)]
    pub description: Option<String>,
    /// `true`: it receives nothing, its deliveries wait; `false`: they go out.
    pub disabled: Option<bool>,
}

/// Event types arrive as strings so that an unknown one answers `events is invalid`.
#[derive(Debug, Deserialize)]
struct Raw {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    disabled: Option<bool>,
}

impl From<Raw> for EndpointInput {
    fn from(r: Raw) -> Self {
        Self { url: r.url, events: r.events, description: r.description, disabled: r.disabled }
    }
}

/// The body of a create or a change, as the domain's input.
pub fn endpoint_input(bytes: &[u8]) -> Result<EndpointInput, sms_domain::BodyError> {
    sms_domain::json::parse_object::<Raw>(bytes).map(EndpointInput::from)
}

/// A created endpoint's draft.
pub fn create_draft(bytes: &[u8]) -> Result<EndpointDraft, crate::error::ApiError> {
    let input = endpoint_input(bytes)?;
    input.into_draft().map_err(input_error)
}

/// A change's draft.
pub fn update_draft(bytes: &[u8]) -> Result<EndpointDraft, crate::error::ApiError> {
    let input = endpoint_input(bytes)?;
    input.into_update().map_err(input_error)
}

fn input_error(e: AdminInputError) -> crate::error::ApiError {
    crate::error::ApiError::bad_request(e.to_string())
}

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
    pub created_at: String,
}

impl From<&WebhookEndpoint> for WebhookOut {
    fn from(e: &WebhookEndpoint) -> Self {
        Self {
            id: e.id,
            url: e.url.clone(),
            events: split_event_types(&e.events).into_iter().map(|t| t.as_str().to_owned()).collect(),
            description: e.description.clone(),
            disabled: e.disabled,
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
    #[schema(value_type = EventType)]
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

/// A delivery's state.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl From<&DeliveryRow> for DeliveryOut {
    fn from((d, event_id, event_type): &DeliveryRow) -> Self {
        Self {
            id: d.id,
            event_id: event_id.clone(),
            event_type: event_type.clone(),
            status: d.status.clone(),
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error.clone(),
            next_attempt_at: d.next_attempt_at.map(format_timestamp),
            created_at: format_timestamp(d.created_at),
            delivered_at: d.delivered_at.map(format_timestamp),
        }
    }
}

/// The body of every event delivery: a `POST` of this JSON to the endpoint's URL, with the
/// headers `webhook-id` (the event's id, the same on every retry), `webhook-timestamp` (Unix
/// seconds of the attempt) and `webhook-signature` (`v1,` and the Base64 of HMAC-SHA256 over
/// `{webhook-id}.{webhook-timestamp}.{body}` keyed with the decoded secret after `whsec_`; two
/// such values, separated by a space, for 24 hours after a rotation).
#[derive(Debug, ToSchema)]
#[schema(example = json!({
    "type": "message.received", "timestamp": "2026-12-03T10:04:40.000Z",
    "data": {"chat_id": 114, "end_user_number": "+14155550100", "message": {
        "id": 8, "chat_id": 114, "direction": "inbound", "body": "Thanks!", "segments": 1,
        "delivery_status": "received", "provider_message_id": "SM5d3c", "error": null, "agent_id": null,
        "media": [], "created_at": "2026-12-03T10:04:40.000Z", "updated_at": "2026-12-03T10:04:40.000Z"}}
}))]
#[allow(dead_code)]
pub struct Event {
    /// The event type.
    #[schema(rename = "type")]
    kind: EventType,
    /// When it happened (the format of the chat object's timestamps).
    timestamp: String,
    /// `chat.*`: `{"chat"}`; `message.*`: `{"chat_id", "end_user_number", "message"}`;
    /// `consumer.*`: `{"end_user_number", "keyword", "chat_id"}`.
    data: EventData,
}

/// What an event carries, by its type.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)] // documentation only: never built
pub enum EventData {
    Chat(sms_service::ChatEventData),
    Message(sms_service::MessageEventData),
    Consumer(sms_service::ConsumerEventData),
}
