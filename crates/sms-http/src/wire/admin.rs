//! Bodies of the admin API, and their conversions into the domain's validated inputs.
//!
//! Patterns spell white space out as Rust's `char::is_whitespace` (Unicode White_Space), which
//! is what the server trims and refuses; JSON Schema's `\s` is ECMAScript's, a different set.

use serde::{Deserialize, Serialize};
use sms_domain::admin::{AdminInputError, TenantDraft, TenantInput, TenantUpdate};
use sms_domain::json::{double_option, integer};
use sms_domain::time::format_timestamp;
use sms_service::admin::{IssuedJwt, IssuedToken};
use sms_service::records::{ApiToken, OptOut, OutboundNumber, Tenant};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"subdomain": "acme", "name": "Acme Inc."}))]
pub struct TenantCreate {
    /// `[a-z0-9-]{1,63}`, unique; the tenant's key and its Basic-auth user name.
    #[schema(required = true, nullable = false, example = "acme")]
    pub subdomain: Option<String>,
    #[schema(required = true, nullable = false, example = "Acme Inc.")]
    pub name: Option<String>,
    /// Default `"en"`.
    pub lang: Option<String>,
    /// Default true.
    pub sms_enabled: Option<bool>,
    /// Default true.
    pub outbound_sms_enabled: Option<bool>,
    /// 1 to 10080; default 1440.
    #[serde(default, deserialize_with = "integer")]
    pub session_timeout_minutes: Option<i32>,
    /// Default 10; 0 turns limiting off.
    #[serde(default, deserialize_with = "integer")]
    pub rate_limit_per_second: Option<i32>,
    /// Default 20.
    #[serde(default, deserialize_with = "integer")]
    pub rate_limit_burst: Option<i32>,
    /// The answer to `HELP`/`INFO`, sent from the number the consumer wrote to; 1 to 320
    /// characters, null (the default) for none.
    #[schema(value_type = Option<String>)]
    #[serde(default, deserialize_with = "double_option")]
    pub help_text: Option<Option<String>>,
    /// The confirmation of an opt-out keyword: the one message sent to an opted-out number;
    /// 1 to 320 characters, null for none.
    #[schema(value_type = Option<String>)]
    #[serde(default, deserialize_with = "double_option")]
    pub opt_out_text: Option<Option<String>>,
    /// The answer to an opt-in keyword; 1 to 320 characters, null for none.
    #[schema(value_type = Option<String>)]
    #[serde(default, deserialize_with = "double_option")]
    pub opt_in_text: Option<Option<String>>,
    /// Quiet hours start, `"HH:MM"` (24-hour) in the consumer's local time; set with
    /// `quiet_hours_end`, or both null (the default) for none.
    #[schema(value_type = Option<String>, example = "20:00")]
    #[serde(default, deserialize_with = "double_option")]
    pub quiet_hours_start: Option<Option<String>>,
    /// Quiet hours end (exclusive), `"HH:MM"`; a window may cross midnight.
    #[schema(value_type = Option<String>, example = "08:00")]
    #[serde(default, deserialize_with = "double_option")]
    pub quiet_hours_end: Option<Option<String>>,
}

/// The domain's input from either tenant body: they carry the same fields (a new tenant is
/// always active).
macro_rules! tenant_input {
    ($t:expr, $active:expr) => {
        TenantInput {
            subdomain: $t.subdomain,
            name: $t.name,
            lang: $t.lang,
            sms_enabled: $t.sms_enabled,
            outbound_sms_enabled: $t.outbound_sms_enabled,
            session_timeout_minutes: $t.session_timeout_minutes,
            rate_limit_per_second: $t.rate_limit_per_second,
            rate_limit_burst: $t.rate_limit_burst,
            active: $active,
            help_text: $t.help_text,
            opt_out_text: $t.opt_out_text,
            opt_in_text: $t.opt_in_text,
            quiet_hours_start: $t.quiet_hours_start,
            quiet_hours_end: $t.quiet_hours_end,
        }
    };
}

impl TryFrom<TenantCreate> for TenantDraft {
    type Error = AdminInputError;

    fn try_from(t: TenantCreate) -> Result<Self, Self::Error> {
        tenant_input!(t, None).into_draft()
    }
}

/// Any field but `subdomain`; absent fields keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"outbound_sms_enabled": false}))]
pub struct TenantPatch {
    /// Cannot be changed: the tenant's own value is accepted, a different one answers 400.
    #[schema(ignore)]
    pub subdomain: Option<String>,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub sms_enabled: Option<bool>,
    pub outbound_sms_enabled: Option<bool>,
    #[serde(default, deserialize_with = "integer")]
    pub session_timeout_minutes: Option<i32>,
    #[serde(default, deserialize_with = "integer")]
    pub rate_limit_per_second: Option<i32>,
    #[serde(default, deserialize_with = "integer")]
    pub rate_limit_burst: Option<i32>,
    /// `false` switches the tenant off on every instance: its API tokens and tenant JWTs answer
    /// 401, its Twilio callbacks 404, its queued messages fail (`tenant deactivated`); `true`
    /// restores it. Nothing is deleted.
    pub active: Option<bool>,
    /// The answer to `HELP`/`INFO`, sent from the number the consumer wrote to; 1 to 320
    /// characters, null (the default) for none.
    #[schema(value_type = Option<String>)]
    #[serde(default, deserialize_with = "double_option")]
    pub help_text: Option<Option<String>>,
    /// The confirmation of an opt-out keyword: the one message sent to an opted-out number;
    /// 1 to 320 characters, null for none.
    #[schema(value_type = Option<String>)]
    #[serde(default, deserialize_with = "double_option")]
    pub opt_out_text: Option<Option<String>>,
    /// The answer to an opt-in keyword; 1 to 320 characters, null for none.
    #[schema(value_type = Option<String>)]
    #[serde(default, deserialize_with = "double_option")]
    pub opt_in_text: Option<Option<String>>,
    /// Quiet hours start, `"HH:MM"` (24-hour) in the consumer's local time; set with
    /// `quiet_hours_end`, or both null (the default) for none.
    #[schema(value_type = Option<String>, example = "20:00")]
    #[serde(default, deserialize_with = "double_option")]
    pub quiet_hours_start: Option<Option<String>>,
    /// Quiet hours end (exclusive), `"HH:MM"`; a window may cross midnight.
    #[schema(value_type = Option<String>, example = "08:00")]
    #[serde(default, deserialize_with = "double_option")]
    pub quiet_hours_end: Option<Option<String>>,
}

