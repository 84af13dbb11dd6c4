//! The events a tenant's systems hear about, written in the caller's transaction together with
//! the change that causes them, so an event is never lost and never told of a change that did
//! not commit. Every workflow that changes a chat, a message or an opt-out calls one of these.
//!
//! An event is written only when at least one of the tenant's endpoints receives its type; its
//! body (`{"type", "timestamp", "data"}`) is serialised once, and every delivery and retry posts
//! those exact bytes.

use chrono::NaiveDateTime;
use serde::Serialize;
use sms_domain::time::format_timestamp;
use sms_domain::{ChatId, E164Number, EndpointId, EventType, TenantId};
use sms_store::events::{self, NewEvent};
use sms_store::{ChatBundle, DbConn, StoreError};
use utoipa::ToSchema;

use crate::views::{ChatObject, MessageObject};

/// The body of every event delivery: a `POST` of this JSON to the endpoint's URL, with the
/// headers `webhook-id` (the event's id, the same on every retry), `webhook-timestamp` (Unix
/// seconds of the attempt) and `webhook-signature` (`v1,` and the Base64 of HMAC-SHA256 over
/// `{webhook-id}.{webhook-timestamp}.{body}` keyed with the decoded secret after `whsec_`; two
/// such values, separated by a space, for 24 hours after a rotation).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Event, example = json!({
    "type": "message.received", "timestamp": "2026-12-03T10:04:40.000Z",
    "data": {"chat_id": 114, "end_user_number": "+14155550100", "message": {
        "id": 8, "chat_id": 114, "direction": "inbound", "body": "Thanks!", "segments": 1,
        "delivery_status": "received", "provider_message_id": "SM5d3c", "error": null, "agent_id": null,
        "media": [], "created_at": "2026-12-03T10:04:40.000Z", "updated_at": "2026-12-03T10:04:40.000Z"}}
}))]
pub struct EventBody {
    /// The event type.
    #[serde(rename = "type")]
    #[schema(rename = "type", value_type = EventType)]
    pub kind: &'static str,
    /// When it happened (the format of the chat object's timestamps).
    pub timestamp: String,
    /// `chat.*`: `{"chat"}`; `message.*`: `{"chat_id", "end_user_number", "message"}`;
    /// `consumer.*`: `{"end_user_number", "keyword", "chat_id"}`.
    pub data: EventData,
}

/// What an event carries, by its type.
// Boxed: a chat object is much larger than the rest.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EventData {
    Chat(Box<ChatEventData>),
    Message(Box<MessageEventData>),
    Consumer(ConsumerEventData),
    Test(TestEventData),
}

/// `data` of `webhook.test`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestEventData {
    /// The endpoint the test was sent to.
    pub endpoint_id: i64,
}

impl From<TestEventData> for EventData {
    fn from(data: TestEventData) -> Self {
        Self::Test(data)
    }
}

impl From<ChatEventData> for EventData {
    fn from(data: ChatEventData) -> Self {
        Self::Chat(Box::new(data))
    }
}

impl From<MessageEventData> for EventData {
    fn from(data: MessageEventData) -> Self {
        Self::Message(Box::new(data))
    }
}

impl From<ConsumerEventData> for EventData {
    fn from(data: ConsumerEventData) -> Self {
        Self::Consumer(data)
    }
}

/// `data` of `chat.created`, `chat.assigned` and `chat.ended`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatEventData {
    pub chat: ChatObject,
}

/// `data` of `message.received` and `message.status_updated`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageEventData {
    /// The chat of the message; null for a reply that found no active chat.
    pub chat_id: Option<i64>,
    /// The consumer's number, E.164.
    pub end_user_number: String,
    pub message: MessageObject,
}

/// `data` of `consumer.opted_out` and `consumer.opted_in`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsumerEventData {
    /// The consumer's number, E.164.
    pub end_user_number: String,
    /// The keyword the consumer sent (as matched, in capitals); null when the provider reported
    /// the opt-out.
    pub keyword: Option<String>,
    /// The consumer's chat the keyword arrived in (and that an opt-out ended), if any.
    pub chat_id: Option<i64>,
}

/// The body every delivery of an event posts, serialised once.
fn body_of(kind: EventType, data: impl Into<EventData>, at: NaiveDateTime) -> Result<String, StoreError> {
    let body = EventBody { kind: kind.as_str(), timestamp: format_timestamp(at), data: data.into() };
    serde_json::to_string(&body).map_err(|e| StoreError::Config(format!("event payload: {e}")))
}

/// A new event's public id, `webhook-id` on every delivery and retry of it.
fn new_event_id() -> String {
    format!("evt_{}", hex::encode(rand::random::<[u8; 16]>()))
}

