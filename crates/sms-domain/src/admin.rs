//! Rules for what admins create: tenants and agents.

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

/// A plausible e-mail address: one `@` with text on both sides, no white space anywhere, at most
/// 254 characters. Deliverability is not this service's business.
pub fn check_email(value: Option<&str>) -> Result<String, AdminInputError> {
    let value = value.filter(|v| !v.is_empty()).ok_or(AdminInputError::Required("email"))?;
    let mut parts = value.split('@');
    let ok = matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && !d.is_empty())
        && !value.chars().any(char::is_whitespace)
        && value.chars().count() <= 254;
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

/// A tenant's fields as an admin sent them; absent ones are `None`.
#[derive(Debug, Clone, Default)]
pub struct TenantInput {
    pub subdomain: Option<String>,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub sms_enabled: Option<bool>,
    pub outbound_sms_enabled: Option<bool>,
    pub session_timeout_minutes: Option<i32>,
    pub rate_limit_per_second: Option<i32>,
    pub rate_limit_burst: Option<i32>,
    /// Only a change may set it: a new tenant is active.
    pub active: Option<bool>,
    /// The automatic answers and quiet hours: absent (`None`), null (`Some(None)`) or a value.
    pub help_text: Option<Option<String>>,
    pub opt_out_text: Option<Option<String>>,
    pub opt_in_text: Option<Option<String>>,
    pub quiet_hours_start: Option<Option<String>>,
    pub quiet_hours_end: Option<Option<String>>,
}

/// Longest automatic answer.
pub const MAX_REPLY_TEXT_CHARS: usize = 320;

/// An automatic answer's text as sent: absent, null, or 1 to 320 characters.
fn check_reply_text(
    field: &'static str,
    value: Option<Option<String>>,
) -> Result<Option<Option<String>>, AdminInputError> {
    if let Some(Some(text)) = &value {
        if text.trim().is_empty() || text.chars().count() > MAX_REPLY_TEXT_CHARS {
            return Err(AdminInputError::ReplyText(field));
        }
    }
    Ok(value)
}

/// The texting-rule settings of a tenant body, each checked on its own (the quiet-hours pair is
/// checked against the tenant's other value by whoever applies a change).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextingSettings {
    pub help_text: Option<Option<String>>,
    pub opt_out_text: Option<Option<String>>,
    pub opt_in_text: Option<Option<String>>,
    pub quiet_hours_start: Option<Option<String>>,
    pub quiet_hours_end: Option<Option<String>>,
}

impl TextingSettings {
    fn checked(input: &TenantInput) -> Result<Self, AdminInputError> {
        let settings = Self {
            help_text: check_reply_text("help_text", input.help_text.clone())?,
            opt_out_text: check_reply_text("opt_out_text", input.opt_out_text.clone())?,
            opt_in_text: check_reply_text("opt_in_text", input.opt_in_text.clone())?,
            quiet_hours_start: input.quiet_hours_start.clone(),
            quiet_hours_end: input.quiet_hours_end.clone(),
        };
        for (field, value) in
            [("quiet_hours_start", &settings.quiet_hours_start), ("quiet_hours_end", &settings.quiet_hours_end)]
        {
            if let Some(Some(v)) = value {
                if !crate::quiet::is_hhmm(v) {
                    return Err(AdminInputError::QuietHoursFormat(field));
                }
            }
        }
        Ok(settings)
    }

    /// The quiet hours after this change of a tenant whose current ones are `current`: both set
    /// or both null, and a valid window.
    pub fn quiet_hours_after(
        &self,
        current: (Option<&str>, Option<&str>),
    ) -> Result<(Option<String>, Option<String>), AdminInputError> {
        let pick = |change: &Option<Option<String>>, now: Option<&str>| match change {
            Some(v) => v.clone(),
            None => now.map(str::to_owned),
        };
        let (start, end) = (pick(&self.quiet_hours_start, current.0), pick(&self.quiet_hours_end, current.1));
        crate::quiet::QuietHours::from_settings(start.as_deref(), end.as_deref())?;
        Ok((start, end))
    }
}

/// A new tenant, valid and with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantDraft {
    pub subdomain: String,
    pub name: String,
    pub lang: String,
    pub sms_enabled: bool,
    pub outbound_sms_enabled: bool,
    pub session_timeout_minutes: i32,
    pub rate_limit_per_second: i32,
    pub rate_limit_burst: i32,
    pub help_text: Option<String>,
    pub opt_out_text: Option<String>,
    pub opt_in_text: Option<String>,
    pub quiet_hours_start: Option<String>,
    pub quiet_hours_end: Option<String>,
}

