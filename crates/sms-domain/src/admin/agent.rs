//! An agent's fields as an admin sends them, and what a valid agent or change to one is.

use super::{
    check_agent_number, check_email, check_text, optional_text, AdminInputError, MAX_NAME_CHARS, MAX_URL_CHARS,
};

/// An agent's fields as an admin sent them for creation.
#[derive(Debug, Clone, Default)]
pub struct AgentInput {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    pub agent_number: Option<i64>,
    pub avatar_url: Option<String>,
}

/// A new agent, valid; `name` defaults to the first and last name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDraft {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub name: String,
    pub agent_number: Option<i64>,
    pub avatar_url: Option<String>,
}

impl AgentInput {
    pub fn into_draft(self) -> Result<AgentDraft, AdminInputError> {
        let email = check_email(self.email.as_deref())?;
        let first_name = check_text("first_name", self.first_name.as_deref(), MAX_NAME_CHARS)?;
        let last_name = check_text("last_name", self.last_name.as_deref(), MAX_NAME_CHARS)?;
        let name = optional_text("name", self.name.as_deref(), MAX_NAME_CHARS)?
            .unwrap_or_else(|| format!("{first_name} {last_name}"));
        let agent_number = check_agent_number(self.agent_number)?;
        let avatar_url = optional_text("avatar_url", self.avatar_url.as_deref(), MAX_URL_CHARS)?;
        Ok(AgentDraft { email, first_name, last_name, name, agent_number, avatar_url })
    }
}

/// A change to an agent as sent. The outer `Option` says whether a field changes; for the
/// nullable fields the inner one is the new value (`null` clears it).
#[derive(Debug, Clone, Default)]
pub struct AgentChangeInput {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    pub agent_number: Option<Option<i64>>,
    pub avatar_url: Option<Option<String>>,
    pub status: Option<String>,
    pub console_role: Option<String>,
}

/// A change to an agent, valid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentUpdate {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    pub agent_number: Option<Option<i64>>,
    pub avatar_url: Option<Option<String>>,
    pub status: Option<crate::AgentStatus>,
    pub console_role: Option<ConsoleRole>,
}

impl AgentChangeInput {
    pub fn into_update(self) -> Result<AgentUpdate, AdminInputError> {
        let email = self.email.as_deref().map(|e| check_email(Some(e))).transpose()?;
        let status = match self.status.as_deref() {
            None => None,
            Some(s) => Some(crate::AgentStatus::parse(s).ok_or(AdminInputError::AgentStatus)?),
        };
        let console_role = match self.console_role.as_deref() {
            None => None,
            Some(r) => Some(ConsoleRole::parse(r).ok_or(AdminInputError::ConsoleRole)?),
        };
        Ok(AgentUpdate {
            console_role,
            email,
            first_name: optional_text("first_name", self.first_name.as_deref(), MAX_NAME_CHARS)?,
            last_name: optional_text("last_name", self.last_name.as_deref(), MAX_NAME_CHARS)?,
            name: optional_text("name", self.name.as_deref(), MAX_NAME_CHARS)?,
            agent_number: self.agent_number.map(check_agent_number).transpose()?,
            avatar_url: self
                .avatar_url
                .map(|url| url.map(|u| check_text("avatar_url", Some(&u), MAX_URL_CHARS)).transpose())
                .transpose()?,
            status,
        })
    }
}

crate::names::stored_names! {
    /// What an agent may do in the console (section 14): `agent` holds its own and unassigned
    /// conversations; `supervisor` runs the whole tenant.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(rename_all = "lowercase"))]
    pub enum ConsoleRole as "console role" {
        Agent = "agent",
        Supervisor = "supervisor",
    }
}

/// Shortest and longest console password, in characters (Unicode code points).
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 12..=128;

/// A console password is 12 to 128 characters; anything else is `password is invalid`.
pub fn check_password(password: Option<&str>) -> Result<&str, AdminInputError> {
    match password {
        Some(p) if PASSWORD_CHARS.contains(&p.chars().count()) && !p.contains('\0') => Ok(p),
        _ => Err(AdminInputError::Password),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_12_to_128_characters() {
        assert_eq!(check_password(Some("abcdefghijk")), Err(AdminInputError::Password));
        assert_eq!(check_password(Some("abcdefghijkl")), Ok("abcdefghijkl"));
        let longest = "é".repeat(128);
        assert_eq!(check_password(Some(&longest)), Ok(longest.as_str()));
        assert_eq!(check_password(Some(&"é".repeat(129))), Err(AdminInputError::Password));
        assert_eq!(check_password(None), Err(AdminInputError::Password));
    }

    #[test]
    fn console_roles_are_agent_or_supervisor() {
        assert_eq!(ConsoleRole::parse("supervisor"), Some(ConsoleRole::Supervisor));
        assert_eq!(ConsoleRole::parse("Supervisor"), None);
        let change = AgentChangeInput { console_role: Some("boss".into()), ..Default::default() };
        assert_eq!(change.into_update(), Err(AdminInputError::ConsoleRole));
    }
}
