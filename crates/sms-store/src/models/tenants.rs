//! A tenant and what it owns: its API tokens, numbers, agents and opt-outs.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sms_domain::{AgentId, AgentStatus, E164Number, NumberId, TenantId, TokenId};

use crate::schema::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tenants)]
pub struct Tenant {
    #[diesel(deserialize_as = i64)]
    pub id: TenantId,
    pub subdomain: String,
    pub name: String,
    pub lang: String,
    pub sms_enabled: bool,
    pub outbound_sms_enabled: bool,
    pub session_timeout_minutes: i32,
    pub rate_limit_per_second: i32,
    pub rate_limit_burst: i32,
    pub created_at: NaiveDateTime,
    /// A deactivated tenant's credentials, callbacks and queued messages are refused.
    pub active: bool,
    /// The automatic answers to HELP, opt-out and opt-in keywords; `None`: no answer.
    pub help_text: Option<String>,
    pub opt_out_text: Option<String>,
    pub opt_in_text: Option<String>,
    /// Quiet hours, `"HH:MM"` in the consumer's local time; both `None`: none.
    pub quiet_hours_start: Option<String>,
    pub quiet_hours_end: Option<String>,
    /// Every tenant JWT issued up to this moment (by its `iat`) is refused.
    pub jwt_revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = tenants)]
pub struct NewTenant {
    pub subdomain: String,
    pub name: String,
    pub lang: String,
    pub sms_enabled: bool,
    pub outbound_sms_enabled: bool,
    pub session_timeout_minutes: i32,
    pub rate_limit_per_second: i32,
    pub rate_limit_burst: i32,
    pub created_at: NaiveDateTime,
    pub active: bool,
    pub help_text: Option<String>,
    pub opt_out_text: Option<String>,
    pub opt_in_text: Option<String>,
    pub quiet_hours_start: Option<String>,
    pub quiet_hours_end: Option<String>,
}

/// A partial update of a tenant; `None` leaves a field as it is (for the nullable fields, the
/// inner `None` clears them).
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = tenants)]
pub struct TenantChanges {
    pub name: Option<String>,
    pub lang: Option<String>,
    pub sms_enabled: Option<bool>,
    pub outbound_sms_enabled: Option<bool>,
    pub session_timeout_minutes: Option<i32>,
    pub rate_limit_per_second: Option<i32>,
    pub rate_limit_burst: Option<i32>,
    pub active: Option<bool>,
    pub help_text: Option<Option<String>>,
    pub opt_out_text: Option<Option<String>>,
    pub opt_in_text: Option<Option<String>>,
    pub quiet_hours_start: Option<Option<String>>,
    pub quiet_hours_end: Option<Option<String>>,
}

impl TenantChanges {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.lang.is_none()
            && self.sms_enabled.is_none()
            && self.outbound_sms_enabled.is_none()
            && self.session_timeout_minutes.is_none()
            && self.rate_limit_per_second.is_none()
            && self.rate_limit_burst.is_none()
            && self.active.is_none()
            && self.help_text.is_none()
            && self.opt_out_text.is_none()
            && self.opt_in_text.is_none()
            && self.quiet_hours_start.is_none()
            && self.quiet_hours_end.is_none()
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    #[diesel(deserialize_as = i64)]
    pub id: TokenId,
    #[diesel(deserialize_as = i64)]
    pub tenant_id: TenantId,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbound_numbers)]
pub struct OutboundNumber {
    #[diesel(deserialize_as = i64)]
    pub id: NumberId,
    #[diesel(deserialize_as = i64)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = String)]
    pub number: E164Number,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = agents)]
pub struct Agent {
    #[diesel(deserialize_as = i64)]
    pub id: AgentId,
    #[diesel(deserialize_as = i64)]
    pub tenant_id: TenantId,
    pub email: String,
    pub email_lower: String,
    pub first_name: String,
    pub last_name: String,
    pub name: String,
    pub agent_number: Option<i64>,
    pub avatar_url: Option<String>,
    #[diesel(deserialize_as = String)]
    pub status: AgentStatus,
    pub created_at: NaiveDateTime,
    /// When its status (active, deactivated) last changed; its creation until then.
    pub status_updated_at: NaiveDateTime,
    /// What it may do in the console.
    #[diesel(deserialize_as = String)]
    pub console_role: sms_domain::admin::ConsoleRole,
    /// When its console password was last set; `None` while it has none.
    pub password_set_at: Option<NaiveDateTime>,
}

impl Agent {
    pub fn is_active(&self) -> bool {
        self.status == AgentStatus::Active
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = agents)]
pub struct NewAgent {
    #[diesel(serialize_as = i64)]
    pub tenant_id: TenantId,
    pub email: String,
    pub email_lower: String,
    pub first_name: String,
    pub last_name: String,
    pub name: String,
    pub agent_number: Option<i64>,
    pub avatar_url: Option<String>,
    #[diesel(serialize_as = String)]
    pub status: AgentStatus,
    pub created_at: NaiveDateTime,
    pub status_updated_at: NaiveDateTime,
}

/// A partial update of an agent. The outer `Option` says whether a field changes; for the
/// nullable fields the inner one is the new value.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = agents)]
pub struct AgentChanges {
    pub email: Option<String>,
    pub email_lower: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    pub agent_number: Option<Option<i64>>,
    pub avatar_url: Option<Option<String>>,
    pub status: Option<&'static str>,
    pub console_role: Option<&'static str>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = opt_outs)]
pub struct OptOut {
    pub id: i64,
    #[diesel(deserialize_as = i64)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = String)]
    pub number: E164Number,
    pub created_at: NaiveDateTime,
    /// The keyword as the consumer wrote it; `None` for the carrier's report or an admin's act.
    pub keyword: Option<String>,
    /// The tenant's number the consumer wrote to (or was texted from, for the carrier's report).
    pub outbound_number: Option<String>,
    /// The inbound message that carried the keyword, when it joined a chat.
    pub message_id: Option<i64>,
}
