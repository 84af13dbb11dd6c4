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

/// A chat's lifecycle state. Only the active ones block a new outbound chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatStatus {
    Selecting,
    Queued,
    Assigned,
    Finished,
}

impl ChatStatus {
    pub const ACTIVE: [ChatStatus; 3] = [Self::Selecting, Self::Queued, Self::Assigned];
    pub const ALL: [ChatStatus; 4] = [Self::Selecting, Self::Queued, Self::Assigned, Self::Finished];

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Selecting => "selecting",
            Self::Queued => "queued",
            Self::Assigned => "assigned",
            Self::Finished => "finished",
        }
    }

    pub fn is_active(self) -> bool {
        Self::ACTIVE.contains(&self)
    }

    /// The stored names of the active statuses, for queries.
    pub fn active_names() -> [&'static str; 3] {
        Self::ACTIVE.map(Self::as_str)
    }
}

/// Who ended a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectedBy {
    Unknown,
    Agent,
    EndUser,
    System,
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

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "disconnected_by_unknown",
            Self::Agent => "disconnected_by_agent",
            Self::EndUser => "disconnected_by_end_user",
            Self::System => "disconnected_by_system",
        }
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
