//! Chat vocabularies: types, statuses and who ended a chat.

/// The channel of a chat as the client names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatType {
    /// `"Messaging (SMS)"`; `"SMS"` is its deprecated alias and is stored as this.
    MessagingSms,
    /// `"Messaging (API)"`.
    MessagingApi,
}

impl ChatType {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "Messaging (SMS)" | "SMS" => Some(Self::MessagingSms),
            "Messaging (API)" => Some(Self::MessagingApi),
            _ => None,
        }
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

impl DisconnectedBy {
    /// Parses the short form a client sends to `POST /chats/{id}/end`.
    pub fn parse_short(value: &str) -> Option<Self> {
        match value {
            "agent" => Some(Self::Agent),
            "end_user" => Some(Self::EndUser),
            "system" => Some(Self::System),
            _ => None,
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
