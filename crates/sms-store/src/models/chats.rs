//! Chats, their participants and messages, and the replies kept aside.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sms_domain::{
    AgentId, ChatId, ChatStatus, ChatType, DeliveryStatus, Direction, DisconnectedBy, E164Number, EndUserId, MessageId,
    ParticipantKind, ParticipantStatus, TenantId,
};

use super::Agent;
use crate::ids::OptionalId;
use crate::schema::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = chats)]
pub struct Chat {
    #[diesel(deserialize_as = i64)]
    pub id: ChatId,
    #[diesel(deserialize_as = i64)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = i64)]
    pub end_user_id: EndUserId,
    #[diesel(deserialize_as = OptionalId)]
    pub agent_id: Option<AgentId>,
    #[diesel(deserialize_as = String)]
    pub chat_type: ChatType,
    pub lang: String,
    #[diesel(deserialize_as = String)]
    pub status: ChatStatus,
    #[diesel(deserialize_as = String)]
    pub outbound_number: E164Number,
    pub ticket_id: Option<String>,
    #[diesel(deserialize_as = String)]
    pub disconnected_by: DisconnectedBy,
    pub lock_token: Option<String>,
    pub created_at: NaiveDateTime,
    pub assigned_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub last_activity_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// The last change of any kind: status, assignment, a message either way, a message's
    /// delivery status, its end (the time it was written, so incremental exports miss nothing).
    pub updated_at: NaiveDateTime,
}

impl Chat {
    /// Seconds from creation to the end; 0 while the chat is active.
    pub fn duration_seconds(&self) -> i64 {
        self.ends_at.map_or(0, |end| (end - self.created_at).num_seconds().max(0))
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = chats)]
// A `None` binds NULL, so the statement's text never changes and stays prepared (diesel
// otherwise leaves the column out, and never caches the insert on PostgreSQL).
#[diesel(treat_none_as_default_value = false)]
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
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = participants)]
pub struct Participant {
    pub id: i64,
    #[diesel(deserialize_as = i64)]
    pub chat_id: ChatId,
    #[diesel(deserialize_as = String)]
    pub kind: ParticipantKind,
    #[diesel(deserialize_as = String)]
    pub status: ParticipantStatus,
    #[diesel(deserialize_as = OptionalId)]
    pub user_id: Option<AgentId>,
    #[diesel(deserialize_as = OptionalId)]
    pub end_user_id: Option<EndUserId>,
    pub connected_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
    pub chat_duration: Option<i32>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = participants)]
// A `None` binds NULL, so the statement's text never changes and stays prepared (diesel
// otherwise leaves the column out, and never caches the insert on PostgreSQL).
#[diesel(treat_none_as_default_value = false)]
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
    #[diesel(deserialize_as = i64)]
    pub id: MessageId,
    /// `None` for an automatic answer to a consumer with no active chat.
    #[diesel(deserialize_as = OptionalId)]
    pub chat_id: Option<ChatId>,
    #[diesel(deserialize_as = i64)]
    pub tenant_id: TenantId,
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
    #[diesel(deserialize_as = String)]
    pub from_number: E164Number,
    #[diesel(deserialize_as = String)]
    pub to_number: E164Number,
    pub attempts: i32,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub locked_until: Option<NaiveDateTime>,
    /// The agent who wrote an outbound message, when one was named.
    #[diesel(deserialize_as = OptionalId)]
    pub agent_id: Option<AgentId>,
    /// An MMS's media: a JSON array of `{"url", "content_type"}`; `None` when there is none.
    pub media: Option<String>,
    /// The keyword an automatic answer answers (`help`, `opt_out`, `opt_in`).
    pub automatic: Option<String>,
    /// When the provider took it (an outbound message).
    pub sent_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = messages)]
// A `None` binds NULL, so the statement's text never changes and stays prepared (diesel
// otherwise leaves the column out, and never caches the insert on PostgreSQL).
#[diesel(treat_none_as_default_value = false)]
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

/// A chat with what its wire form needs: participants, the assigned agent and the end user's
/// number.
#[derive(Debug, Clone)]
pub struct ChatBundle {
    pub chat: Chat,
    pub participants: Vec<Participant>,
    pub agent: Option<Agent>,
}

/// A consumer's reply that found no active chat, kept aside.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = unrouted_messages)]
pub struct UnroutedMessage {
    pub id: i64,
    #[diesel(deserialize_as = i64)]
    pub tenant_id: TenantId,
    #[diesel(deserialize_as = String)]
    pub from_number: E164Number,
    #[diesel(deserialize_as = String)]
    pub to_number: E164Number,
    pub body: String,
    pub provider_message_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub media: Option<String>,
}
