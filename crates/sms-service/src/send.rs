//! Sending an SMS: opening a chat with its first message, in the documented order of checks,
//! under the consumer's session lock; and the same once per `Idempotency-Key`.

use sms_domain::BodyError;
use sms_domain::{
    segments, Addressed, AgentSelector, Content, E164Number, IdempotencyKey, SendSmsBody, SmsError, TenantId,
    TenantPolicy,
};
use sms_store::chats::{self, NewChatSpec, Opened, Refusal};
use sms_store::{Agent, ChatBundle, DbConn, Tenant};

use crate::error::{Result, ServiceError};
use crate::idempotent::{keep, Claim, Remembered, Render, SendOutcome};
use crate::life::{self, AfterCommit};
use crate::{session_ttl, Service};

/// A chat opened; the consumer's previous chat when it had run past its timeout and was ended
/// on the way (its lock is released once the transaction commits); the answer kept under the
/// request's `Idempotency-Key`, in the same transaction.
struct Opening {
    bundle: ChatBundle,
    expired: AfterCommit,
    kept: Option<Remembered>,
}

impl Service {
    /// Sends an SMS: opens a chat for the consumer with its first message queued for delivery.
    ///
    /// The first fault in this order is answered: the fields (chat type, the tenant's switches,
    /// the consumer's number, the outbound number), the outbound number being the tenant's,
    /// the message and ticket, the agent, the opt-out, and last the consumer's active session.
    /// Nothing is written on any fault, and no lock is left held.
    pub async fn send(&self, tenant: &Tenant, body: &[u8]) -> Result<ChatBundle> {
        let request = SendSmsBody::from_json(body)?;
        Ok(self.open_chat(tenant, request, None).await?.0)
    }

    /// What [`Service::send`] would answer for `body`, written nowhere: its first fault, in
    /// the send's own order and with its own checks, including the consumer's active chat; for
    /// quiet hours, also when the consumer may next be texted.
    pub async fn precheck_send(&self, tenant: &Tenant, body: &[u8]) -> Result<Precheck> {
        let request = SendSmsBody::from_json(body)?;
        let policy =
            TenantPolicy { sms_enabled: tenant.sms_enabled, outbound_sms_enabled: tenant.outbound_sms_enabled };
        let addressed = match request.addressing(policy) {
            Ok(addressed) => addressed,
            Err(e) => return Ok(Precheck { fault: Some(e.into()), quiet_until: None }),
        };
        let at = sms_domain::time::as_utc(self.now());
        let quiet_hours = tenant_quiet_hours(tenant);
        let quiet = quiet_hours.is_some_and(|q| q.applies(&addressed.end_user, at));
        let quiet_until = quiet_hours.filter(|_| quiet).map(|q| q.next_allowed(&addressed.end_user, at));
        let send = SendPlan {
            tenant: tenant.clone(),
            content: request.content(),
            selector: request.agent_selector(),
            addressed,
            quiet,
        };
        let now = self.now();
        let fault = self
            .db(move |conn| {
                if let Err(e) = send.checked(conn) {
                    return Ok(Some(e));
                }
                let active = chats::active_chat(conn, send.tenant.id, &send.addressed.end_user)?;
                Ok(active
                    .filter(|chat| chat.expires_at > now)
                    .map(|chat| SmsError::ActiveSession { chat_id: Some(chat.id) }.into()))
            })
            .await?;
        let quiet_until = quiet_until.filter(|_| matches!(fault, Some(ServiceError::Rejected(SmsError::QuietHours))));
        Ok(Precheck { fault, quiet_until })
    }

    /// [`Service::send`] once per `key`: the same key with the same body replays the first
    /// answer and creates nothing; with another body it is refused; while the first request
    /// runs it is a conflict. What is kept is committed with the chat (see [`Service::once`]).
    pub async fn send_once(
        &self,
        tenant: &Tenant,
        key: &IdempotencyKey,
        body: &[u8],
        render: Render<ChatBundle>,
    ) -> Result<SendOutcome> {
        let work = |parsed: Result<serde_json::Value, BodyError>, remember| async move {
            let request = SendSmsBody::from_value(parsed?)?;
            self.open_chat(tenant, request, Some(remember)).await
        };
        self.once(tenant, key, "", body, render, work).await
    }

