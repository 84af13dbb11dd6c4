//! The platform's chat webhooks (SPEC section 13.3): what an endpoint of format `ccai` receives
//! for an event, in the platform's envelope `{"event_type", "timestamp", "chat_id", "body"}`. One
//! event may stand for several of the platform's (a chat that ends: a `participant_left` for
//! each participant, then `chat_ended`), each written as an event and a delivery of its own.
//! Events the platform has no counterpart for keep their `data` under the type with `_` for `.`.

use chrono::NaiveDateTime;
use serde::Serialize;
use sms_domain::time::format_timestamp;
use sms_domain::{EventType, ParticipantKind};
use sms_store::{ChatBundle, StoreError};

use crate::views::{ChatObject, MediaObject, MessageObject, ParticipantObject};

/// One of the platform's events, rendered: its id (`X-Event-Id`), type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlatformEvent {
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
}

#[derive(Serialize)]
struct Envelope<'a, B: Serialize> {
    event_type: &'a str,
    timestamp: &'a str,
    chat_id: Option<i64>,
    body: B,
}

#[derive(Serialize)]
struct ChatBody<'a> {
    chat: &'a ChatObject,
}

#[derive(Serialize)]
struct ParticipantBody<'a> {
    participant: &'a ParticipantObject,
}

/// Who wrote a message, as the platform names a message's sender.
#[derive(Debug, Serialize, PartialEq, Eq)]
struct Sender {
    id: Option<i64>,
    #[serde(rename = "type")]
    kind: String,
    status: String,
    connected_at: String,
}

#[derive(Serialize)]
struct MessageBody<'a> {
    sender: Sender,
    message: Text<'a>,
}

#[derive(Serialize)]
struct Text<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    content: &'a str,
    media: &'a [MediaObject],
}

fn render(
    event_type: &str,
    at: NaiveDateTime,
    chat_id: Option<i64>,
    body: impl Serialize,
) -> Result<PlatformEvent, StoreError> {
    let timestamp = format_timestamp(at);
    let envelope = Envelope { event_type, timestamp: &timestamp, chat_id, body };
    let payload = serde_json::to_string(&envelope).map_err(|e| StoreError::Config(format!("event payload: {e}")))?;
    Ok(PlatformEvent { event_id: crate::events::new_event_id(), event_type: event_type.to_owned(), payload })
}

/// The platform's events for `chat.created`, `chat.assigned` or `chat.ended` of the chat as it
/// is now.
pub(crate) fn chat(kind: EventType, bundle: &ChatBundle, at: NaiveDateTime) -> Result<Vec<PlatformEvent>, StoreError> {
    let chat = ChatObject::from(bundle);
    let id = Some(chat.id);
    let participants: Vec<ParticipantObject> = bundle.participants.iter().map(ParticipantObject::from).collect();
    let agents = || participants.iter().filter(|p| p.kind == ParticipantKind::Agent.as_str());
    let mut events = Vec::new();
    match kind {
        EventType::ChatCreated => {
            events.push(render("chat_created", at, id, ChatBody { chat: &chat })?);
            for agent in agents() {
                events.push(render("participant_joined", at, id, ParticipantBody { participant: agent })?);
            }
        }
        EventType::ChatAssigned => {
            // The agent who joined is the chat's newest agent participant.
            if let Some(agent) = agents().next_back() {
                events.push(render("participant_joined", at, id, ParticipantBody { participant: agent })?);
            }
        }
        EventType::ChatEnded => {
            for participant in &participants {
                events.push(render("participant_left", at, id, ParticipantBody { participant })?);
            }
            events.push(render("chat_ended", at, id, ChatBody { chat: &chat })?);
        }
        other => events.push(render(&platform_name(other), at, id, ChatBody { chat: &chat })?),
    }
    Ok(events)
}

/// `message_received` for a message of either direction: the consumer's, an agent's, or one no
/// agent wrote (the `system`'s). `bundle` is the message's chat, if it has one.
pub(crate) fn message(
    bundle: Option<&ChatBundle>,
    message: &MessageObject,
    at: NaiveDateTime,
) -> Result<PlatformEvent, StoreError> {
    let body = MessageBody {
        sender: sender(bundle, message),
        message: Text { kind: "text", content: &message.body, media: &message.media },
    };
    render("message_received", at, message.chat_id, body)
}

/// The message's participant: the consumer's for a reply, the agent's who wrote it, or the
/// system for a message no agent wrote.
fn sender(bundle: Option<&ChatBundle>, message: &MessageObject) -> Sender {
    let participant = |wanted: &dyn Fn(&sms_store::Participant) -> bool| {
        bundle.and_then(|b| b.participants.iter().find(|p| wanted(p))).map(|p| Sender {
            id: Some(p.id),
            kind: p.kind.as_str().to_owned(),
            status: p.status.as_str().to_owned(),
            connected_at: format_timestamp(p.connected_at),
        })
    };
    let since = bundle.map_or_else(|| message.created_at.clone(), |b| format_timestamp(b.chat.created_at));
    let absent = |kind: &str| Sender {
        id: None,
        kind: kind.to_owned(),
        status: "connected".into(),
        connected_at: since.clone(),
    };
    if message.direction == sms_domain::Direction::Inbound.as_str() {
        return participant(&|p| p.kind == ParticipantKind::EndUser).unwrap_or_else(|| absent("end_user"));
    }
    match message.agent_id {
        Some(agent) => participant(&|p| p.user_id.map(i64::from) == Some(agent)).unwrap_or_else(|| absent("agent")),
        None => absent("system"),
    }
}

/// An event the platform has no counterpart for: its `data` as the body, under its type with
/// `_` for `.` (`consumer.opted_out` as `consumer_opted_out`).
pub(crate) fn other(
    kind: EventType,
    chat_id: Option<i64>,
    data: &serde_json::Value,
    at: NaiveDateTime,
) -> Result<PlatformEvent, StoreError> {
    render(&platform_name(kind), at, chat_id, data)
}

fn platform_name(kind: EventType) -> String {
    kind.as_str().replace('.', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(direction: &str, agent_id: Option<i64>) -> MessageObject {
        MessageObject {
            id: 1,
            chat_id: Some(5),
            direction: direction.into(),
            body: "Hi".into(),
            segments: 1,
            delivery_status: "queued".into(),
            provider_message_id: None,
            error: None,
            agent_id,
            media: Vec::new(),
            created_at: "2026-12-05T10:00:00.000Z".into(),
            updated_at: "2026-12-05T10:00:00.000Z".into(),
        }
    }

    #[test]
    fn a_message_without_a_chat_or_an_author_has_a_stand_in_sender() {
        let system = sender(None, &message("outbound", None));
        assert_eq!((system.id, system.kind.as_str(), system.status.as_str()), (None, "system", "connected"));
        assert_eq!(sender(None, &message("inbound", None)).kind, "end_user");
        assert_eq!(sender(None, &message("outbound", Some(3))).kind, "agent");
    }

    #[test]
    fn types_without_a_counterpart_keep_their_name() {
        assert_eq!(platform_name(EventType::ConsumerOptedOut), "consumer_opted_out");
        assert_eq!(platform_name(EventType::WebhookTest), "webhook_test");
        assert_eq!(platform_name(EventType::MessageStatusUpdated), "message_status_updated");
    }
}
