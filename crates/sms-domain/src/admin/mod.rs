//! Rules for what admins create: tenants and agents, their fields' checks and limits.

mod agent;
mod tenant;

pub use agent::{check_password, AgentChangeInput, AgentDraft, AgentInput, AgentUpdate, ConsoleRole, PASSWORD_CHARS};
pub use tenant::{TenantDraft, TenantInput, TenantUpdate, TextingSettings, MAX_REPLY_TEXT_CHARS};

/// Default and bounds of a tenant's settings (the README's admin API section).
pub const DEFAULT_LANG: &str = "en";
pub const DEFAULT_SESSION_TIMEOUT_MINUTES: i32 = 1440;
pub const MIN_SESSION_TIMEOUT_MINUTES: i32 = 1;
pub const MAX_SESSION_TIMEOUT_MINUTES: i32 = 10080;
pub const DEFAULT_RATE_LIMIT_PER_SECOND: i32 = 10;
pub const DEFAULT_RATE_LIMIT_BURST: i32 = 20;
pub const MAX_RATE_LIMIT: i32 = 1_000_000;

/// Why an admin's input was refused; `Display` is the message answered with 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminInputError {
    #[error("{0} is required")]
    Required(&'static str),
    #[error("subdomain must be 1 to 63 characters of a-z, 0-9 and -")]
    Subdomain,
    #[error("subdomain cannot be changed")]
    SubdomainChange,
    #[error("{0} is too long")]
    TooLong(&'static str),
    #[error("session_timeout_minutes must be between 1 and 10080")]
    SessionTimeout,
    #[error("rate_limit_per_second must be between 0 and 1000000")]
    RatePerSecond,
    #[error("rate_limit_burst must be between 1 and 1000000")]
    RateBurst,
    #[error("email is invalid")]
    Email,
    #[error("status must be \"active\" or \"deactivated\"")]
    AgentStatus,
    #[error("agent_number must be a non-negative integer")]
    AgentNumber,
    #[error("console_role must be \"agent\" or \"supervisor\"")]
    ConsoleRole,
    /// A console password out of its length (section 4, version 3).
    #[error("password is invalid")]
    Password,
    /// `quiet_hours_start` or `quiet_hours_end` not `"HH:MM"`.
    #[error("{0} must be \"HH:MM\" (24-hour)")]
    QuietHoursFormat(&'static str),
    #[error("quiet_hours_start and quiet_hours_end must both be set or both be null")]
    QuietHoursPair,
    #[error("quiet_hours_start and quiet_hours_end must differ")]
    QuietHoursEmpty,
    /// An automatic reply's text.
    #[error("{0} must be 1 to 320 characters")]
    ReplyText(&'static str),
    /// A webhook endpoint's `url`.
    #[error("url is invalid")]
    Url,
    /// A webhook endpoint's `events`.
    #[error("events is invalid")]
    Events,
    /// A webhook endpoint's `format`.
    #[error("format is invalid")]
    Format,
}

/// Checks a tenant subdomain: `[a-z0-9-]{1,63}`.
pub fn check_subdomain(value: &str) -> Result<(), AdminInputError> {
    let ok = (1..=63).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(AdminInputError::Subdomain)
    }
}

/// A required free-text field: present, not blank, at most `max` characters as sent. Answers it
/// trimmed.
pub fn check_text(field: &'static str, value: Option<&str>, max: usize) -> Result<String, AdminInputError> {
    let value = value.ok_or(AdminInputError::Required(field))?;
    check_len(field, value, max)?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(AdminInputError::Required(field));
    }
    Ok(trimmed.to_owned())
}

pub fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), AdminInputError> {
    if value.chars().count() > max {
        Err(AdminInputError::TooLong(field))
    } else {
        Ok(())
    }
}

pub fn check_session_timeout(minutes: i32) -> Result<(), AdminInputError> {
    if (MIN_SESSION_TIMEOUT_MINUTES..=MAX_SESSION_TIMEOUT_MINUTES).contains(&minutes) {
        Ok(())
    } else {
        Err(AdminInputError::SessionTimeout)
    }
}

