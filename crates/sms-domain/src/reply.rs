//! The body of `POST /apps/api/v1/chats/{id}/messages`: an agent's reply inside an open chat,
//! text and/or MMS media, and its checks in the documented order.

use serde::Deserialize;

use crate::events::is_web_url;
use crate::json::BodyError;
use crate::sms::MAX_MESSAGE_CHARS;
use crate::{AgentSelector, SmsError};

/// Most media a reply may carry.
pub const MAX_MEDIA: usize = 10;

/// The body of `POST /apps/api/v1/chats/{id}/messages`. Unknown keys are ignored; `null` counts
/// as absent.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ReplyRequest,
    example = json!({"message": "Your order shipped today.", "agentEmail": "john.doe@foo.com"})))]
pub struct ReplyBody {
    /// The text, at most 1600 characters (Unicode code points); required unless `media_urls` has
    /// an item.
    #[cfg_attr(feature = "openapi", schema(example = "Your order shipped today."))]
    pub message: Option<String>,
    /// MMS: at most 10 absolute `http`/`https` URLs of at most 2048 characters, sent in order.
    #[cfg_attr(feature = "openapi", schema(example = json!(["https://media.example.com/label.png"])))]
    pub media_urls: Option<Vec<String>>,
    /// The agent who writes: an active agent of the tenant. A chat without an agent is
    /// assigned to them.
    #[serde(rename = "agentId", default, deserialize_with = "crate::json::integer")]
    pub agent_id_camel: Option<i64>,
    /// Alias of `agentId`; `agentId` wins when both are sent.
    #[serde(rename = "agent_id", default, deserialize_with = "crate::json::integer")]
    pub agent_id_snake: Option<i64>,
    /// The same, by e-mail (case-insensitive).
    #[serde(rename = "agentEmail")]
    pub agent_email_camel: Option<String>,
    /// Alias of `agentEmail`; `agentEmail` wins when both are sent.
    #[serde(rename = "agent_email")]
    pub agent_email_snake: Option<String>,
}

/// The body of `POST /apps/api/v1/chats/{id}/assign` (section 10, version 3): the agent who
/// takes the chat, by id or by e-mail. Unknown keys are ignored; `null` counts as absent.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = AssignRequest,
    example = json!({"agentEmail": "john.doe@foo.com"})))]
pub struct AssignBody {
    /// The agent: an active agent of the tenant.
    #[serde(rename = "agentId", default, deserialize_with = "crate::json::integer")]
    pub agent_id_camel: Option<i64>,
    /// Alias of `agentId`; `agentId` wins when both are sent.
    #[serde(rename = "agent_id", default, deserialize_with = "crate::json::integer")]
    pub agent_id_snake: Option<i64>,
    /// The same, by e-mail (case-insensitive).
    #[serde(rename = "agentEmail")]
    pub agent_email_camel: Option<String>,
    /// Alias of `agentEmail`; `agentEmail` wins when both are sent.
    #[serde(rename = "agent_email")]
    pub agent_email_snake: Option<String>,
}

impl AssignBody {
    /// The agent named; a camelCase field wins over its snake_case alias.
    pub fn agent_selector(&self) -> AgentSelector {
        AgentSelector::named(
            (self.agent_id_camel, self.agent_id_snake),
            (&self.agent_email_camel, &self.agent_email_snake),
        )
    }
}

/// What a valid reply sends: its text (empty for media alone) and its media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyContent {
    pub message: String,
    pub media_urls: Vec<String>,
}

impl ReplyBody {
    /// From a body already parsed by [`crate::json::parse_value`].
    pub fn from_value(value: serde_json::Value) -> Result<Self, BodyError> {
        crate::json::from_value(value)
    }

    /// The message (required unless a medium is given), its length, then the media.
    pub fn content(&self) -> Result<ReplyContent, SmsError> {
        let media = self.media_urls.clone().unwrap_or_default();
        let message = self.message.as_deref().filter(|m| !m.trim().is_empty());
        if message.is_none() && media.is_empty() {
            return Err(SmsError::MessageMissing);
        }
        let message = message.unwrap_or_default();
        if message.chars().count() > MAX_MESSAGE_CHARS {
            return Err(SmsError::MessageTooLong);
        }
        if media.len() > MAX_MEDIA || !media.iter().all(|u| is_web_url(u)) {
            return Err(SmsError::MediaUrlsInvalid);
        }
        Ok(ReplyContent { message: message.to_owned(), media_urls: media })
    }

    /// The agent who writes; a camelCase field wins over its snake_case alias.
    pub fn agent_selector(&self) -> AgentSelector {
        AgentSelector::named(
            (self.agent_id_camel, self.agent_id_snake),
            (&self.agent_email_camel, &self.agent_email_snake),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn content(body: serde_json::Value) -> Result<ReplyContent, SmsError> {
        ReplyBody::from_value(body).unwrap().content()
    }

    #[test]
    fn checks_in_order() {
        assert_eq!(content(json!({})), Err(SmsError::MessageMissing));
        assert_eq!(content(json!({"message": "  ", "media_urls": []})), Err(SmsError::MessageMissing));
        // Too long wins over bad media.
        assert_eq!(
            content(json!({"message": "x".repeat(1601), "media_urls": ["nope"]})),
            Err(SmsError::MessageTooLong)
        );
        assert_eq!(content(json!({"message": "hi", "media_urls": ["nope"]})), Err(SmsError::MediaUrlsInvalid));
        let eleven: Vec<String> = (0..11).map(|i| format!("https://m.example/{i}.jpg")).collect();
        assert_eq!(content(json!({"message": "hi", "media_urls": eleven})), Err(SmsError::MediaUrlsInvalid));
        assert_eq!(SmsError::MediaUrlsInvalid.to_string(), "media_urls is invalid");
    }

    #[test]
    fn media_alone_is_a_message() {
        let sent = content(json!({"media_urls": ["https://m.example/a.jpg"]}));
        assert_eq!(
            sent,
            Ok(ReplyContent { message: String::new(), media_urls: vec!["https://m.example/a.jpg".into()] })
        );
        let ten: Vec<String> = (0..10).map(|i| format!("https://m.example/{i}.jpg")).collect();
        assert!(content(json!({"message": "é".repeat(1600), "media_urls": ten})).is_ok());
    }

    #[test]
    fn media_of_the_wrong_type_names_the_field() {
        let err = crate::json::parse_object::<ReplyBody>(br#"{"message": "hi", "media_urls": "https://x.y/z"}"#).err();
        assert!(matches!(err, Some(BodyError::WrongType { ref field, .. }) if field == "media_urls"), "{err:?}");
    }
}
