//! A tenant's fields as an admin sends them, and what a valid tenant or change to one is.

use super::{
    check_rate_limit, check_session_timeout, check_subdomain, check_text, optional_text, AdminInputError, DEFAULT_LANG,
    DEFAULT_RATE_LIMIT_BURST, DEFAULT_RATE_LIMIT_PER_SECOND, DEFAULT_SESSION_TIMEOUT_MINUTES, MAX_LANG_CHARS,
    MAX_NAME_CHARS,
};

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
