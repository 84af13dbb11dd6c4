//! The faults of `POST /apps/api/v1/sms` that the domain decides, with the SPEC's exact messages.

/// A fault of an outbound SMS request. `Display` is the exact message of SPEC section 3; the
/// variants are declared in the order the SPEC reports them (first fault wins).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// Row 1.
    #[error("chat_type needs to be provided")]
    ChatTypeMissing,
    /// Row 2.
    #[error("valid chat type needs to be provided")]
    ChatTypeInvalid,
    /// Row 3.
    #[error("SMS is not enabled")]
    SmsDisabled,
    /// Row 4.
    #[error("Outbound SMS is not enabled")]
    OutboundSmsDisabled,
    /// Row 5.
    #[error("end_user_number is required")]
    EndUserNumberMissing,
    /// Row 6.
    #[error("end_user_number is invalid")]
    EndUserNumberInvalid,
    /// Row 7.
    #[error("Non-US phone number not allowed")]
    NonUsNumber,
    /// Row 8.
    #[error("outbound_number is required")]
    OutboundNumberMissing,
    /// Row 9.
    #[error("outbound_number is invalid")]
    OutboundNumberInvalid,
    /// Row 10.
    #[error("outbound_number is not found")]
    OutboundNumberNotFound,
    /// Row 11.
    #[error("message is required")]
    MessageMissing,
    /// More than [`crate::sms::MAX_MESSAGE_CHARS`] code points.
    #[error("message is too long")]
    MessageTooLong,
    /// More than [`crate::sms::MAX_TICKET_ID_CHARS`] characters.
    #[error("ticket_id is too long")]
    TicketIdTooLong,
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
    /// Row 12: the consumer already has an active chat; carries its id when it is known.
    #[error("Outbound SMS failed. Consumer is already in an active SMS session.")]
    ActiveSession { chat_id: Option<i64> },
}
