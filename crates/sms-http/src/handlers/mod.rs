//! The HTTP handlers, one module per area.

pub mod admin;
pub mod chats;
pub mod ops;
pub mod sms;
pub mod webhooks;

/// Parses an id from a path segment; anything else names no resource (404).
pub(crate) fn parse_id(raw: &str, what: &'static str) -> Result<i64, crate::error::ApiError> {
    Ok(sms_service::admin::parse_id(raw, what)?)
}
