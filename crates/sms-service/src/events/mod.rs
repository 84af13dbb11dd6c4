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
use sms_domain::{ChatId, E164Number, EndpointFormat, EndpointId, EventType, TenantId};
use sms_store::events::{self, NewEvent, Recorded};
use sms_store::{ChatBundle, DbConn, Message, StoreError};
use utoipa::ToSchema;

use crate::ccai;

mod batch;

use crate::views::{ChatObject, MessageObject};
pub(crate) use batch::Batch;

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
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsumerEventData {
    /// The consumer's number, E.164.
    pub end_user_number: String,
    /// The keyword the consumer sent (as matched, in capitals); null when the provider reported
    /// the opt-out.
    pub keyword: Option<String>,
    /// The consumer's chat the keyword arrived in (and that an opt-out ended), if any.
    pub chat_id: Option<i64>,
}

/// `data` as JSON, for the platform's envelope.
fn value_of(data: &EventData) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(data).map_err(|e| StoreError::Config(format!("event payload: {e}")))
}

/// The body every delivery of an event posts, serialised once.
fn body_of(kind: EventType, data: &EventData, at: NaiveDateTime) -> Result<String, StoreError> {
    /// [`EventBody`], borrowing its data.
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        timestamp: String,
        data: &'a EventData,
    }
    let body = Body { kind: kind.as_str(), timestamp: format_timestamp(at), data };
    serde_json::to_string(&body).map_err(|e| StoreError::Config(format!("event payload: {e}")))
}

/// A new event's public id, `webhook-id` (or `X-Event-Id`) on every delivery and retry of it.
pub(crate) fn new_event_id() -> String {
    format!("evt_{}", hex::encode(rand::random::<[u8; 16]>()))
}

/// The chat an event is about, if any.
fn chat_of(data: &EventData) -> Option<i64> {
    match data {
        EventData::Chat(d) => Some(d.chat.id),
        EventData::Message(d) => d.chat_id,
        EventData::Consumer(d) => d.chat_id,
        EventData::Test(_) => None,
    }
}

/// Writes an event of `tenant_id` with `data`, that happened `at`, and a delivery to each of
/// the tenant's standard endpoints that receives `kind`; answers what the tenant's `ccai`
/// endpoints receive, whose events the caller writes in their own shape.
pub(crate) fn emit(
    conn: &mut DbConn,
    tenant_id: TenantId,
    kind: EventType,
    data: impl Into<EventData>,
    at: NaiveDateTime,
) -> Result<Recorded, StoreError> {
    let data = data.into();
    crate::live::note(tenant_id, chat_of(&data));
    let payload = body_of(kind, &data, at)?;
    let event_id = new_event_id();
    let event = NewEvent { tenant_id, event_id: &event_id, event_type: kind.as_str(), payload: &payload, at };
    let recorded = events::record_for_subscribers(conn, &event, crate::handoff::lease())?;
    crate::handoff::leased(recorded.leased.clone());
    if recorded.deliveries > 0 {
        metrics::counter!("sms_events_total", "type" => kind.as_str()).increment(1);
    }
    Ok(recorded)
}

/// Writes the platform's events that stand for one event of type `via`, each with a delivery to
/// every `ccai` endpoint of the tenant that receives `via`.
fn emit_platform(
    conn: &mut DbConn,
    tenant_id: TenantId,
    via: EventType,
    rendered: &[ccai::PlatformEvent],
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let events: Vec<NewEvent<'_>> = rendered
        .iter()
        .map(|e| NewEvent { tenant_id, event_id: &e.event_id, event_type: &e.event_type, payload: &e.payload, at })
        .collect();
    let (written, leased) = events::record_platform(conn, via.as_str(), &events, crate::handoff::lease())?;
    crate::handoff::leased(leased);
    if written > 0 {
        metrics::counter!("sms_events_total", "type" => via.as_str()).increment(1);
    }
    Ok(())
}

