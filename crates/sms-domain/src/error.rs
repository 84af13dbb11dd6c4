//! The faults of `POST /apps/api/v1/sms`, with the exact messages CCAI clients match on.

/// A fault of an outbound SMS request. `Display` is the exact message clients match on; the
/// variants are declared in the documented order of the checks (the first fault wins; the
/// README and the OpenAPI description of the endpoint list them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// `chat_type` absent or null.
    #[error("chat_type needs to be provided")]
    ChatTypeMissing,
    /// `chat_type` none of the accepted values.
    #[error("valid chat type needs to be provided")]
    ChatTypeInvalid,
    /// The tenant's SMS channel is off.
    #[error("SMS is not enabled")]
    SmsDisabled,
    /// The tenant's outbound SMS is off.
    #[error("Outbound SMS is not enabled")]
    OutboundSmsDisabled,
    /// `end_user_number` absent, null or blank.
    #[error("end_user_number is required")]
    EndUserNumberMissing,
    /// `end_user_number` not a phone number.
    #[error("end_user_number is invalid")]
    EndUserNumberInvalid,
    /// Either number is not a US number (checked for each right after its own validity).
    #[error("Non-US phone number not allowed")]
    NonUsNumber,
    /// `outbound_number` absent, null or blank.
    #[error("outbound_number is required")]
    OutboundNumberMissing,
    /// `outbound_number` not a phone number.
    #[error("outbound_number is invalid")]
    OutboundNumberInvalid,
    /// `outbound_number` is not one of the tenant's numbers.
    #[error("outbound_number is not found")]
    OutboundNumberNotFound,
    /// `message` absent, null, empty or only white space.
    #[error("message is required")]
    MessageMissing,
    /// More than [`crate::sms::MAX_MESSAGE_CHARS`] code points.
    #[error("message is too long")]
    MessageTooLong,
    /// More than [`crate::sms::MAX_TICKET_ID_CHARS`] characters.
    #[error("ticket_id is too long")]
    TicketIdTooLong,
    /// A reply's `media_urls` is not a list of at most 10 absolute `http`/`https` URLs of at
    /// most 2048 characters.
    #[error("media_urls is invalid")]
    MediaUrlsInvalid,
    /// An `agentId`/`agentEmail` that names no agent of the tenant.
    #[error("agent is not found")]
    AgentNotFound,
    /// `agentId` and `agentEmail` name two different agents.
    #[error("agentId and agentEmail refer to different agents")]
    AgentMismatch,
    /// The named agent is deactivated.
    #[error("agent is not active")]
    AgentInactive,
    /// The consumer opted out of SMS from this tenant.
    #[error("end_user_number has opted out")]
    OptedOut,
    /// The tenant's quiet hours, in the consumer's local time (checked after the opt-out).
    #[error("end_user_number is in quiet hours")]
    QuietHours,
    /// The consumer already has an active chat (the one-active-session rule, checked last);
    /// carries its id when it is known.
    #[error("Outbound SMS failed. Consumer is already in an active SMS session.")]
    ActiveSession { chat_id: Option<crate::ChatId> },
}

impl SmsError {
    /// The faults of `POST /apps/api/v1/sms` in the order of its checks: the first fault wins.
    /// The workflow checks in this order; the OpenAPI document's examples are this list.
    pub const SEND_ORDER: [SmsError; 19] = [
        Self::ChatTypeMissing,
        Self::ChatTypeInvalid,
        Self::SmsDisabled,
        Self::OutboundSmsDisabled,
        Self::EndUserNumberMissing,
        Self::EndUserNumberInvalid,
        Self::NonUsNumber,
        Self::OutboundNumberMissing,
        Self::OutboundNumberInvalid,
        Self::OutboundNumberNotFound,
        Self::MessageMissing,
        Self::MessageTooLong,
        Self::TicketIdTooLong,
        Self::AgentNotFound,
        Self::AgentMismatch,
        Self::AgentInactive,
        Self::OptedOut,
        Self::QuietHours,
        Self::ActiveSession { chat_id: Some(crate::ChatId::new(114)) },
    ];
}