impl TryFrom<TenantPatch> for TenantUpdate {
    type Error = AdminInputError;

    fn try_from(t: TenantPatch) -> Result<Self, Self::Error> {
        let active = t.active;
        tenant_input!(t, active).into_update()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantOut {
    pub subdomain: String,
    pub name: String,
    pub lang: String,
    pub sms_enabled: bool,
    pub outbound_sms_enabled: bool,
    pub session_timeout_minutes: i32,
    pub rate_limit_per_second: i32,
    pub rate_limit_burst: i32,
    /// Whether the tenant may use the service (default true).
    pub active: bool,
    /// The automatic answers to HELP, opt-out and opt-in keywords (null: none).
    pub help_text: Option<String>,
    pub opt_out_text: Option<String>,
    pub opt_in_text: Option<String>,
    /// Quiet hours in the consumer's local time (null: none).
    pub quiet_hours_start: Option<String>,
    pub quiet_hours_end: Option<String>,
    pub created_at: String,
}

impl From<&Tenant> for TenantOut {
    fn from(t: &Tenant) -> Self {
        Self {
            subdomain: t.subdomain.clone(),
            name: t.name.clone(),
            lang: t.lang.clone(),
            sms_enabled: t.sms_enabled,
            outbound_sms_enabled: t.outbound_sms_enabled,
            session_timeout_minutes: t.session_timeout_minutes,
            rate_limit_per_second: t.rate_limit_per_second,
            rate_limit_burst: t.rate_limit_burst,
            active: t.active,
            help_text: t.help_text.clone(),
            opt_out_text: t.opt_out_text.clone(),
            opt_in_text: t.opt_in_text.clone(),
            quiet_hours_start: t.quiet_hours_start.clone(),
            quiet_hours_end: t.quiet_hours_end.clone(),
            created_at: format_timestamp(t.created_at),
        }
    }
}

/// The optional body of `POST /admin/v1/tenants/{subdomain}/jwt`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"ttl_seconds": 3600}))]
pub struct TenantJwtRequest {
    /// Lifetime in seconds: 1 to `SMS_JWT_MAX_TTL_SECS` (by default 2592000, the maximum shown
    /// here); default 3600.
    #[serde(default, deserialize_with = "integer")]
    pub ttl_seconds: Option<i64>,
}

/// A tenant JWT (`role: "tenant"`): an integration authenticates with it as `Authorization:
/// Bearer <token>` without ever holding the signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantJwtOut {
    pub token: String,
    pub expires_at: String,
}

impl From<IssuedJwt> for TenantJwtOut {
    fn from(issued: IssuedJwt) -> Self {
        Self { token: issued.token, expires_at: format_timestamp(issued.expires_at) }
    }
}

/// A new API token: `token` is shown here and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiTokenCreated {
    pub id: i64,
    pub token: String,
    pub created_at: String,
}

impl From<IssuedToken> for ApiTokenCreated {
    fn from(issued: IssuedToken) -> Self {
        Self { id: issued.record.id.get(), token: issued.token, created_at: format_timestamp(issued.record.created_at) }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiTokenOut {
    pub id: i64,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<&ApiToken> for ApiTokenOut {
    fn from(t: &ApiToken) -> Self {
        Self {
            id: t.id.get(),
            created_at: format_timestamp(t.created_at),
            revoked_at: t.revoked_at.map(format_timestamp),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"number": "+1 628-555-0199"}))]
pub struct OutboundNumberCreate {
    /// A US number in any common format. A string that is not a valid US number answers 400.
    #[schema(required = true, nullable = false, example = "+1 628-555-0199")]
    pub number: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboundNumberOut {
    pub id: i64,
    /// E.164.
    pub number: String,
}

impl From<&OutboundNumber> for OutboundNumberOut {
    fn from(n: &OutboundNumber) -> Self {
        Self { id: n.id.get(), number: n.number.as_str().to_owned() }
    }
}

/// A consumer who opted out of the tenant's messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct OptOutOut {
    /// E.164.
    pub number: String,
    pub created_at: String,
    /// The keyword as the consumer wrote it; null for the carrier's report (Twilio's 21610) or
    /// an admin's action.
    pub keyword: Option<String>,
    /// The tenant's number the consumer wrote to (for the carrier's report, the number the
    /// refused message was sent from).
    pub outbound_number: Option<String>,
    /// The inbound message that carried the keyword (null when none).
    pub message_id: Option<i64>,
}

impl From<&OptOut> for OptOutOut {
    fn from(o: &OptOut) -> Self {
        Self {
            number: o.number.as_str().to_owned(),
            created_at: format_timestamp(o.created_at),
            keyword: o.keyword.clone(),
            outbound_number: o.outbound_number.clone(),
            message_id: o.message_id,
        }
    }
}
