//! The JSON forms of what the service answers and tells: the CCAI chat object, byte for byte in
//! key order and value shapes, and the message object. They live here, not in the HTTP crate,
//! because events carry them too (a webhook's `chat.ended` holds the same chat object as
//! `GET /apps/api/v1/chats/{id}`), and events are written by the workflows.

use serde::Serialize;
use serde_json::Value;
use sms_domain::time::format_timestamp;
use sms_store::{Agent, ChatBundle, Message, Participant, UnroutedMessage};
use utoipa::ToSchema;

/// The assigned agent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentInfo {
    pub id: i64,
    pub agent_number: Option<i64>,
    pub email: String,
    pub name: String,
    pub first_name: String,
    pub last_name: String,
    pub avatar_url: Option<String>,
}

impl From<&Agent> for AgentInfo {
    fn from(a: &Agent) -> Self {
        Self {
            id: a.id.get(),
            agent_number: a.agent_number,
            email: a.email.clone(),
            name: a.name.clone(),
            first_name: a.first_name.clone(),
            last_name: a.last_name.clone(),
            avatar_url: a.avatar_url.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndUserRef {
    pub id: i64,
    pub identifier: Option<String>,
    pub out_contact_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ParticipantObject {
    pub id: i64,
    /// `"end_user"` or `"agent"`.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: String,
    /// `"connected"` or `"disconnected"`.
    pub status: String,
    pub chat_id: i64,
    /// The agent's id, for an agent participant.
    pub user_id: Option<i64>,
    pub end_user_id: Option<i64>,
    /// Seconds connected, once the participant has left.
    pub chat_duration: Option<i64>,
    pub connected_at: String,
    pub ended_at: Option<String>,
    pub fail_reason: String,
}

impl From<&Participant> for ParticipantObject {
    fn from(p: &Participant) -> Self {
        Self {
            id: p.id,
            kind: p.kind.as_str().to_owned(),
            status: p.status.as_str().to_owned(),
            chat_id: p.chat_id.get(),
            user_id: p.user_id.map(i64::from),
            end_user_id: p.end_user_id.map(i64::from),
            chat_duration: p.chat_duration.map(i64::from),
            connected_at: format_timestamp(p.connected_at),
            ended_at: p.ended_at.map(format_timestamp),
            fail_reason: "nothing".into(),
        }
    }
}

/// A chat as CCAI clients expect it. Timestamps are UTC RFC 3339 with three fractional digits.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 114, "lang": "en", "chat_type": "Messaging (SMS)", "status": "selecting",
    "created_at": "2021-10-04T17:20:51.000Z", "queued_at": null, "assigned_at": null, "ends_at": null,
    "wait_duration": 0, "chat_duration": 0, "rating": null, "has_feedback": false,
    "out_ticket_id": "5006x00000XXxxxXXX", "out_ticket_url": null, "verified": false,
    "disconnected_by": "disconnected_by_unknown", "fail_reason": null,
    "selected_menu": null, "menu_path": null, "agent_info": null,
    "end_user": {"id": 87, "identifier": null, "out_contact_id": null},
    "photos": [], "videos": [], "transfers": [],
    "participants": [
        {"id": 205, "type": "end_user", "status": "connected", "chat_id": 114, "user_id": null,
         "end_user_id": 87, "chat_duration": null, "connected_at": "2021-10-04T17:20:51.000Z",
         "ended_at": null, "fail_reason": "nothing"}
    ],
    "offer_type": null, "offer_events": [], "answer_type": "manual", "outbound_number": "+16285550199"
}))]
pub struct ChatObject {
    pub id: i64,
    pub lang: String,
    pub chat_type: String,
    /// `selecting`, `queued`, `assigned` (active) or `finished`.
    pub status: String,
    pub created_at: String,
    pub queued_at: Option<String>,
    pub assigned_at: Option<String>,
    pub ends_at: Option<String>,
    pub wait_duration: i64,
    /// Seconds from creation to the end; 0 while active.
    pub chat_duration: i64,
    pub rating: Option<i64>,
    pub has_feedback: bool,
    /// The request's `ticket_id`.
    pub out_ticket_id: Option<String>,
    pub out_ticket_url: Option<String>,
    pub verified: bool,
    /// `disconnected_by_unknown`, `disconnected_by_agent`, `disconnected_by_end_user` or
    /// `disconnected_by_system`.
    pub disconnected_by: String,
    pub fail_reason: Option<String>,
    pub selected_menu: Option<String>,
    pub menu_path: Option<String>,
    pub agent_info: Option<AgentInfo>,
    pub end_user: EndUserRef,
    #[schema(value_type = Vec<Object>)]
    pub photos: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub videos: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub transfers: Vec<Value>,
    pub participants: Vec<ParticipantObject>,
    pub offer_type: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub offer_events: Vec<Value>,
    pub answer_type: String,
    /// E.164.
    pub outbound_number: String,
}

