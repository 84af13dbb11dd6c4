//! Replying inside a chat: the agent (or the integration acting for one) answers the consumer
//! in the open conversation, in the documented order of checks.

use sms_domain::{
    segments, AgentSelector, BodyError, ChatId, ChatMessageBody, EventType, IdempotencyKey, ReplyBody, SmsError,
};
use sms_store::chats::{self, NewReply, Replied, UsualReply};
use sms_store::{ChatBundle, Message, Tenant};

use crate::error::{Result, ServiceError};
use crate::idempotent::{keep, Claim, Remembered, Render, SendOutcome};
use crate::views::MediaObject;
use crate::Service;

impl Service {
    /// Writes an outbound message into the tenant's chat `chat_id`, queued for delivery from
    /// the chat's number to its consumer.
    ///
    /// The first fault in this order is answered: the chat missing (or another tenant's), the
    /// tenant's SMS switched off, the message (required unless media are given; its length),
    /// the media, the agent, the chat not active, the consumer opted out. Quiet hours do not
    /// apply inside an open chat. The message, its outbox entry, the chat's new timeout and,
    /// for a chat without an agent, its assignment to the one who writes (with `chat.assigned`)
    /// commit together; the session lock is refreshed after.
    pub async fn reply(&self, tenant: &Tenant, chat_id: ChatId, request: ReplyBody) -> Result<Message> {
        Ok(self.write_reply(tenant, chat_id, request, None).await?.0)
    }

    /// [`Service::reply`] once per `Idempotency-Key`, as sends are.
    pub async fn reply_once(
        &self,
        tenant: &Tenant,
        chat_id: ChatId,
        key: &IdempotencyKey,
        body: &[u8],
        render: Render<Message>,
    ) -> Result<SendOutcome> {
        let scope = format!("chats/{chat_id}/messages");
        let read = |value| Ok(ReplyBody::from_value(value)?);
        self.reply_once_as(tenant, chat_id, (key, &scope), body, render, read).await
    }

    /// The platform's chat message (`POST /apps/api/v1/chats/{id}/message`): a reply by
    /// `from_user_id`, with the reply's checks and effect.
    pub async fn chat_message(&self, tenant: &Tenant, chat_id: ChatId, request: &ChatMessageBody) -> Result<Message> {
        self.reply(tenant, chat_id, request.reply()?).await
    }

    /// [`Service::chat_message`] once per `Idempotency-Key`, as replies are.
    pub async fn chat_message_once(
        &self,
        tenant: &Tenant,
        chat_id: ChatId,
        key: &IdempotencyKey,
        body: &[u8],
        render: Render<Message>,
    ) -> Result<SendOutcome> {
        let scope = format!("chats/{chat_id}/message");
        let read = |value| Ok(sms_domain::json::from_value::<ChatMessageBody>(value)?.reply()?);
        self.reply_once_as(tenant, chat_id, (key, &scope), body, render, read).await
    }

    /// Assigns the tenant's active chat `chat_id` to the agent `selector` names, without a
    /// message (section 10, version 3): an unassigned chat as a reply naming the agent would; a
    /// chat of another agent is reassigned (their participant disconnects); the same agent
    /// again changes nothing. `chat.assigned` commits with the change. Faults in order: the
    /// chat missing, no agent named (`agent is required`), the agent's faults, the chat not
    /// active.
    pub async fn assign(&self, tenant: &Tenant, chat_id: ChatId, selector: AgentSelector) -> Result<ChatBundle> {
        let (owner, now) = (tenant.clone(), self.now());
        let bundle = self
            .db(move |conn| {
                sms_store::transaction(conn, |conn| {
                    let tenant = &owner;
                    // Twice at most: a second agent assigning at the same moment wins or loses
                    // cleanly, and the loser's call is taken again on the chat as it is now.
                    for _ in 0..2 {
                        let chat = chats::find_chat(conn, tenant.id, chat_id)?.ok_or(ServiceError::NotFound("chat"))?;
                        if selector.is_empty() {
                            return Err(ServiceError::Invalid("agent is required".into()));
                        }
                        let agent = sms_agents::resolve(conn, tenant.id, &selector)?
                            .ok_or_else(|| ServiceError::Invalid("agent is required".into()))?;
                        let owned = sms_store::numbers::is_registered(conn, tenant.id, &chat.outbound_number)?;
                        if !chat.status.is_active() || chat.expires_at <= now || !owned {
                            return Err(ServiceError::Conflict("chat is not active"));
                        }
                        match chats::assign(conn, &chat, &agent, now)? {
                            chats::Assigned::Already => {}
                            chats::Assigned::Now { .. } => {
                                crate::events::chat_by_id(conn, EventType::ChatAssigned, tenant.id, chat.id, now)?;
                            }
                            chats::Assigned::Lost => continue,
                        }
                        return chats::find(conn, tenant.id, chat.id)?.ok_or(ServiceError::NotFound("chat"));
                    }
                    Err(ServiceError::Conflict("chat is not active"))
                })
            })
            .await?;
        tracing::info!(chat_id = chat_id.get(), "chat assigned");
        Ok(bundle)
    }

    async fn reply_once_as(
        &self,
        tenant: &Tenant,
        chat_id: ChatId,
        (key, scope): (&IdempotencyKey, &str),
        body: &[u8],
        render: Render<Message>,
        read: impl FnOnce(serde_json::Value) -> Result<ReplyBody>,
    ) -> Result<SendOutcome> {
        let work = |parsed: std::result::Result<serde_json::Value, BodyError>, remember| async move {
            let request = read(parsed?)?;
            self.write_reply(tenant, chat_id, request, Some(remember)).await
        };
        self.once(tenant, key, scope, body, render, work).await
    }

