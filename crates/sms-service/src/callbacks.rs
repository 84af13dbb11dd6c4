//! Provider callbacks: Twilio's delivery reports and the consumers' replies, both signed with
//! `X-Twilio-Signature`, and the opt-out and opt-in they carry.

use sms_domain::delivery::{keyword, DeliveryStatus, Keyword};
use sms_domain::{segments, E164Number, Secret};
use sms_store::delivery::{self, Inbound, StatusReport};
use sms_store::Tenant;

use crate::error::{Result, ServiceError};
use crate::Service;

/// What provider callbacks are checked against.
#[derive(Debug, Clone, Default)]
pub struct CallbackSettings {
    /// This service's public base URL (`SMS_PUBLIC_URL`): Twilio signs the URL it called.
    pub public_url: String,
    /// `TWILIO_AUTH_TOKEN`; without it no callback can be verified, so every one is refused.
    pub twilio_auth_token: Option<Secret>,
}

/// A callback as received: the path it was posted to (with its query), the form body and the
/// signature header.
#[derive(Debug, Clone)]
pub struct Form<'a> {
    pub path_and_query: &'a str,
    pub body: &'a [u8],
    pub signature: &'a str,
}

struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl Service {
    /// The form's parameters once its signature is checked, then the tenant it names.
    async fn verified(&self, subdomain: &str, form: &Form<'_>) -> Result<(Params, Tenant)> {
        let params: Vec<(String, String)> = serde_urlencoded::from_bytes(form.body)
            .map_err(|e| ServiceError::Invalid(format!("invalid form body: {e}")))?;
        let settings = &self.inner.callbacks;
        let url = format!("{}{}", settings.public_url.trim_end_matches('/'), form.path_and_query);
        let valid = settings
            .twilio_auth_token
            .as_ref()
            .is_some_and(|token| sms_delivery::twilio::verify(token.expose(), &url, &params, form.signature));
        if !valid {
            return Err(ServiceError::BadSignature);
        }
        sms_domain::json::refuse_nul_in_form(&params)?;
        let subdomain = subdomain.to_owned();
        let tenant = self
            .db(move |conn| {
                // A deactivated tenant's callbacks find no tenant.
                sms_store::tenants::find_by_subdomain(conn, &subdomain)?
                    .filter(|t| t.active)
                    .ok_or(ServiceError::NotFound("tenant"))
            })
            .await?;
        Ok((Params(params), tenant))
    }

    /// A delivery report. Statuses only move forward: a late `sent` does not overwrite
    /// `delivered` or `failed`; a report of a status Twilio has before it sends changes nothing.
    pub async fn twilio_status(&self, subdomain: &str, form: Form<'_>) -> Result<()> {
        let (params, tenant) = self.verified(subdomain, &form).await?;
        let sid = params.get("MessageSid").unwrap_or_default().to_owned();
        let Some(status) = params.get("MessageStatus").and_then(DeliveryStatus::from_twilio) else {
            return Ok(());
        };
        let error = params.get("ErrorCode").filter(|c| !c.is_empty()).map(|code| {
            let text = params.get("ErrorMessage").unwrap_or_default();
            if text.is_empty() {
                format!("twilio error {code}")
            } else {
                format!("twilio error {code}: {text}")
            }
        });
        let (tenant_id, now) = (tenant.id, self.now());
        let report = self
            .db(move |conn| Ok(delivery::apply_status(conn, tenant_id, &sid, status, error.as_deref(), now)?))
            .await?;
        if report == StatusReport::Unknown {
            tracing::warn!("delivery report for an unknown message");
        }
        Ok(())
    }

    /// A consumer's reply. An opt-out keyword opts the number out of the tenant's messages and
    /// ends its active chat; an opt-in keyword opts it back in; anything else joins the
    /// consumer's active chat with that number and restarts its timeout (and its lock's), or is
    /// kept aside when there is none.
    pub async fn twilio_inbound(&self, subdomain: &str, form: Form<'_>) -> Result<()> {
        let (params, tenant) = self.verified(subdomain, &form).await?;
        let number = |name: &str| {
            E164Number::parse(params.get(name).unwrap_or_default())
                .map_err(|_| ServiceError::Invalid(format!("{name} is not a valid US number")))
        };
        let (from, to) = (number("From")?, number("To")?);
        let text = params.get("Body").unwrap_or_default().to_owned();
        let sid = params.get("MessageSid").map(str::to_owned);
        let (tenant_id, now) = (tenant.id, self.now());
        match keyword(&text) {
            Some(Keyword::OptOut) => {
                let ended = self.db(move |conn| Ok(delivery::opt_out(conn, tenant_id, &from, now)?)).await?;
                if let Some(ended) = ended {
                    self.release_ended(&ended).await;
                }
                tracing::info!(tenant_id, "consumer opted out");
            }
            Some(Keyword::OptIn) => {
                self.db(move |conn| Ok(delivery::opt_in(conn, tenant_id, from.as_str())?)).await?;
                tracing::info!(tenant_id, "consumer opted back in");
            }
            None => {
                let timeout = chrono::Duration::minutes(i64::from(tenant.session_timeout_minutes));
                let parts = segments::count(&text);
                let inbound = self
                    .db(move |conn| {
                        let reply =
                            delivery::Reply { from: &from, to: &to, body: &text, segments: parts, sid: sid.as_deref() };
                        Ok(delivery::record_inbound(conn, tenant_id, &reply, now, timeout)?)
                    })
                    .await?;
                match inbound {
                    Inbound::Joined { chat, end_user_number } => {
                        self.refresh_lock(&chat, &end_user_number, tenant.session_timeout_minutes).await;
                        tracing::info!(chat_id = chat.id, "reply joined its chat");
                    }
                    Inbound::Unrouted => tracing::info!(tenant_id, "reply without an active chat kept aside"),
                }
            }
        }
        Ok(())
    }
}