pub fn check_rate_limit(per_second: i32, burst: i32) -> Result<(), AdminInputError> {
    if !(0..=MAX_RATE_LIMIT).contains(&per_second) {
        return Err(AdminInputError::RatePerSecond);
    }
    if !(1..=MAX_RATE_LIMIT).contains(&burst) {
        return Err(AdminInputError::RateBurst);
    }
    Ok(())
}

/// Longest e-mail address (RFC 5321's path limit, less the angle brackets).
pub const MAX_EMAIL_CHARS: usize = 254;

/// A plausible e-mail address: one `@` with text on both sides, no white space anywhere, at most
/// [`MAX_EMAIL_CHARS`] characters. Deliverability is not this service's business.
pub fn check_email(value: Option<&str>) -> Result<String, AdminInputError> {
    let value = value.filter(|v| !v.is_empty()).ok_or(AdminInputError::Required("email"))?;
    let mut parts = value.split('@');
    let ok = matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && !d.is_empty())
        && !value.chars().any(char::is_whitespace)
        && value.chars().count() <= MAX_EMAIL_CHARS;
    if ok {
        Ok(value.to_owned())
    } else {
        Err(AdminInputError::Email)
    }
}

/// Longest name, first or last name an admin may set.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest `lang` (a BCP 47 tag fits with room).
pub const MAX_LANG_CHARS: usize = 35;
/// Longest URL (an agent's avatar).
pub const MAX_URL_CHARS: usize = 2048;
pub(crate) fn optional_text(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, AdminInputError> {
    value.map(|v| check_text(field, Some(v), max)).transpose()
}

pub(crate) fn check_agent_number(value: Option<i64>) -> Result<Option<i64>, AdminInputError> {
    match value {
        Some(n) if n < 0 => Err(AdminInputError::AgentNumber),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains() {
        assert!(check_subdomain("acme").is_ok());
        assert!(check_subdomain("a-1").is_ok());
        assert!(check_subdomain(&"a".repeat(63)).is_ok());
        for bad in ["", "Acme", "a_b", "a.b", "ü", &"a".repeat(64)] {
            assert_eq!(check_subdomain(bad), Err(AdminInputError::Subdomain), "{bad}");
        }
    }

    #[test]
    fn settings_bounds() {
        assert!(check_session_timeout(1).is_ok());
        assert!(check_session_timeout(10080).is_ok());
        assert!(check_session_timeout(0).is_err());
        assert!(check_session_timeout(10081).is_err());
        assert!(check_rate_limit(0, 1).is_ok());
        assert_eq!(check_rate_limit(-1, 1), Err(AdminInputError::RatePerSecond));
        assert_eq!(check_rate_limit(10, 0), Err(AdminInputError::RateBurst));
    }

    #[test]
    fn text_limits_count_what_was_sent() {
        assert_eq!(check_text("name", Some("  Acme "), 255), Ok("Acme".into()));
        assert_eq!(check_text("name", Some("   "), 255), Err(AdminInputError::Required("name")));
        assert_eq!(check_text("name", None, 255), Err(AdminInputError::Required("name")));
        assert_eq!(
            check_text("name", Some(&format!(" {}", "a".repeat(255))), 255),
            Err(AdminInputError::TooLong("name"))
        );
    }

    #[test]
    fn emails() {
        assert_eq!(check_email(Some("John.Doe@foo.com")), Ok("John.Doe@foo.com".into()));
        assert_eq!(check_email(Some(" John.Doe@foo.com")), Err(AdminInputError::Email));
        assert_eq!(check_email(None), Err(AdminInputError::Required("email")));
        for bad in ["x", "@foo", "a@", "a@b@c", "a b@c"] {
            assert_eq!(check_email(Some(bad)), Err(AdminInputError::Email), "{bad}");
        }
    }
}
