//! Provider callbacks: Twilio's delivery reports and the consumers' replies, both signed with
//! `X-Twilio-Signature`, and the opt-out and opt-in they carry.

use sms_domain::delivery::{keyword, DeliveryStatus, Keyword};
use sms_domain::{segments, ChatId, E164Number, EventType, Secret, TenantId};
use sms_store::inbound::{self, Inbound};
use sms_store::outbox::{self, StatusReport};
use sms_store::{opt_outs, DbConn, Tenant};

use crate::events;
use crate::life::{self, AfterCommit, OptOutSource};
use crate::views::{MediaObject, MessageObject};

use crate::error::{Result, ServiceError};
use crate::Service;

/// What provider callbacks are checked against.
#[derive(Debug, Clone, Default)]
pub struct CallbackSettings {
    /// This service's public base URL (`SMS_PUBLIC_URL`): Twilio signs the URL it called.
    pub public_url: String,
    /// `TWILIO_AUTH_TOKEN`; without it no callback can be verified, so every one is refused.
    pub twilio_auth_token: Option<Secret>,
    /// `TWILIO_ACCOUNT_SID`: a callback that names another account is refused.
    pub twilio_account_sid: Option<String>,
}

/// A callback as received: the path it was posted to (with its query), the form body and the
/// signature header.
#[derive(Debug, Clone)]
pub struct Form<'a> {
    pub path_and_query: &'a str,
    pub body: &'a [u8],
    pub signature: &'a str,
    /// Who posted it (a wrong signature counts as a failed authentication of this address).
    pub client: std::net::IpAddr,
}

struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The callback's `MessageSid`, checked.
    fn sid(&self) -> &str {
        self.get("MessageSid").unwrap_or_default()
    }

    /// Twilio's signature joins names and values without separators, so a signed callback could
    /// be reshaped into another with the same signature (`MessageSid=SM…01` as `MessageSidS=M…01`,
    /// a repeated name, a name dropped). Only the shape Twilio sends is taken: every name once, a
    /// `MessageSid` of Twilio's form, and the configured account.
    fn strict(&self, account_sid: Option<&str>) -> Result<()> {
        for (i, (name, _)) in self.0.iter().enumerate() {
            if self.0[..i].iter().any(|(earlier, _)| earlier == name) {
                return Err(ServiceError::Invalid(format!("{name} appears more than once")));
            }
        }
        if !is_message_sid(self.sid()) {
            return Err(ServiceError::Invalid("MessageSid is invalid".into()));
        }
        match (self.get("AccountSid"), account_sid) {
            (Some(sent), Some(ours)) if sent != ours => {
                Err(ServiceError::Invalid("AccountSid is not this account".into()))
            }
            (Some(_), None) => Err(ServiceError::Invalid("AccountSid is not this account".into())),
            _ => Ok(()),
        }
    }
}