/// Writes an event of `tenant_id` with one delivery, to `endpoint` alone (whatever the types it
/// receives), in the endpoint's `format`; answers the delivery.
pub(crate) fn emit_to(
    conn: &mut DbConn,
    tenant_id: TenantId,
    (endpoint, format): (EndpointId, EndpointFormat),
    kind: EventType,
    data: impl Into<EventData>,
    at: NaiveDateTime,
) -> Result<sms_domain::DeliveryId, StoreError> {
    let data = data.into();
    let rendered = match format {
        EndpointFormat::Standard => {
            let payload = body_of(kind, &data, at)?;
            ccai::PlatformEvent { event_id: new_event_id(), event_type: kind.as_str().to_owned(), payload }
        }
        EndpointFormat::Ccai => ccai::other(kind, None, &value_of(&data)?, at)?,
    };
    let event = NewEvent {
        tenant_id,
        event_id: &rendered.event_id,
        event_type: &rendered.event_type,
        payload: &rendered.payload,
        at,
    };
    let delivery = events::record_for(conn, &event, endpoint)?;
    metrics::counter!("sms_events_total", "type" => kind.as_str()).increment(1);
    Ok(delivery)
}

/// `chat.created`, `chat.assigned` or `chat.ended` of a chat as it is now, and the platform's
/// events for it; answers what the tenant's `ccai` endpoints receive. An ended chat's event
/// happened when it ended (a chat that timed out ended at its timeout).
pub(crate) fn chat(
    conn: &mut DbConn,
    kind: EventType,
    bundle: &ChatBundle,
    at: NaiveDateTime,
) -> Result<Recorded, StoreError> {
    let at = if kind == EventType::ChatEnded { bundle.chat.ends_at.unwrap_or(at) } else { at };
    let tenant_id = bundle.chat.tenant_id;
    let recorded = emit(conn, tenant_id, kind, ChatEventData { chat: ChatObject::from(bundle) }, at)?;
    if recorded.ccai_receives(kind.as_str()) {
        emit_platform(conn, tenant_id, kind, &ccai::chat(kind, bundle, at)?, at)?;
    }
    Ok(recorded)
}

/// A chat was opened: `chat.created`, and for the platform's format its first message too.
pub(crate) fn opened(conn: &mut DbConn, bundle: &ChatBundle, at: NaiveDateTime) -> Result<(), StoreError> {
    let recorded = chat(conn, EventType::ChatCreated, bundle, at)?;
    if recorded.ccai_receives(EventType::MessageReceived.as_str()) {
        let first = sms_store::chats::messages(conn, bundle.chat.id, sms_store::Window { offset: 0, limit: 1 })?.0;
        for message in &first {
            outbound(conn, bundle.chat.tenant_id, Some(&recorded.ccai_types), message, at)?;
        }
    }
    Ok(())
}

/// Opens the usual chat of `spec` and writes what [`opened`] would, in one statement, where the
/// store does so (PostgreSQL): `chat.created` rendered from the chat as it will be written,
/// twice with stand-in ids, for the statement to put the ids it takes where they stood. `None`:
/// nothing was written, and the caller opens the chat in a transaction. Call it outside a
/// transaction.
pub(crate) fn open_at_once(
    conn: &mut DbConn,
    spec: &sms_store::chats::NewChatSpec<'_>,
) -> Result<Option<ChatBundle>, StoreError> {
    use sms_store::chats::{CreatedEvent, StandIns, Template};
    let (kind, at) = (EventType::ChatCreated, spec.now);
    let render = |ids: StandIns| {
        body_of(kind, &EventData::from(ChatEventData { chat: ChatObject::from(&ids.bundle(spec)) }), at)
    };
    let (first, second) = (render(StandIns::FIRST)?, render(StandIns::SECOND)?);
    let Some(payload) = Template::cut(&first, &second) else { return Ok(None) };
    let event_id = new_event_id();
    let event = CreatedEvent { event_id: &event_id, event_type: kind.as_str(), payload, at };
    // The platform's events for these must commit with the chat ([`opened`] writes them): while
    // a `ccai` endpoint of the tenant receives one, the chat is opened in a transaction.
    let for_ccai = [EventType::ChatCreated.as_str(), EventType::MessageReceived.as_str()];
    let leases = crate::handoff::leases();
    let Some(opened) = sms_store::chats::open_at_once(conn, spec, &event, leases, &for_ccai)? else {
        return Ok(None);
    };
    crate::live::note(spec.tenant_id, Some(opened.bundle.chat.id.get()));
    crate::handoff::leased(opened.leased);
    if let Some(message) = opened.message_leased {
        crate::handoff::message_leased(message);
    }
    if opened.deliveries > 0 {
        metrics::counter!("sms_events_total", "type" => kind.as_str()).increment(1);
    }
    Ok(Some(opened.bundle))
}