    /// Takes the consumer's lock and writes the chat.
    ///
    /// The usual case takes the lock first and then, in one transaction, makes the checks
    /// that read the tenant's tables and writes the chat. When the lock is held, those checks
    /// run on their own first, so a fault earlier in the order still wins over the active
    /// session.
    async fn open_chat(
        &self,
        tenant: &Tenant,
        request: SendSmsBody,
        remember: Option<(Claim, Render<ChatBundle>)>,
    ) -> Result<(ChatBundle, Option<Remembered>)> {
        let policy =
            TenantPolicy { sms_enabled: tenant.sms_enabled, outbound_sms_enabled: tenant.outbound_sms_enabled };
        let addressed = request.addressing(policy)?;
        let quiet = tenant_quiet_hours(tenant)
            .is_some_and(|q| q.applies(&addressed.end_user, sms_domain::time::as_utc(self.now())));
        let send = SendPlan {
            tenant: tenant.clone(),
            content: request.content(),
            selector: request.agent_selector(),
            addressed,
            quiet,
        };
        let tenant_id = tenant.id;
        let end_user = send.addressed.end_user.clone();
        let guard = match self.try_lock(tenant_id, &end_user).await? {
            Some(guard) => guard,
            None => {
                let early = send.clone();
                self.db(move |conn| early.checked(conn).map(drop)).await?;
                self.lock(tenant_id, &end_user).await?
            }
        };
        let token = guard.token().map(|t| t.as_str().to_owned());
        let now = self.now();
        let quick = match remember {
            None => self.open_at_once(&send, token.clone(), now).await,
            Some(_) => Ok(None),
        };
        let written = match quick {
            Ok(Some(bundle)) => Ok(Opening { bundle, expired: AfterCommit::nothing(), kept: None }),
            Ok(None) => self.write(move |conn| send.write(conn, token.as_deref(), now, remember)).await,
            Err(e) => Err(e),
        };
        let opening = match written {
            Ok(opening) => opening,
            Err(e) => {
                guard.release().await;
                return Err(self.name_the_active_chat(e, tenant_id, end_user).await);
            }
        };
        #[cfg(feature = "fault-hooks")]
        if std::env::var_os("SMS_FAULT_EXIT_AFTER_COMMIT").is_some() {
            // The process dies between the commit and the answer, as a killed instance would.
            std::process::exit(137);
        }
        // The session now belongs to the chat: a shared lock is held for the chat's lifetime.
        // Off the answer's path: the chat is committed, and a failure changes nothing for the
        // client (the database still guards the session). A refresh that runs after the chat
        // was ended finds the lock released and does nothing. The single instance's lock is let
        // go: its database answers for the chat from now on.
        if !self.inner.lock.held_for_the_chat() {
            guard.release().await;
        } else if let Some(token) = guard.keep() {
            let key = sms_lock::LockKey::new(tenant_id.get(), end_user.as_str());
            let (lock, ttl) = (self.inner.lock.clone(), session_ttl(tenant.session_timeout_minutes));
            tokio::spawn(async move {
                if let Err(e) = lock.refresh(&key, &token, ttl).await {
                    tracing::warn!(error = %e, "could not extend the session lock; the database still guards the session");
                }
            });
        }
        opening.expired.run(self).await;
        tracing::info!(chat_id = opening.bundle.chat.id.get(), end_user = %end_user.masked(), "outbound chat created");
        Ok((opening.bundle, opening.kept))
    }

    /// The usual send (see [`SendPlan::is_usual`]) without an `Idempotency-Key`, opened and
    /// told in one statement where the store writes it so (`events::open_at_once`: on
    /// PostgreSQL one round trip and one commit where the transaction takes four). `None`:
    /// nothing was written, and [`SendPlan::write`] opens the chat in a transaction or answers
    /// the first fault in the documented order.
    async fn open_at_once(
        &self,
        send: &SendPlan,
        token: Option<String>,
        now: chrono::NaiveDateTime,
    ) -> Result<Option<ChatBundle>> {
        if !self.inner.store.writes_at_once() || !send.is_usual() {
            return Ok(None);
        }
        let send = send.clone();
        self.write_at_once(move |conn| {
            let Ok(content) = &send.content else { return Ok(None) };
            Ok(crate::events::open_at_once(conn, &send.spec(content, None, token.as_deref(), now))?)
        })
        .await
    }

    /// A chat committed by a concurrent request is invisible inside the transaction the index
    /// refused; it is visible now, and the answer names it. The active-session fault is only
    /// ever answered with the chat it names; without one, another request is still at work.
    async fn name_the_active_chat(&self, e: ServiceError, tenant_id: TenantId, end_user: E164Number) -> ServiceError {
        let ServiceError::Rejected(SmsError::ActiveSession { chat_id: None }) = e else { return e };
        let found = self.db(move |conn| Ok(chats::active_chat(conn, tenant_id, &end_user)?)).await;
        match found {
            Ok(Some(chat)) => SmsError::ActiveSession { chat_id: Some(chat.id) }.into(),
            Ok(None) => ServiceError::Busy,
            Err(e) => e,
        }
    }
}