impl From<&ChatBundle> for ChatObject {
    fn from(b: &ChatBundle) -> Self {
        let chat = &b.chat;
        Self {
            id: chat.id.get(),
            lang: chat.lang.clone(),
            chat_type: chat.chat_type.as_str().to_owned(),
            status: chat.status.as_str().to_owned(),
            created_at: format_timestamp(chat.created_at),
            queued_at: None,
            assigned_at: chat.assigned_at.map(format_timestamp),
            ends_at: chat.ends_at.map(format_timestamp),
            wait_duration: 0,
            chat_duration: chat.duration_seconds(),
            rating: None,
            has_feedback: false,
            out_ticket_id: chat.ticket_id.clone(),
            out_ticket_url: None,
            verified: false,
            disconnected_by: chat.disconnected_by.as_str().to_owned(),
            fail_reason: None,
            selected_menu: None,
            menu_path: None,
            agent_info: b.agent.as_ref().map(AgentInfo::from),
            end_user: EndUserRef { id: chat.end_user_id.get(), identifier: None, out_contact_id: None },
            photos: Vec::new(),
            videos: Vec::new(),
            transfers: Vec::new(),
            participants: b.participants.iter().map(ParticipantObject::from).collect(),
            offer_type: None,
            offer_events: Vec::new(),
            answer_type: "manual".into(),
            outbound_number: chat.outbound_number.as_str().to_owned(),
        }
    }
}

/// One medium of an MMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct MediaObject {
    /// Where the medium is.
    #[schema(example = "https://media.example.com/photo.jpg")]
    pub url: String,
    /// Its MIME type, when known.
    #[schema(example = "image/jpeg")]
    pub content_type: Option<String>,
}

/// A message's media as stored (a JSON array), or none.
pub(crate) fn media_of(stored: Option<&str>) -> Vec<MediaObject> {
    stored.and_then(|text| serde_json::from_str(text).ok()).unwrap_or_default()
}

/// One message of a chat, either direction.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 7, "chat_id": 114, "direction": "outbound", "body": "Your order shipped today.", "segments": 1,
    "delivery_status": "queued", "provider_message_id": null, "error": null, "agent_id": 1, "media": [],
    "created_at": "2021-10-04T17:25:02.000Z", "updated_at": "2021-10-04T17:25:02.000Z"
}))]
pub struct MessageObject {
    pub id: i64,
    /// The chat it belongs to; null for a reply that found no active chat (events only).
    pub chat_id: Option<i64>,
    /// `outbound` (to the consumer) or `inbound` (a reply).
    pub direction: String,
    pub body: String,
    /// SMS segments: GSM-7 160 single / 153 per part, otherwise UCS-2 70 / 67.
    pub segments: i32,
    /// `queued`, `sending`, `sent`, `delivered`, `undelivered`, `failed`; `received` for replies.
    pub delivery_status: String,
    pub provider_message_id: Option<String>,
    /// The provider's reason when delivery failed or is being retried.
    pub error: Option<String>,
    /// The agent who wrote it, or null.
    pub agent_id: Option<i64>,
    /// The MMS media, in order; empty when there is none.
    pub media: Vec<MediaObject>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Message> for MessageObject {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id.get(),
            chat_id: m.chat_id.map(i64::from),
            direction: m.direction.as_str().to_owned(),
            body: m.body.clone(),
            segments: m.segments,
            delivery_status: m.delivery_status.as_str().to_owned(),
            provider_message_id: m.provider_message_id.clone(),
            error: m.error.clone(),
            agent_id: m.agent_id.map(i64::from),
            media: media_of(m.media.as_deref()),
            created_at: format_timestamp(m.created_at),
            updated_at: format_timestamp(m.updated_at),
        }
    }
}

/// A reply kept aside (no active chat) in the form of a message, for `message.received`.
impl From<&UnroutedMessage> for MessageObject {
    fn from(m: &UnroutedMessage) -> Self {
        Self {
            id: m.id,
            chat_id: None,
            direction: sms_domain::Direction::Inbound.as_str().to_owned(),
            segments: sms_domain::segments::count(&m.body),
            body: m.body.clone(),
            delivery_status: sms_domain::DeliveryStatus::Received.as_str().to_owned(),
            provider_message_id: m.provider_message_id.clone(),
            error: None,
            agent_id: None,
            media: media_of(m.media.as_deref()),
            created_at: format_timestamp(m.created_at),
            updated_at: format_timestamp(m.created_at),
        }
    }
}