/// A change to a tenant; `None` leaves a field as it is. `subdomain` is what the client sent,
/// which may only repeat the tenant's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantUpdate {
    pub subdomain: Option<String>,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub sms_enabled: Option<bool>,
    pub outbound_sms_enabled: Option<bool>,
    pub session_timeout_minutes: Option<i32>,
    pub rate_limit_per_second: Option<i32>,
    pub rate_limit_burst: Option<i32>,
    pub active: Option<bool>,
    pub texting: TextingSettings,
}

impl TenantInput {
    /// A tenant to create: `subdomain` and `name` required, the rest defaulted.
    pub fn into_draft(self) -> Result<TenantDraft, AdminInputError> {
        // Checked now, answered after the fields before it.
        let texting = TextingSettings::checked(&self);
        let subdomain = self.subdomain.ok_or(AdminInputError::Required("subdomain"))?;
        check_subdomain(&subdomain)?;
        let name = check_text("name", self.name.as_deref(), MAX_NAME_CHARS)?;
        let lang = optional_text("lang", self.lang.as_deref(), MAX_LANG_CHARS)?.unwrap_or_else(|| DEFAULT_LANG.into());
        let session_timeout_minutes = self.session_timeout_minutes.unwrap_or(DEFAULT_SESSION_TIMEOUT_MINUTES);
        check_session_timeout(session_timeout_minutes)?;
        let rate_limit_per_second = self.rate_limit_per_second.unwrap_or(DEFAULT_RATE_LIMIT_PER_SECOND);
        let rate_limit_burst = self.rate_limit_burst.unwrap_or(DEFAULT_RATE_LIMIT_BURST);
        check_rate_limit(rate_limit_per_second, rate_limit_burst)?;
        let texting = texting?;
        let (quiet_hours_start, quiet_hours_end) = texting.quiet_hours_after((None, None))?;
        Ok(TenantDraft {
            subdomain,
            name,
            lang,
            sms_enabled: self.sms_enabled.unwrap_or(true),
            outbound_sms_enabled: self.outbound_sms_enabled.unwrap_or(true),
            session_timeout_minutes,
            rate_limit_per_second,
            rate_limit_burst,
            help_text: texting.help_text.flatten(),
            opt_out_text: texting.opt_out_text.flatten(),
            opt_in_text: texting.opt_in_text.flatten(),
            quiet_hours_start,
            quiet_hours_end,
        })
    }

    /// A change to a tenant: each field that is sent must be valid on its own (the rate limit
    /// pair is checked against the tenant's current values by whoever applies it).
    pub fn into_update(self) -> Result<TenantUpdate, AdminInputError> {
        let texting = TextingSettings::checked(&self)?;
        let update = TenantUpdate {
            subdomain: self.subdomain,
            name: optional_text("name", self.name.as_deref(), MAX_NAME_CHARS)?,
            lang: optional_text("lang", self.lang.as_deref(), MAX_LANG_CHARS)?,
            sms_enabled: self.sms_enabled,
            outbound_sms_enabled: self.outbound_sms_enabled,
            session_timeout_minutes: self.session_timeout_minutes,
            rate_limit_per_second: self.rate_limit_per_second,
            rate_limit_burst: self.rate_limit_burst,
            active: self.active,
            texting,
        };
        if let Some(minutes) = update.session_timeout_minutes {
            check_session_timeout(minutes)?;
        }
        Ok(update)
    }
}

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
}

impl AgentChangeInput {
    pub fn into_update(self) -> Result<AgentUpdate, AdminInputError> {
        let email = self.email.as_deref().map(|e| check_email(Some(e))).transpose()?;
        let status = match self.status.as_deref() {
            None => None,
            Some(s) => Some(crate::AgentStatus::parse(s).ok_or(AdminInputError::AgentStatus)?),
        };
        Ok(AgentUpdate {
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

fn optional_text(field: &'static str, value: Option<&str>, max: usize) -> Result<Option<String>, AdminInputError> {
    value.map(|v| check_text(field, Some(v), max)).transpose()
}

fn check_agent_number(value: Option<i64>) -> Result<Option<i64>, AdminInputError> {
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
