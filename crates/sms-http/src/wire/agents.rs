//! An agent's wire bodies: as an admin creates and changes one, as the API answers it, and its
//! console password and invitation.

use serde::{Deserialize, Serialize};
use sms_domain::admin::{AdminInputError, AgentChangeInput, AgentDraft, AgentInput, AgentUpdate};
use sms_domain::json::{double_option, double_option_integer, integer};
use sms_domain::time::format_timestamp;
use sms_service::records::Agent;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"email": "john.doe@foo.com", "first_name": "John", "last_name": "Doe", "agent_number": 9, "avatar_url": "https://foobar.com/johndoe"}))]
pub struct AgentCreate {
    /// Unique per tenant, case-insensitively.
    #[schema(required = true, nullable = false, example = "john.doe@foo.com")]
    pub email: Option<String>,
    #[schema(required = true, nullable = false, example = "John")]
    pub first_name: Option<String>,
    #[schema(required = true, nullable = false, example = "Doe")]
    pub last_name: Option<String>,
    /// Defaults to first and last name.
    pub name: Option<String>,
    #[serde(default, deserialize_with = "integer")]
    pub agent_number: Option<i64>,
    pub avatar_url: Option<String>,
}

impl TryFrom<AgentCreate> for AgentDraft {
    type Error = AdminInputError;

    fn try_from(a: AgentCreate) -> Result<Self, Self::Error> {
        AgentInput {
            email: a.email,
            first_name: a.first_name,
            last_name: a.last_name,
            name: a.name,
            agent_number: a.agent_number,
            avatar_url: a.avatar_url,
        }
        .into_draft()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"status": "deactivated"}))]
pub struct AgentPatch {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "double_option_integer")]
    #[schema(value_type = Option<i64>)]
    pub agent_number: Option<Option<i64>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
    #[schema(value_type = Option<sms_domain::AgentStatus>)]
    pub status: Option<String>,
    /// What the agent may do in the console: `agent` (its own and unassigned conversations) or
    /// `supervisor` (the whole tenant).
    #[schema(value_type = Option<sms_domain::admin::ConsoleRole>)]
    pub console_role: Option<String>,
}

impl TryFrom<AgentPatch> for AgentUpdate {
    type Error = AdminInputError;

    fn try_from(a: AgentPatch) -> Result<Self, Self::Error> {
        AgentChangeInput {
            email: a.email,
            first_name: a.first_name,
            last_name: a.last_name,
            name: a.name,
            agent_number: a.agent_number,
            avatar_url: a.avatar_url,
            status: a.status,
            console_role: a.console_role,
        }
        .into_update()
    }
}

/// An agent: the `agent_info` fields plus `status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentOut {
    pub id: i64,
    pub agent_number: Option<i64>,
    pub email: String,
    pub name: String,
    pub first_name: String,
    pub last_name: String,
    pub avatar_url: Option<String>,
    #[schema(value_type = sms_domain::AgentStatus)]
    pub status: String,
    /// `agent` or `supervisor` in the console.
    #[schema(value_type = sms_domain::admin::ConsoleRole)]
    pub console_role: String,
    /// Whether it has a console password (the password itself is never answered).
    pub has_password: bool,
}

impl From<&Agent> for AgentOut {
    fn from(a: &Agent) -> Self {
        Self {
            id: a.id.get(),
            agent_number: a.agent_number,
            email: a.email.clone(),
            name: a.name.clone(),
            first_name: a.first_name.clone(),
            last_name: a.last_name.clone(),
            avatar_url: a.avatar_url.clone(),
            status: a.status.as_str().to_owned(),
            console_role: a.console_role.as_str().to_owned(),
            has_password: a.password_set_at.is_some(),
        }
    }
}

/// An agent's new console password.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"password": "a long passphrase of my own"}))]
pub struct PasswordSet {
    /// 12 to 128 characters (Unicode code points); stored only as an Argon2id hash.
    #[schema(required = true, nullable = false)]
    pub password: Option<String>,
}

/// A one-time link where the agent chooses its console password.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"url": "https://sms.example.com/console/invitations/3q2-7wEjQ0", "expires_at": "2026-12-08T10:00:00.000Z"}))]
pub struct InvitationOut {
    /// Works once, until `expires_at` (72 hours).
    pub url: String,
    pub expires_at: String,
}

impl From<sms_service::console::Invitation> for InvitationOut {
    fn from(i: sms_service::console::Invitation) -> Self {
        Self { url: i.url, expires_at: format_timestamp(i.expires_at) }
    }
}