/// Twilio's message id: `SM` (or `MM` for an MMS) and 32 hexadecimal digits.
fn is_message_sid(sid: &str) -> bool {
    sid.len() == 34
        && (sid.starts_with("SM") || sid.starts_with("MM"))
        && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

impl Service {
    /// The form's parameters once its signature is checked, then the tenant it names.
    async fn verified(&self, subdomain: &str, form: &Form<'_>) -> Result<(Params, Tenant)> {
        self.admit(form.client, None)?;
        let params: Vec<(String, String)> = serde_urlencoded::from_bytes(form.body)
            .map_err(|e| ServiceError::Invalid(format!("invalid form body: {e}")))?;
        let settings = &self.inner.callbacks;
        let url = format!("{}{}", settings.public_url.trim_end_matches('/'), form.path_and_query);
        let valid = settings
            .twilio_auth_token
            .as_ref()
            .is_some_and(|token| sms_delivery::twilio::verify(token.expose(), &url, &params, form.signature));
        if !valid {
            return self.note_outcome(Err(ServiceError::BadSignature), form.client, None);
        }
        sms_domain::json::refuse_nul_in_form(&params)?;
        let params = Params(params);
        params.strict(settings.twilio_account_sid.as_deref())?;
        let subdomain = subdomain.to_owned();
        let tenant = self
            .db(move |conn| {
                // A deactivated tenant's callbacks find no tenant.
                sms_store::tenants::find_by_subdomain(conn, &subdomain)?
                    .filter(|t| t.active)
                    .ok_or(ServiceError::NotFound("tenant"))
            })
            .await?;
        Ok((params, tenant))
    }

    /// A delivery report. Statuses only move forward: a late `sent` does not overwrite
    /// `delivered` or `failed`; a report of a status Twilio has before it sends changes nothing.
    pub async fn twilio_status(&self, subdomain: &str, form: Form<'_>) -> Result<()> {
        let (params, tenant) = self.verified(subdomain, &form).await?;
        let sid = params.sid().to_owned();
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
            .db(move |conn| {
                sms_store::transaction(conn, |conn| {
                    let report = outbox::apply_status(conn, tenant_id, &sid, status, error.as_deref(), now)?;
                    if let StatusReport::Applied(message) = &report {
                        let (number, message) = (message.to_number.clone(), MessageObject::from(message.as_ref()));
                        events::message(conn, EventType::MessageStatusUpdated, tenant_id, &number, message, now)?;
                    }
                    Ok(report)
                })
            })
            .await?;
        if matches!(report, StatusReport::Unknown) {
            tracing::warn!("delivery report for an unknown message");
        }
        Ok(())
    }

    /// A consumer's reply. It joins the consumer's active chat with that number and restarts
    /// its timeout (and its lock's), or is kept aside when there is none; either way the tenant
    /// hears of it. A keyword reply is kept the same way, then does what it asks: an opt-out
    /// opts the number out of the tenant's messages and ends its active chat; an opt-in (and
    /// `YES` from an opted-out number) opts it back in; `HELP` asks for the tenant's help text.
    /// Each is answered with the tenant's text for it, when it has one, from the number the
    /// consumer wrote to. A callback whose `MessageSid` the tenant has taken already changes
    /// nothing; one whose `To` is not the tenant's number is refused and records nothing.
    /// Everything a reply changes, and its events, commit together.
    pub async fn twilio_inbound(&self, subdomain: &str, form: Form<'_>) -> Result<()> {
        let (params, tenant) = self.verified(subdomain, &form).await?;
        let number = |name: &str| {
            E164Number::parse(params.get(name).unwrap_or_default())
                .map_err(|_| ServiceError::Invalid(format!("{name} is not a valid US number")))
        };
        let (from, to) = (number("From")?, number("To")?);
        let text = params.get("Body").unwrap_or_default().to_owned();
        let sid = params.sid().to_owned();
        let said = keyword(&text);
        let media = inbound_media(&params)?;
        let (tenant_id, now) = (tenant.id, self.now());
        let answers = Answers::of(&tenant);
        let timeout = chrono::Duration::minutes(i64::from(tenant.session_timeout_minutes));
        let taken = self
            .db(move |conn| {
                sms_store::transaction(conn, |conn| {
                    if !sms_store::numbers::is_registered(conn, tenant_id, &to)? {
                        return Err(ServiceError::Missing("outbound_number is not found"));
                    }
                    // A keyword's receipt is kept for good: no replay of it ever takes effect again.
                    if !sms_store::receipts::first(conn, tenant_id, &sid, said.is_some(), now)? {
                        return Ok(None);
                    }
                    let reply = inbound::Reply {
                        from: &from,
                        to: &to,
                        body: &text,
                        segments: segments::count(&text),
                        sid: Some(&sid),
                        media: media.as_deref(),
                    };
                    let inbound = inbound::record(conn, tenant_id, &reply, now, timeout)?;
                    let (chat_id, message_id, message) = match &inbound {
                        Inbound::Joined { chat, message, .. } => {
                            (Some(chat.id), Some(message.id.get()), MessageObject::from(message.as_ref()))
                        }
                        Inbound::Unrouted(kept) => (None, None, MessageObject::from(kept.as_ref())),
                    };
                    events::message(conn, EventType::MessageReceived, tenant_id, &from, message, now)?;
                    let after = match said {
                        Some((word, matched)) => {
                            let said = Said {
                                tenant_id,
                                from: &from,
                                to: &to,
                                chat_id,
                                message_id,
                                keyword: &matched,
                                written: text.trim(),
                            };
                            said.obey(conn, word, &answers, now)?
                        }
                        None => AfterCommit::nothing(),
                    };
                    Ok(Some((inbound, after)))
                })
            })
            .await?;
        let Some((inbound, after)) = taken else {
            tracing::info!(tenant_id = tenant_id.get(), "a callback already taken, replayed: nothing changed");
            return Ok(());
        };
        let chat_ended = after.chats_ended() > 0;
        after.run(self).await;
        match inbound {
            Inbound::Joined { chat, end_user_number, .. } => {
                if !chat_ended {
                    self.refresh_lock(&chat, &end_user_number, tenant.session_timeout_minutes);
                }
                tracing::info!(chat_id = chat.id.get(), "reply joined its chat");
            }
            Inbound::Unrouted(_) => {
                tracing::info!(tenant_id = tenant_id.get(), "reply without an active chat kept aside")
            }
        }
        Ok(())
    }
}

/// The media of an inbound MMS: `NumMedia`, then `MediaUrl{N}` and `MediaContentType{N}` for N
/// from 0, kept in order as `[{"url", "content_type"}]`; `None` without media.
fn inbound_media(params: &Params) -> Result<Option<String>> {
    let count = params.get("NumMedia").and_then(|n| n.trim().parse::<usize>().ok()).unwrap_or(0);
    let media: Vec<MediaObject> = (0..count.min(MAX_INBOUND_MEDIA))
        .filter_map(|n| {
            let url = params.get(&format!("MediaUrl{n}"))?.to_owned();
            let content_type = params.get(&format!("MediaContentType{n}")).filter(|t| !t.is_empty()).map(str::to_owned);
            Some(MediaObject { url, content_type })
        })
        .collect();
    if media.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(&media).map(Some).map_err(|e| ServiceError::Internal(e.to_string()))
}

/// Twilio forwards at most 10 media with a message.
const MAX_INBOUND_MEDIA: usize = 10;

/// The tenant's automatic answers to keywords.
struct Answers {
    help: Option<String>,
    opt_out: Option<String>,
    opt_in: Option<String>,
}

impl Answers {
    fn of(tenant: &Tenant) -> Self {
        Self {
            help: tenant.help_text.clone(),
            opt_out: tenant.opt_out_text.clone(),
            opt_in: tenant.opt_in_text.clone(),
        }
    }
}

/// A keyword as a consumer said it.
struct Said<'a> {
    tenant_id: TenantId,
    from: &'a E164Number,
    /// The tenant's number the consumer wrote to: it answers.
    to: &'a E164Number,
    /// The chat the keyword joined, if any.
    chat_id: Option<ChatId>,
    /// The inbound message that carried it, when it joined a chat.
    message_id: Option<i64>,
    /// The keyword as matched, in capitals.
    keyword: &'a str,
    /// The message as the consumer wrote it (trimmed).
    written: &'a str,
}