/// What a send would answer now ([`Service::precheck_send`]).
#[derive(Debug)]
pub struct Precheck {
    /// The fault it would be refused with; `None` when it would be sent.
    pub fault: Option<ServiceError>,
    /// Under quiet hours: when they end for the consumer, in the consumer's time zone.
    pub quiet_until: Option<chrono::DateTime<chrono_tz::Tz>>,
}

/// One send, as validated so far.
#[derive(Clone)]
struct SendPlan {
    tenant: Tenant,
    addressed: Addressed,
    /// Checked before the write, answered after the outbound number's check.
    content: Result<Content, SmsError>,
    selector: AgentSelector,
    /// It is quiet hours for the consumer (answered after the opt-out).
    quiet: bool,
}

/// The tenant's quiet hours, if it has them (stored values were checked when set).
fn tenant_quiet_hours(tenant: &Tenant) -> Option<sms_domain::QuietHours> {
    sms_domain::QuietHours::from_settings(tenant.quiet_hours_start.as_deref(), tenant.quiet_hours_end.as_deref())
        .ok()
        .flatten()
}

impl SendPlan {
    /// The faults that need the tenant's tables, in order after the fields' own: the outbound
    /// number, the message and ticket, the agent, the opt-out; then quiet hours. Answers the
    /// agent.
    fn checked(&self, conn: &mut DbConn) -> Result<Option<Agent>> {
        let (tenant_id, addressed) = (self.tenant.id, &self.addressed);
        let checks = sms_store::numbers::send_checks(conn, tenant_id, &addressed.outbound, &addressed.end_user)?;
        if !checks.outbound_registered {
            return Err(SmsError::OutboundNumberNotFound.into());
        }
        self.content.clone()?;
        let agent = sms_agents::resolve(conn, tenant_id, &self.selector)?;
        if checks.opted_out {
            return Err(SmsError::OptedOut.into());
        }
        if self.quiet {
            return Err(SmsError::QuietHours.into());
        }
        Ok(agent)
    }

    /// The usual send: a valid message, no agent, not in quiet hours. Its table checks travel
    /// with the write, which answers which of them refused it.
    fn is_usual(&self) -> bool {
        self.content.is_ok() && self.selector.is_empty() && !self.quiet
    }

    /// The chat this send opens, with `content`, for `agent`.
    fn spec<'a>(
        &'a self,
        content: &'a Content,
        agent: Option<&'a Agent>,
        lock_token: Option<&'a str>,
        now: chrono::NaiveDateTime,
    ) -> NewChatSpec<'a> {
        let tenant = &self.tenant;
        NewChatSpec {
            tenant_id: tenant.id,
            lang: &tenant.lang,
            chat_type: self.addressed.chat_type,
            end_user_number: &self.addressed.end_user,
            outbound_number: &self.addressed.outbound,
            ticket_id: content.ticket_id.as_deref(),
            agent,
            message: &content.message,
            segments: segments::count(&content.message),
            lock_token,
            now,
            session_timeout: chrono::Duration::minutes(i64::from(tenant.session_timeout_minutes)),
        }
    }

    /// Writes the chat inside the caller's transaction. The usual send ([`Self::is_usual`])
    /// reads nothing first.
    fn write(
        &self,
        conn: &mut DbConn,
        lock_token: Option<&str>,
        now: chrono::NaiveDateTime,
        remember: Option<(Claim, Render<ChatBundle>)>,
    ) -> Result<Opening> {
        let agent = if self.is_usual() { None } else { self.checked(conn)? };
        let content = self.content.clone()?;
        let spec = self.spec(&content, agent.as_ref(), lock_token, now);
        let mut expired = AfterCommit::nothing();
        // At most twice: a second refusal is a chat opened meanwhile by someone else.
        for attempt in 0..2 {
            match chats::open(conn, &spec)? {
                Opened::Created(bundle) => {
                    crate::events::opened(conn, &bundle, now)?;
                    let kept = match &remember {
                        Some((claim, render)) => Some(keep(conn, claim, render(Ok(&bundle)))?),
                        None => None,
                    };
                    return Ok(Opening { bundle: *bundle, expired, kept });
                }
                Opened::Refused(Refusal::OutboundNotRegistered) => return Err(SmsError::OutboundNumberNotFound.into()),
                Opened::Refused(Refusal::OptedOut) => return Err(SmsError::OptedOut.into()),
                // Past its timeout, and nobody has ended it yet: it ends here, and the new chat
                // opens in its place.
                Opened::Busy(Some(active)) if attempt == 0 && active.expires_at <= now => {
                    expired = life::expire(conn, &active, now)?;
                }
                Opened::Busy(active) => {
                    return Err(SmsError::ActiveSession { chat_id: active.map(|c| c.id) }.into());
                }
            }
        }
        Err(SmsError::ActiveSession { chat_id: None }.into())
    }
}
