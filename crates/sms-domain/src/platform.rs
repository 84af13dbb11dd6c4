//! The platform's own Apps API bodies (SPEC section 13.1), read into this service's: a chat
//! update that finishes the chat is an end, a chat message is a reply.

use serde::Deserialize;
use serde_json::Value;

use crate::{AgentId, ReplyBody};

/// The body of `PATCH /apps/api/v1/chats/{id}`: only `chat.status = "finished"` does anything;
/// the platform's other keys (`escalation_id`, `deflection_channel`) are accepted and ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ChatUpdateRequest,
    example = json!({"finished_by_user_id": 17, "chat": {"status": "finished"}})))]
pub struct ChatUpdateBody {
    /// The agent who finishes the chat (an agent of the tenant); the chat is
    /// `disconnected_by_agent` with or without it.
    #[serde(default, deserialize_with = "crate::json::integer")]
    pub finished_by_user_id: Option<i64>,
    /// `{"status": "finished"}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object, example = json!({"status": "finished"})))]
    pub chat: Option<Value>,
}

/// A chat update that is not `{"chat": {"status": "finished"}}`; `Display` is the message answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("status is invalid")]
pub struct InvalidChatStatus;

impl ChatUpdateBody {
    /// The agent who finishes the chat, if named; an update that does not finish it is refused.
    pub fn finished_by(&self) -> Result<Option<AgentId>, InvalidChatStatus> {
        match self.chat.as_ref().and_then(|chat| chat.get("status")).and_then(Value::as_str) {
            Some("finished") => Ok(self.finished_by_user_id.map(AgentId::new)),
            _ => Err(InvalidChatStatus),
        }
    }
}

/// The body of `POST /apps/api/v1/chats/{id}/message`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ChatMessageRequest,
    example = json!({"from_user_id": 17, "message": {"type": "text", "content": "Your order shipped today."}})))]
pub struct ChatMessageBody {
    /// The agent who writes, as `agentId` of a reply.
    #[serde(default, deserialize_with = "crate::json::integer")]
    pub from_user_id: Option<i64>,
    /// `{"type": "text", "content": "<text>"}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object,
        example = json!({"type": "text", "content": "Your order shipped today."})))]
    pub message: Option<Value>,
}

/// A chat message of a type other than `text`; `Display` is the message answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("message type is not supported")]
pub struct UnsupportedMessageType;

impl ChatMessageBody {
    /// The reply it stands for: a `text` message's content (none when `message` or its
    /// `content` is missing, which the reply's checks answer `message is required` in their
    /// order), written by `from_user_id`.
    pub fn reply(&self) -> Result<ReplyBody, UnsupportedMessageType> {
        let message = self.message.as_ref().and_then(Value::as_object);
        match message.and_then(|m| m.get("type")) {
            None | Some(Value::Null) => {}
            Some(kind) if kind.as_str() == Some("text") => {}
            Some(_) => return Err(UnsupportedMessageType),
        }
        let content = message.and_then(|m| m.get("content")).and_then(Value::as_str);
        Ok(ReplyBody { message: content.map(str::to_owned), agent_id_camel: self.from_user_id, ..ReplyBody::default() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(json: &str) -> ChatUpdateBody {
        serde_json::from_str(json).unwrap()
    }

    fn message(json: &str) -> Result<ReplyBody, UnsupportedMessageType> {
        serde_json::from_str::<ChatMessageBody>(json).unwrap().reply()
    }

    #[test]
    fn only_finishing_a_chat_is_an_update() {
        assert_eq!(update(r#"{"chat":{"status":"finished"}}"#).finished_by(), Ok(None));
        let by = update(r#"{"finished_by_user_id":17,"chat":{"status":"finished","escalation_id":3}}"#);
        assert_eq!(by.finished_by(), Ok(Some(AgentId::new(17))));
        for refused in [r#"{}"#, r#"{"chat":{}}"#, r#"{"chat":{"status":"active"}}"#, r#"{"chat":"finished"}"#] {
            assert_eq!(update(refused).finished_by(), Err(InvalidChatStatus), "{refused}");
        }
    }

    #[test]
    fn a_text_message_is_a_reply() {
        let reply = message(r#"{"from_user_id":17,"message":{"type":"text","content":"Hi"}}"#).unwrap();
        assert_eq!((reply.message.as_deref(), reply.agent_selector().id), (Some("Hi"), Some(AgentId::new(17))));
        assert_eq!(message(r#"{"message":{"content":"Hi"}}"#).unwrap().agent_selector().id, None);
        for missing in
            [r#"{}"#, r#"{"message":"Hi"}"#, r#"{"message":{"type":"text"}}"#, r#"{"message":{"content":7}}"#]
        {
            let reply = message(missing).unwrap();
            assert_eq!(reply.content(), Err(crate::SmsError::MessageMissing), "{missing}");
        }
        assert_eq!(message(r#"{"message":{"content":" "}}"#).unwrap().content(), Err(crate::SmsError::MessageMissing));
        let photo = message(r#"{"message":{"type":"photo","content":"x"}}"#);
        assert_eq!(photo.unwrap_err(), UnsupportedMessageType);
    }
}
