//! The body of `POST /apps/api/v1/sms` and its validation, in the documented order of checks.
//!
//! Validation comes in steps because the order interleaves checks that need the database with
//! checks that do not: [`SendSmsBody::addressing`] checks the chat type, the tenant's switches
//! and both numbers; the caller then checks that the outbound number is the tenant's; then
//! [`SendSmsBody::content`] checks the message and the ticket. The agent, the opt-out and the
//! consumer's active session come after that.

use serde::Deserialize;

use crate::json::BodyError;
use crate::{ChatType, E164Number, PhoneError, SmsError};

/// Most characters (Unicode code points) a message may have.
pub const MAX_MESSAGE_CHARS: usize = 1600;
/// Most characters a `ticket_id` may have.
pub const MAX_TICKET_ID_CHARS: usize = 255;

/// The body of `POST /apps/api/v1/sms`. Unknown keys are ignored; `null` counts as absent.
// The camelCase agent fields and their snake_case aliases are kept apart so that camelCase can
// win when a client sends both. The OpenAPI document describes this very type; its limits and
// patterns come from the constants the checks use (`sms-http`'s `openapi::limits`).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = SendSmsRequest, example = json!({
    "chat_type": "Messaging (SMS)",
    "end_user_number": "+1 415-555-0100",
    "outbound_number": "+1 628-555-0199",
    "message": "lorem ipsum",
    "ticket_id": "5006x00000XXxxxXXX"
})))]
pub struct SendSmsBody {
    /// `"SMS"` is the deprecated alias of `"Messaging (SMS)"`.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::ChatTypeName))]
    pub chat_type: Option<String>,
    /// The consumer's US number in any common format.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "+1 415-555-0100"))]
    pub end_user_number: Option<String>,
    /// One of the tenant's outbound numbers.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "+1 628-555-0199"))]
    pub outbound_number: Option<String>,
    /// The text, at most 1600 characters (Unicode code points), not only white space.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "lorem ipsum"))]
    pub message: Option<String>,
    /// CRM ticket to associate, at most 255 characters; empty counts as absent.
    pub ticket_id: Option<String>,
    /// Assign the chat to this agent of the tenant.
    #[serde(rename = "agentId", default, deserialize_with = "crate::json::integer")]
    pub agent_id_camel: Option<i64>,
    /// Alias of `agentId`; `agentId` wins when both are sent.
    #[serde(rename = "agent_id", default, deserialize_with = "crate::json::integer")]
    pub agent_id_snake: Option<i64>,
    /// Assign the chat to the agent with this e-mail (case-insensitive).
    #[serde(rename = "agentEmail")]
    pub agent_email_camel: Option<String>,
    /// Alias of `agentEmail`; `agentEmail` wins when both are sent.
    #[serde(rename = "agent_email")]
    pub agent_email_snake: Option<String>,
}

/// The tenant's switches: SMS on at all, and outbound SMS on.
#[derive(Debug, Clone, Copy)]
pub struct TenantPolicy {
    pub sms_enabled: bool,
    pub outbound_sms_enabled: bool,
}

/// What [`SendSmsBody::addressing`] establishes: who is texted, from which number, on which
/// channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressed {
    pub chat_type: ChatType,
    pub end_user: E164Number,
    pub outbound: E164Number,
}

/// What [`SendSmsBody::content`] establishes: the text to send and the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub message: String,
    pub ticket_id: Option<String>,
}

/// Which agent the client asked for, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentSelector {
    pub id: Option<crate::AgentId>,
    pub email: Option<String>,
}

impl AgentSelector {
    pub fn is_empty(&self) -> bool {
        self.id.is_none() && self.email.is_none()
    }

    /// The agent a body names with `agentId` / `agent_id` and `agentEmail` / `agent_email`:
    /// each camelCase field wins over its snake_case alias.
    pub fn named(ids: (Option<i64>, Option<i64>), emails: (&Option<String>, &Option<String>)) -> Self {
        Self { id: ids.0.or(ids.1).map(crate::AgentId::new), email: emails.0.clone().or_else(|| emails.1.clone()) }
    }
}

impl SendSmsBody {
    /// Parses the raw body; a fault names the field or the parse error.
    pub fn from_json(bytes: &[u8]) -> Result<Self, BodyError> {
        crate::json::parse_object(bytes)
    }

    /// From a body already parsed by [`crate::json::parse_value`].
    pub fn from_value(value: serde_json::Value) -> Result<Self, BodyError> {
        crate::json::from_value(value)
    }

    /// The chat type, the tenant's switches, the consumer's number, the outbound number: the
    /// first fault in that order.
    pub fn addressing(&self, policy: TenantPolicy) -> Result<Addressed, SmsError> {
        let chat_type = match self.chat_type.as_deref() {
            None => return Err(SmsError::ChatTypeMissing),
            Some(value) => ChatType::parse(value).ok_or(SmsError::ChatTypeInvalid)?,
        };
        if !policy.sms_enabled {
            return Err(SmsError::SmsDisabled);
        }
        if !policy.outbound_sms_enabled {
            return Err(SmsError::OutboundSmsDisabled);
        }
        let end_user = parse_number(
            self.end_user_number.as_deref(),
            SmsError::EndUserNumberMissing,
            SmsError::EndUserNumberInvalid,
        )?;
        let outbound = parse_number(
            self.outbound_number.as_deref(),
            SmsError::OutboundNumberMissing,
            SmsError::OutboundNumberInvalid,
        )?;
        Ok(Addressed { chat_type, end_user, outbound })
    }

    /// The message present, then the message and ticket length limits.
    pub fn content(&self) -> Result<Content, SmsError> {
        let message = match self.message.as_deref() {
            Some(m) if !m.trim().is_empty() => m,
            _ => return Err(SmsError::MessageMissing),
        };
        if message.chars().count() > MAX_MESSAGE_CHARS {
            return Err(SmsError::MessageTooLong);
        }
        let ticket_id = self.ticket_id.as_deref().filter(|t| !t.is_empty());
        if ticket_id.is_some_and(|t| t.chars().count() > MAX_TICKET_ID_CHARS) {
            return Err(SmsError::TicketIdTooLong);
        }
        Ok(Content { message: message.to_owned(), ticket_id: ticket_id.map(str::to_owned) })
    }

    /// The agent asked for; a camelCase field wins over its snake_case alias.
    pub fn agent_selector(&self) -> AgentSelector {
        AgentSelector::named(
            (self.agent_id_camel, self.agent_id_snake),
            (&self.agent_email_camel, &self.agent_email_snake),
        )
    }
}

fn parse_number(value: Option<&str>, missing: SmsError, invalid: SmsError) -> Result<E164Number, SmsError> {
    let value = value.filter(|v| !v.trim().is_empty()).ok_or(missing)?;
    E164Number::parse(value).map_err(|e| match e {
        PhoneError::Invalid => invalid,
        PhoneError::NonUs => SmsError::NonUsNumber,
    })
}

#[cfg(test)]
#[path = "sms_tests.rs"]
mod tests;
