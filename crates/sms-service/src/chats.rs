//! Chats after creation: reading, listing, ending, their messages.

use sms_domain::{ChatStatus, DisconnectedBy, E164Number, EventType, PhoneError};
use sms_store::chats::{self, ChatFilter, EndOutcome};
use sms_store::{ChatBundle, Message, Tenant, Window};

use crate::error::{Result, ServiceError};
use crate::Service;

/// Most items a page of any list holds, and the default.
pub const MAX_PER_PAGE: i64 = 100;

/// The paging of any list as sent: `page` from 1 (default 1), `per` from 1 to 100 (default
/// 100); anything else is refused.
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    pub page: Option<String>,
    pub per: Option<String>,
}

impl PageQuery {
    /// The page as a number and its size.
    fn numbers(&self) -> Result<(i64, i64)> {
        let invalid = |m: &str| ServiceError::Invalid(m.to_owned());
        let page = match self.page.as_deref() {
            None => 1,
            Some(p) => p
                .parse::<i64>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| invalid("page must be an integer of at least 1"))?,
        };
        let per = match self.per.as_deref() {
            None => MAX_PER_PAGE,
            Some(p) => p
                .parse::<i64>()
                .ok()
                .filter(|p| (1..=MAX_PER_PAGE).contains(p))
                .ok_or_else(|| invalid("per must be an integer from 1 to 100"))?,
        };
        Ok((page, per))
    }

    pub(crate) fn window(&self) -> Result<Window> {
        let (page, per) = self.numbers()?;
        Ok(Window { offset: (page - 1).saturating_mul(per), limit: per })
    }
}

/// The chat list's query as sent: each value a string, an empty one still a value.
#[derive(Debug, Clone, Default)]
pub struct ChatPage {
    pub status: Option<String>,
    pub end_user_number: Option<String>,
    pub page: Option<String>,
    pub per: Option<String>,
}

impl ChatPage {
    fn filter(&self) -> Result<ChatFilter> {
        let invalid = |m: &str| ServiceError::Invalid(m.to_owned());
        let status = match self.status.as_deref() {
            None => None,
            Some(s) => Some(
                ChatStatus::parse(s)
                    .ok_or_else(|| invalid("status must be one of selecting, queued, assigned, finished"))?,
            ),
        };
        let end_user_number = match self.end_user_number.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(n) => Some(E164Number::parse(n).map_err(|e| match e {
                PhoneError::Invalid => invalid("end_user_number is invalid"),
                PhoneError::NonUs => invalid("Non-US phone number not allowed"),
            })?),
        };
        let (page, per) = PageQuery { page: self.page.clone(), per: self.per.clone() }.numbers()?;
        Ok(ChatFilter { status, end_user_number, page, per })
    }
}

/// Who asks to end a chat: `agent`, `end_user` or `system` (default `agent`).
#[derive(Debug, Clone, Default)]
pub struct EndRequest {
    pub disconnected_by: Option<String>,
}

impl EndRequest {
    fn by(&self) -> Result<DisconnectedBy> {
        match self.disconnected_by.as_deref() {
            None => Ok(DisconnectedBy::Agent),
            Some(value) => DisconnectedBy::parse_short(value)
                .ok_or_else(|| ServiceError::Invalid("disconnected_by must be one of agent, end_user, system".into())),
        }
    }
}

impl Service {
    /// A chat of the tenant; another tenant's answers exactly as a missing one.
    pub async fn chat(&self, tenant: &Tenant, chat_id: i64) -> Result<ChatBundle> {
        let tenant_id = tenant.id;
        self.db(move |conn| chats::find(conn, tenant_id, chat_id)?.ok_or(ServiceError::NotFound("chat"))).await
    }

    /// A page of the tenant's chats, newest first, and the total over all pages.
    pub async fn chats(&self, tenant: &Tenant, query: &ChatPage) -> Result<(Vec<ChatBundle>, i64)> {
        let filter = query.filter()?;
        let tenant_id = tenant.id;
        self.db(move |conn| Ok(chats::list(conn, tenant_id, &filter)?)).await
    }

    /// Ends an active chat and frees the consumer's session lock. The request's own fault is
    /// answered before the chat is looked for.
    pub async fn end_chat(&self, tenant: &Tenant, chat_id: &str, request: &EndRequest) -> Result<ChatBundle> {
        let by = request.by()?;
        let chat_id = crate::admin::parse_id(chat_id, "chat")?;
        let (tenant_id, now) = (tenant.id, self.now());
        let outcome = self
            .db(move |conn| {
                sms_store::transaction(conn, |conn| {
                    let outcome = chats::end(conn, tenant_id, chat_id, by, now)?;
                    if let EndOutcome::Ended { bundle, .. } = &outcome {
                        crate::events::chat(conn, EventType::ChatEnded, bundle, now)?;
                    }
                    Ok(outcome)
                })
            })
            .await?;
        match outcome {
            EndOutcome::NotFound => Err(ServiceError::NotFound("chat")),
            EndOutcome::NotActive => Err(ServiceError::Conflict("chat is not active")),
            EndOutcome::Ended { bundle, ended } => {
                self.release_ended(&ended).await;
                Ok(*bundle)
            }
        }
    }

    /// A page of the chat's messages, oldest first, both directions, and how many it has.
    pub async fn chat_messages(&self, tenant: &Tenant, chat_id: i64, page: &PageQuery) -> Result<(Vec<Message>, i64)> {
        let (tenant_id, window) = (tenant.id, page.window()?);
        self.db(move |conn| {
            if chats::find(conn, tenant_id, chat_id)?.is_none() {
                return Err(ServiceError::NotFound("chat"));
            }
            Ok(chats::messages(conn, chat_id, window)?)
        })
        .await
    }
}
