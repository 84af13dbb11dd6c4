//! The CCAI chat object, byte for byte in key order and value shapes (the OpenAPI document's
//! `ChatObject` example is the platform's own), and the message object. The request bodies are
//! the domain's own types (`sms_domain::SendSmsBody`, `ReplyBody`, `EndChatBody`), which the
//! document describes as they are parsed.

pub use sms_service::views::{AgentInfo, ChatObject, EndUserRef, MediaObject, MessageObject, ParticipantObject};