impl Said<'_> {
    /// Does what the keyword asks, in the reply's transaction, and answers it with the tenant's
    /// text when it has one: an opt-out opts the number out and ends the consumer's active chat
    /// (its lock is released after the commit); an opt-in lifts the opt-out; `YES` is an opt-in
    /// only from an opted-out number. The chat's life decides what each changes and tells.
    fn obey(
        &self,
        conn: &mut DbConn,
        word: Keyword,
        answers: &Answers,
        now: chrono::NaiveDateTime,
    ) -> Result<AfterCommit, ServiceError> {
        let (tenant_id, from) = (self.tenant_id, self.from);
        match word {
            Keyword::OptOut => {
                let source = OptOutSource::Keyword {
                    keyword: self.keyword,
                    written: self.written,
                    to: self.to,
                    message_id: self.message_id,
                    chat_id: self.chat_id,
                };
                let after = life::opt_out(conn, tenant_id, from, source, now)?;
                self.answer(conn, answers.opt_out.as_deref(), sms_delivery::OPT_OUT_CONFIRMATION, now)?;
                Ok(after)
            }
            Keyword::Yes if !opt_outs::contains(conn, tenant_id, from)? => Ok(AfterCommit::nothing()),
            Keyword::OptIn | Keyword::Yes => {
                life::opt_in(conn, tenant_id, from, self.keyword, self.chat_id, now)?;
                self.answer(conn, answers.opt_in.as_deref(), "opt_in", now)?;
                Ok(AfterCommit::nothing())
            }
            Keyword::Help => {
                self.answer(conn, answers.help.as_deref(), "help", now)?;
                Ok(AfterCommit::nothing())
            }
        }
    }

    /// Queues the tenant's answer, if it has one, from the number the consumer wrote to; it
    /// appears in the chat the keyword joined.
    fn answer(&self, conn: &mut DbConn, text: Option<&str>, kind: &str, now: chrono::NaiveDateTime) -> Result<()> {
        let Some(text) = text else { return Ok(()) };
        let answer = outbox::Automatic {
            tenant_id: self.tenant_id,
            chat_id: self.chat_id,
            from: self.to,
            to: self.from,
            body: text,
            segments: segments::count(text),
            kind,
        };
        let queued = outbox::queue_automatic(conn, &answer, now)?;
        events::outbound(conn, self.tenant_id, None, &queued, now)?;
        Ok(())
    }
}