/// [`chat`] for a chat known by id: read inside the same transaction, as just changed.
pub(crate) fn chat_by_id(
    conn: &mut DbConn,
    kind: EventType,
    tenant_id: TenantId,
    chat_id: ChatId,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    if let Some(bundle) = sms_store::chats::find(conn, tenant_id, chat_id)? {
        chat(conn, kind, &bundle, at)?;
    }
    Ok(())
}

/// `message.received` (a consumer's reply) or `message.status_updated`, and the platform's
/// event for it.
pub(crate) fn message(
    conn: &mut DbConn,
    kind: EventType,
    tenant_id: TenantId,
    end_user_number: &E164Number,
    message: MessageObject,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let chat_id = message.chat_id;
    let data = |message| MessageEventData { chat_id, end_user_number: end_user_number.as_str().to_owned(), message };
    let recorded = emit(conn, tenant_id, kind, data(message.clone()), at)?;
    if !recorded.ccai_receives(kind.as_str()) {
        return Ok(());
    }
    let rendered = if kind == EventType::MessageReceived {
        let bundle = match chat_id {
            Some(id) => sms_store::chats::find(conn, tenant_id, ChatId::new(id))?,
            None => None,
        };
        ccai::message(bundle.as_ref(), &message, at)?
    } else {
        ccai::other(kind, chat_id, &value_of(&data(message).into())?, at)?
    };
    emit_platform(conn, tenant_id, kind, &[rendered], at)
}

/// An outbound message written into a chat (its first, an agent's, an automatic answer): the
/// platform tells every message of a chat as `message_received`, which the standard format
/// does not. `ccai_types` is what the tenant's `ccai` endpoints receive, when the caller knows
/// it already.
pub(crate) fn outbound(
    conn: &mut DbConn,
    tenant_id: TenantId,
    ccai_types: Option<&str>,
    message: &Message,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    crate::live::note(tenant_id, message.chat_id.map(ChatId::get));
    let types = match ccai_types {
        Some(types) => types.to_owned(),
        None => events::ccai_types(conn, tenant_id)?,
    };
    let kind = EventType::MessageReceived;
    if !types.split(' ').any(|t| t == kind.as_str()) {
        return Ok(());
    }
    let bundle = match message.chat_id {
        Some(id) => sms_store::chats::find(conn, tenant_id, id)?,
        None => None,
    };
    let rendered = ccai::message(bundle.as_ref(), &MessageObject::from(message), at)?;
    emit_platform(conn, tenant_id, kind, &[rendered], at)
}

/// `consumer.opted_out` or `consumer.opted_in`, and the platform's event for it.
pub(crate) fn consumer(
    conn: &mut DbConn,
    kind: EventType,
    tenant_id: TenantId,
    data: ConsumerEventData,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let chat_id = data.chat_id;
    if emit(conn, tenant_id, kind, data.clone(), at)?.ccai_receives(kind.as_str()) {
        emit_platform(conn, tenant_id, kind, &[ccai::other(kind, chat_id, &value_of(&data.into())?, at)?], at)?;
    }
    Ok(())
}
