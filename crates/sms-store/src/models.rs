//! Database rows. Wire types live in the HTTP crate and convert from these.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sms_domain::{
    AgentStatus, ChatStatus, ChatType, DeliveryStatus, Direction, DisconnectedBy, ParticipantKind, ParticipantStatus,
};

use crate::schema::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tenants)]
pub struct Tenant {
    pub id: i64,
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
    pub id: i64,
    pub tenant_id: i64,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbound_numbers)]
pub struct OutboundNumber {
    pub id: i64,
    pub tenant_id: i64,
    pub number: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = agents)]
pub struct Agent {
    pub id: i64,
    pub tenant_id: i64,
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
}

impl Agent {
    pub fn is_active(&self) -> bool {
        self.status == AgentStatus::Active
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = agents)]
pub struct NewAgent {
    pub tenant_id: i64,
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
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = chats)]
pub struct Chat {
    pub id: i64,
    pub tenant_id: i64,
    pub end_user_id: i64,
    pub agent_id: Option<i64>,
    #[diesel(deserialize_as = String)]
    pub chat_type: ChatType,
    pub lang: String,
    #[diesel(deserialize_as = String)]
    pub status: ChatStatus,
    pub outbound_number: String,
    pub ticket_id: Option<String>,
    #[diesel(deserialize_as = String)]
    pub disconnected_by: DisconnectedBy,
    pub lock_token: Option<String>,
    pub created_at: NaiveDateTime,
    pub assigned_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub last_activity_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl Chat {
    /// Seconds from creation to the end; 0 while the chat is active.
    pub fn duration_seconds(&self) -> i64 {
        self.ends_at.map_or(0, |end| (end - self.created_at).num_seconds().max(0))
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = chats)]
pub(crate) struct NewChat<'a> {
    pub tenant_id: i64,
    pub end_user_id: i64,
    pub agent_id: Option<i64>,
    #[diesel(serialize_as = String)]
    pub chat_type: ChatType,
    pub lang: &'a str,
    #[diesel(serialize_as = String)]
    pub status: ChatStatus,
    pub outbound_number: &'a str,
    pub ticket_id: Option<&'a str>,
    #[diesel(serialize_as = String)]
    pub disconnected_by: DisconnectedBy,
    pub lock_token: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub assigned_at: Option<NaiveDateTime>,
    pub last_activity_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = participants)]
pub struct Participant {
    pub id: i64,
    pub chat_id: i64,
    #[diesel(deserialize_as = String)]
    pub kind: ParticipantKind,
    #[diesel(deserialize_as = String)]
    pub status: ParticipantStatus,
    pub user_id: Option<i64>,
    pub end_user_id: Option<i64>,
    pub connected_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
    pub chat_duration: Option<i32>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = participants)]
pub(crate) struct NewParticipant {
    pub chat_id: i64,
    #[diesel(serialize_as = String)]
    pub kind: ParticipantKind,
    #[diesel(serialize_as = String)]
    pub status: ParticipantStatus,
    pub user_id: Option<i64>,
    pub end_user_id: Option<i64>,
    pub connected_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = messages)]
pub struct Message {
    pub id: i64,
    /// `None` for an automatic answer to a consumer with no active chat.
    pub chat_id: Option<i64>,
    pub tenant_id: i64,
    #[diesel(deserialize_as = String)]
    pub direction: Direction,
    pub body: String,
    pub segments: i32,
    #[diesel(deserialize_as = String)]
    pub delivery_status: DeliveryStatus,
    pub provider_message_id: Option<String>,
    pub error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub from_number: String,
    pub to_number: String,
    pub attempts: i32,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub locked_until: Option<NaiveDateTime>,
    /// The agent who wrote an outbound message, when one was named.
    pub agent_id: Option<i64>,
    /// An MMS's media: a JSON array of `{"url", "content_type"}`; `None` when there is none.
    pub media: Option<String>,
    /// The keyword an automatic answer answers (`help`, `opt_out`, `opt_in`).
    pub automatic: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = messages)]
pub(crate) struct NewMessage<'a> {
    pub chat_id: Option<i64>,
    pub tenant_id: i64,
    #[diesel(serialize_as = String)]
    pub direction: Direction,
    pub body: &'a str,
    pub segments: i32,
    #[diesel(serialize_as = String)]
    pub delivery_status: DeliveryStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub from_number: &'a str,
    pub to_number: &'a str,
    pub provider_message_id: Option<&'a str>,
    pub agent_id: Option<i64>,
    pub media: Option<&'a str>,
    pub automatic: Option<&'a str>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = opt_outs)]
pub struct OptOut {
    pub id: i64,
    pub tenant_id: i64,
    pub number: String,
    pub created_at: NaiveDateTime,
}

/// A chat with what its wire form needs: participants, the assigned agent and the end user's
/// number.
#[derive(Debug, Clone)]
pub struct ChatBundle {
    pub chat: Chat,
    pub participants: Vec<Participant>,
    pub agent: Option<Agent>,
}

/// A tenant's event webhook endpoint.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
pub struct WebhookEndpoint {
    pub id: i64,
    pub tenant_id: i64,
    pub url: String,
    /// The event types it receives, separated by spaces.
    pub events: String,
    pub description: Option<String>,
    pub disabled: bool,
    pub secret: String,
    /// The secret before the last rotation, which still signs until `previous_secret_until`.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl WebhookEndpoint {
    /// The event types it receives.
    pub fn event_types(&self) -> impl Iterator<Item = &str> {
        self.events.split(' ').filter(|t| !t.is_empty())
    }

    pub fn receives(&self, event_type: &str) -> bool {
        self.event_types().any(|t| t == event_type)
    }
}

/// One event for one endpoint, as the admin API lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct WebhookDelivery {
    pub id: i64,
    pub tenant_id: i64,
    pub endpoint_id: i64,
    pub event_id: i64,
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

/// A consumer's reply that found no active chat, kept aside.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = unrouted_messages)]
pub struct UnroutedMessage {
    pub id: i64,
    pub tenant_id: i64,
    pub from_number: String,
    pub to_number: String,
    pub body: String,
    pub provider_message_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub media: Option<String>,
}
