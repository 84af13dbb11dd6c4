//! Chat vocabularies: types, statuses and who ended a chat.

/// The channel of a chat as the client names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatType {
    /// `"Messaging (SMS)"`; `"SMS"` is its deprecated alias and is stored as this.
    MessagingSms,
    /// `"Messaging (API)"`.
    MessagingApi,
}

crate::names::stored_names! {
    /// The chat types a client may ask for.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum ChatTypeName as "chat type name" {
        #[cfg_attr(feature = "openapi", schema(rename = "Messaging (SMS)"))]
        MessagingSms = "Messaging (SMS)",
        #[cfg_attr(feature = "openapi", schema(rename = "Messaging (API)"))]
        MessagingApi = "Messaging (API)",
        /// The deprecated alias of `Messaging (SMS)`.
        #[cfg_attr(feature = "openapi", schema(rename = "SMS"))]
        Sms = "SMS",
    }
}

impl From<ChatTypeName> for ChatType {
    fn from(name: ChatTypeName) -> Self {
        match name {
            ChatTypeName::MessagingSms | ChatTypeName::Sms => Self::MessagingSms,
            ChatTypeName::MessagingApi => Self::MessagingApi,
        }
    }
}

impl ChatType {
    pub fn parse(value: &str) -> Option<Self> {
        ChatTypeName::parse(value).map(Self::from)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessagingSms => "Messaging (SMS)",
            Self::MessagingApi => "Messaging (API)",
        }
    }
}

impl From<ChatType> for String {
    fn from(value: ChatType) -> String {
        value.as_str().to_owned()
    }
}

impl TryFrom<String> for ChatType {
    type Error = crate::names::UnknownName;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or(crate::names::UnknownName { kind: "chat type", name: value })
    }
}

crate::names::stored_names! {
    /// A chat's status.
    // Only the active ones block a new outbound chat.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(rename_all = "lowercase", as = StatusName))]
    pub enum ChatStatus as "chat status" {
        Selecting = "selecting",
        Queued = "queued",
        Assigned = "assigned",
        Finished = "finished",
    }
}

impl ChatStatus {
    pub const ACTIVE: [ChatStatus; 3] = [Self::Selecting, Self::Queued, Self::Assigned];

    pub fn is_active(self) -> bool {
        Self::ACTIVE.contains(&self)
    }

    /// The stored names of the active statuses, for queries.
    pub fn active_names() -> [&'static str; 3] {
        Self::ACTIVE.map(Self::as_str)
    }
}

crate::names::stored_names! {
    /// Who ended a chat, as the chat object answers it.
    pub enum DisconnectedBy as "disconnected_by" {
        Unknown = "disconnected_by_unknown",
        Agent = "disconnected_by_agent",
        EndUser = "disconnected_by_end_user",
        System = "disconnected_by_system",
    }
}

crate::names::stored_names! {
    /// Who ends a chat.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(rename_all = "snake_case"))]
    pub enum EndedBy as "disconnected_by" {
        Agent = "agent",
        EndUser = "end_user",
        System = "system",
    }
}

impl From<EndedBy> for DisconnectedBy {
    fn from(by: EndedBy) -> Self {
        match by {
            EndedBy::Agent => Self::Agent,
            EndedBy::EndUser => Self::EndUser,
            EndedBy::System => Self::System,
        }
    }
}

/// The optional body of `POST /apps/api/v1/chats/{id}/end`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = EndChatRequest))]
pub struct EndChatBody {
    /// Who ended the chat; default `agent`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<EndedBy>, example = "agent"))]
    pub disconnected_by: Option<String>,
}

/// A `disconnected_by` that is none of the short names; `Display` is the message answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("disconnected_by must be one of agent, end_user, system")]
pub struct InvalidEndedBy;

impl EndChatBody {
    /// Who ends the chat: the agent unless the body says otherwise.
    pub fn by(&self) -> Result<DisconnectedBy, InvalidEndedBy> {
        match self.disconnected_by.as_deref() {
            None => Ok(DisconnectedBy::Agent),
            Some(name) => EndedBy::parse(name).map(DisconnectedBy::from).ok_or(InvalidEndedBy),
        }
    }
}

crate::names::stored_names! {
    /// Who takes part in a chat.
    pub enum ParticipantKind as "participant type" {
        EndUser = "end_user",
        Agent = "agent",
    }
}

crate::names::stored_names! {
    /// Whether a participant is still in the chat.
    pub enum ParticipantStatus as "participant status" {
        Connected = "connected",
        Disconnected = "disconnected",
    }
}

crate::names::stored_names! {
    /// An agent's status.
    // Only an active agent can be assigned a chat.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(rename_all = "lowercase"))]
    pub enum AgentStatus as "agent status" {
        Active = "active",
        Deactivated = "deactivated",
    }
}

crate::names::stored_names! {
    /// Which way a message travels.
    pub enum Direction as "direction" {
        /// To the consumer.
        Outbound = "outbound",
        /// A consumer's reply.
        Inbound = "inbound",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_types() {
        assert_eq!(ChatType::parse("SMS"), Some(ChatType::MessagingSms));
        assert_eq!(ChatType::parse("Messaging (SMS)").map(ChatType::as_str), Some("Messaging (SMS)"));
        assert_eq!(ChatType::parse("Messaging (API)").map(ChatType::as_str), Some("Messaging (API)"));
        assert_eq!(ChatType::parse("In-app"), None);
        assert_eq!(ChatType::parse("sms"), None);
    }

    #[test]
    fn statuses() {
        assert!(ChatStatus::Selecting.is_active());
        assert!(ChatStatus::Queued.is_active());
        assert!(ChatStatus::Assigned.is_active());
        assert!(!ChatStatus::Finished.is_active());
        assert_eq!(ChatStatus::parse("assigned"), Some(ChatStatus::Assigned));
        assert_eq!(ChatStatus::parse("active"), None);
    }
}