    /// Writes the reply: the usual one at once where the store can, any other (or one it did
    /// not write) in a transaction; then refreshes the session lock.
    async fn write_reply(
        &self,
        tenant: &Tenant,
        chat_id: ChatId,
        request: ReplyBody,
        remember: Option<(Claim, Render<Message>)>,
    ) -> Result<(Message, Option<Remembered>)> {
        let quick = match remember {
            None => self.reply_at_once(tenant, chat_id, &request).await?,
            Some(_) => None,
        };
        let (Replied { message, chat, end_user_number, .. }, kept) = match quick {
            Some(replied) => (replied, None),
            None => self.reply_in_transaction(tenant, chat_id, request, remember).await?,
        };
        self.refresh_lock(&chat, &end_user_number, tenant.session_timeout_minutes);
        tracing::info!(chat_id = chat.id.get(), message_id = message.id.get(), "reply queued in its chat");
        Ok((message, kept))
    }

    /// The usual reply (no agent named, no `Idempotency-Key`), once the checks that need no
    /// table passed, in one statement that makes the table checks itself, where the store
    /// writes it so (`chats::reply_at_once`: on PostgreSQL one round trip where the
    /// transaction takes six). `None`: nothing was written, and [`Self::reply_in_transaction`]
    /// writes it or answers the first fault in the documented order.
    async fn reply_at_once(&self, tenant: &Tenant, chat_id: ChatId, request: &ReplyBody) -> Result<Option<Replied>> {
        if !self.inner.store.writes_at_once() || !tenant.sms_enabled || !request.agent_selector().is_empty() {
            return Ok(None);
        }
        let Ok(content) = request.content() else { return Ok(None) };
        if !content.media_urls.iter().all(|url| self.inner.destinations.permits_media_url(url)) {
            return Ok(None);
        }
        let media = media_json(&content.media_urls)?;
        let (tenant_id, now) = (tenant.id, self.now());
        let session_timeout = chrono::Duration::minutes(i64::from(tenant.session_timeout_minutes));
        self.db(move |conn| {
            let reply = UsualReply {
                body: &content.message,
                segments: segments::count(&content.message),
                media: media.as_deref(),
                now,
                session_timeout,
                unless_ccai_receives: EventType::MessageReceived.as_str(),
            };
            let Some(replied) = chats::reply_at_once(conn, tenant_id, chat_id, &reply)? else { return Ok(None) };
            // Written only because no `ccai` endpoint receives the message's event: its rule has
            // nothing to write, and tells the console of the change.
            crate::events::outbound(conn, tenant_id, Some(""), &replied.message, now)?;
            Ok(Some(replied))
        })
        .await
    }

    /// Any reply, in a transaction: the message with its events and what its
    /// `Idempotency-Key` keeps, or the first fault in the documented order.
    async fn reply_in_transaction(
        &self,
        tenant: &Tenant,
        chat_id: ChatId,
        request: ReplyBody,
        remember: Option<(Claim, Render<Message>)>,
    ) -> Result<(Replied, Option<Remembered>)> {
        let (owner, now) = (tenant.clone(), self.now());
        let destinations = self.inner.destinations.clone();
        self.write(move |conn| {
            sms_store::transaction(conn, |conn| {
                let tenant = &owner;
                let context = chats::context(conn, tenant.id, chat_id)?.ok_or(ServiceError::NotFound("chat"))?;
                let chat = &context.chat;
                if !tenant.sms_enabled {
                    return Err(SmsError::SmsDisabled.into());
                }
                let content = request.content()?;
                // Providers fetch the media: none may steer them into anyone's network.
                if !content.media_urls.iter().all(|url| destinations.permits_media_url(url)) {
                    return Err(SmsError::MediaUrlsInvalid.into());
                }
                let agent = sms_agents::resolve(conn, tenant.id, &request.agent_selector())?;
                // A chat past its timeout that the sweeper has not ended yet is over too, and
                // so is one whose number the tenant no longer owns.
                if !chat.status.is_active() || chat.expires_at <= now || !context.outbound_owned {
                    return Err(ServiceError::Conflict("chat is not active"));
                }
                if context.opted_out {
                    return Err(SmsError::OptedOut.into());
                }
                let media = media_json(&content.media_urls)?;
                let reply = NewReply {
                    agent: agent.as_ref(),
                    to: &context.end_user_number,
                    body: &content.message,
                    segments: segments::count(&content.message),
                    media: media.as_deref(),
                    now,
                    session_timeout: chrono::Duration::minutes(i64::from(tenant.session_timeout_minutes)),
                };
                let replied = chats::reply(conn, chat, &reply)?.ok_or(ServiceError::Conflict("chat is not active"))?;
                if replied.assigned {
                    crate::events::chat_by_id(conn, EventType::ChatAssigned, tenant.id, chat.id, now)?;
                }
                crate::events::outbound(conn, tenant.id, None, &replied.message, now)?;
                let kept = match &remember {
                    Some((claim, render)) => Some(keep(conn, claim, render(Ok(&replied.message)))?),
                    None => None,
                };
                Ok((replied, kept))
            })
        })
        .await
    }
}

/// The media as stored: a JSON array of `{"url", "content_type"}` (the type is unknown for
/// media sent by URL), or nothing.
fn media_json(urls: &[String]) -> Result<Option<String>> {
    if urls.is_empty() {
        return Ok(None);
    }
    let media: Vec<MediaObject> = urls.iter().map(|url| MediaObject { url: url.clone(), content_type: None }).collect();
    serde_json::to_string(&media).map(Some).map_err(|e| ServiceError::Internal(e.to_string()))
}