/// Writes an event of `tenant_id` with `data`, that happened `at`, and a delivery to each of
/// the tenant's endpoints that receives `kind`.
pub(crate) fn emit(
    conn: &mut DbConn,
    tenant_id: TenantId,
    kind: EventType,
    data: impl Into<EventData>,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let payload = body_of(kind, data, at)?;
    let event_id = new_event_id();
    let event = NewEvent { tenant_id, event_id: &event_id, event_type: kind.as_str(), payload: &payload, at };
    if events::record_for_subscribers(conn, &event)? > 0 {
        metrics::counter!("sms_events_total", "type" => kind.as_str()).increment(1);
    }
    Ok(())
}

/// Writes an event of `tenant_id` with one delivery, to `endpoint` alone (whatever the types it
/// receives); answers the delivery.
pub(crate) fn emit_to(
    conn: &mut DbConn,
    tenant_id: TenantId,
    endpoint: EndpointId,
    kind: EventType,
    data: impl Into<EventData>,
    at: NaiveDateTime,
) -> Result<sms_domain::DeliveryId, StoreError> {
    let payload = body_of(kind, data, at)?;
    let event_id = new_event_id();
    let event = NewEvent { tenant_id, event_id: &event_id, event_type: kind.as_str(), payload: &payload, at };
    let delivery = events::record_for(conn, &event, endpoint)?;
    metrics::counter!("sms_events_total", "type" => kind.as_str()).increment(1);
    Ok(delivery)
}

/// Events gathered to be written together (a delivery worker's batch of outcomes): the
/// endpoints are looked up once per tenant, and the events and their deliveries written in two
/// statements.
#[derive(Default)]
pub(crate) struct Batch {
    events: Vec<(TenantId, EventType, String, NaiveDateTime, String)>,
}

impl Batch {
    pub(crate) fn add(
        &mut self,
        tenant_id: TenantId,
        kind: EventType,
        data: impl Into<EventData>,
        at: NaiveDateTime,
    ) -> Result<(), StoreError> {
        self.events.push((tenant_id, kind, body_of(kind, data, at)?, at, new_event_id()));
        Ok(())
    }

    /// Writes the events that some endpoint receives, with their deliveries.
    pub(crate) fn write(self, conn: &mut DbConn) -> Result<(), StoreError> {
        if self.events.is_empty() {
            return Ok(());
        }
        let mut subscribed: Vec<(TenantId, Vec<(EndpointId, String)>)> = Vec::new();
        for (tenant_id, ..) in &self.events {
            if !subscribed.iter().any(|(t, _)| t == tenant_id) {
                subscribed.push((*tenant_id, sms_store::endpoints::by_type(conn, *tenant_id)?));
            }
        }
        let receiving = |tenant_id: TenantId, kind: EventType| -> Vec<EndpointId> {
            subscribed
                .iter()
                .filter(|(t, _)| *t == tenant_id)
                .flat_map(|(_, endpoints)| endpoints.iter())
                .filter(|(_, types)| types.split(' ').any(|t| t == kind.as_str()))
                .map(|(id, _)| *id)
                .collect()
        };
        let batch: Vec<(NewEvent<'_>, Vec<EndpointId>)> = self
            .events
            .iter()
            .filter_map(|(tenant_id, kind, payload, at, event_id)| {
                let endpoints = receiving(*tenant_id, *kind);
                if endpoints.is_empty() {
                    return None;
                }
                metrics::counter!("sms_events_total", "type" => kind.as_str()).increment(1);
                let event = NewEvent { tenant_id: *tenant_id, event_id, event_type: kind.as_str(), payload, at: *at };
                Some((event, endpoints))
            })
            .collect();
        events::record_many(conn, &batch)
    }
}

/// `chat.created`, `chat.assigned` or `chat.ended` of a chat as it is now.
/// An ended chat's event happened when it ended (a chat that timed out ended at its timeout).
pub(crate) fn chat(
    conn: &mut DbConn,
    kind: EventType,
    bundle: &ChatBundle,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let at = if kind == EventType::ChatEnded { bundle.chat.ends_at.unwrap_or(at) } else { at };
    emit(conn, bundle.chat.tenant_id, kind, ChatEventData { chat: ChatObject::from(bundle) }, at)
}

/// [`chat`] for a chat known by id: read inside the same transaction, as just changed.
pub(crate) fn chat_by_id(
    conn: &mut DbConn,
    kind: EventType,
    tenant_id: TenantId,
    chat_id: ChatId,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    match sms_store::chats::find(conn, tenant_id, chat_id)? {
        Some(bundle) => chat(conn, kind, &bundle, at),
        None => Ok(()),
    }
}

/// `message.received` or `message.status_updated`.
pub(crate) fn message(
    conn: &mut DbConn,
    kind: EventType,
    tenant_id: TenantId,
    end_user_number: &E164Number,
    message: MessageObject,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let data =
        MessageEventData { chat_id: message.chat_id, end_user_number: end_user_number.as_str().to_owned(), message };
    emit(conn, tenant_id, kind, data, at)
}

/// `consumer.opted_out` or `consumer.opted_in`.
pub(crate) fn consumer(
    conn: &mut DbConn,
    kind: EventType,
    tenant_id: TenantId,
    data: ConsumerEventData,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    emit(conn, tenant_id, kind, data, at)
}
