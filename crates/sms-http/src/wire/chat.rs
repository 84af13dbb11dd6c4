//! The CCAI chat object, byte for byte in key order and value shapes (the OpenAPI document's
//! `ChatObject` example is the platform's own).

pub use sms_service::views::{AgentInfo, ChatObject, EndUserRef, MediaObject, MessageObject, ParticipantObject};
use sms_service::EndRequest;
use utoipa::ToSchema;

/// The body of `POST /apps/api/v1/sms`. Unknown keys are ignored; `null` counts as absent.
#[derive(Debug, ToSchema)]
#[schema(example = json!({
    "chat_type": "Messaging (SMS)",
    "end_user_number": "+1 415-555-0100",
    "outbound_number": "+1 628-555-0199",
    "message": "lorem ipsum",
    "ticket_id": "5006x00000XXxxxXXX"
}))]
#[allow(dead_code, non_snake_case)]
pub struct SendSmsRequest {
    /// `"SMS"` is the deprecated alias of `"Messaging (SMS)"`.
    #[schema(value_type = ChatTypeName, example = "Messaging (SMS)")]
    chat_type: String,
    /// The consumer's US number in any common format.
    #[schema(example = "+1 415-555-0100")]
    end_user_number: String,
    /// One of the tenant's outbound numbers.
    #[schema(example = "+1 628-555-0199")]
    outbound_number: String,
    /// The text, at most 1600 characters (Unicode code points), not only white space.
    #[schema(
        example = "lorem ipsum",
        min_length = 1,
        max_length = 1600,
        pattern = "^[^\\u0000]*[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\u0000][^\\u0000]*$"
    )]
    message: String,
    /// CRM ticket to associate, at most 255 characters; empty counts as absent.
    #[schema(max_length = 255)]
    ticket_id: Option<String>,
    /// Assign the chat to this agent of the tenant.
    #[schema(minimum = 1)]
    agentId: Option<i64>,
    /// Alias of `agentId`; `agentId` wins when both are sent.
    #[schema(minimum = 1)]
    agent_id: Option<i64>,
    /// Assign the chat to the agent with this e-mail (case-insensitive).
    agentEmail: Option<String>,
    /// Alias of `agentEmail`; `agentEmail` wins when both are sent.
    agent_email: Option<String>,
}

/// The chat types a client may ask for.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub enum ChatTypeName {
    #[schema(rename = "Messaging (SMS)")]
    MessagingSms,
    #[schema(rename = "Messaging (API)")]
    MessagingApi,
    #[schema(rename = "SMS")]
    Sms,
}

/// The optional body of `POST /apps/api/v1/chats/{id}/end`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct EndChatRequest {
    /// Who ended the chat; default `agent`.
    #[schema(value_type = Option<EndedBy>, example = "agent")]
    pub disconnected_by: Option<String>,
}

impl From<EndChatRequest> for EndRequest {
    fn from(r: EndChatRequest) -> Self {
        Self { disconnected_by: r.disconnected_by }
    }
}

/// Who ends a chat.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum EndedBy {
    Agent,
    EndUser,
    System,
}

/// The body of `POST /apps/api/v1/chats/{id}/messages`. Unknown keys are ignored; `null` counts
/// as absent.
#[derive(Debug, ToSchema)]
#[schema(example = json!({"message": "Your order shipped today.", "agentEmail": "john.doe@foo.com"}))]
#[allow(dead_code, non_snake_case)]
pub struct ReplyRequest {
    /// The text, at most 1600 characters (Unicode code points); required unless `media_urls` has
    /// an item.
    #[schema(example = "Your order shipped today.", max_length = 1600)]
    message: Option<String>,
    /// MMS: at most 10 absolute `http`/`https` URLs of at most 2048 characters, sent in order.
    #[schema(max_items = 10, example = json!(["https://media.example.com/label.png"]))]
    media_urls: Option<Vec<String>>,
    /// The agent who writes: an active agent of the tenant. A chat without an agent is
    /// assigned to them.
    #[schema(minimum = 1)]
    agentId: Option<i64>,
    /// Alias of `agentId`; `agentId` wins when both are sent.
    #[schema(minimum = 1)]
    agent_id: Option<i64>,
    /// The same, by e-mail (case-insensitive).
    agentEmail: Option<String>,
    /// Alias of `agentEmail`; `agentEmail` wins when both are sent.
    agent_email: Option<String>,
}
