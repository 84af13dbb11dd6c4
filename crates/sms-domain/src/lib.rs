//! Domain types of the outbound SMS service.
//!
//! Everything here is pure: no database, no lock, no HTTP. Types are valid by construction
//! (an [`E164Number`] can only hold a US number that passed the service's number rules), so the layers
//! above never re-validate what they receive.

pub mod admin;
pub mod chat;
pub mod csv;
pub mod delivery;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod ids;
pub mod json;
mod names;
pub mod network;
pub mod patterns;
pub mod phone;
pub mod platform;
pub mod quiet;
pub mod reply;
pub mod secret;
pub mod segments;
pub mod sms;
pub mod time;

pub use chat::{
    AgentStatus, ChatStatus, ChatType, ChatTypeName, Direction, DisconnectedBy, EndChatBody, EndedBy, InvalidEndedBy,
    ParticipantKind, ParticipantStatus,
};
pub use delivery::DeliveryStatus;
pub use error::SmsError;
pub use events::{DeliveryState, EndpointFormat, EventType};
pub use idempotency::{IdempotencyKey, InvalidIdempotencyKey};
pub use ids::{AgentId, ChatId, DeliveryId, EndUserId, EndpointId, MessageId, NumberId, TenantId, TokenId};
pub use json::BodyError;
pub use names::UnknownName;
pub use phone::{E164Number, PhoneError};
pub use platform::{ChatMessageBody, ChatUpdateBody, InvalidChatStatus, UnsupportedMessageType};
pub use quiet::QuietHours;
pub use reply::{AssignBody, ReplyBody, ReplyContent};
pub use secret::Secret;
pub use sms::{Addressed, AgentSelector, Content, SendSmsBody, TenantPolicy};
