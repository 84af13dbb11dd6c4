//! Chats after creation: reading, listing, ending, their messages.

use sms_domain::{AgentId, ChatId, ChatStatus, DisconnectedBy, E164Number, PhoneError, SmsError};
use sms_store::chats::{self, ChatFilter};
use sms_store::{ChatBundle, Message, Tenant, Window};

use crate::error::{Result, ServiceError};
use crate::Service;

/// Most items a page of any list holds, and the default.
pub const MAX_PER_PAGE: i64 = 100;

/// The paging of any list as sent: `page` from 1 (default 1), `per` from 1 to 100 (default
/// 100); anything else is refused. The total over all pages is answered in `X-Total-Count`.
// Strings, so that an empty value (`?per=`) is a value to refuse, not an absence.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// From 1; default 1.
    #[param(value_type = Option<i64>)]
    pub page: Option<String>,
    /// 1 to 100; default 100.
    #[param(value_type = Option<i64>)]
    pub per: Option<String>,
}

impl PageQuery {
    /// The page as a number and its size.
    pub(crate) fn numbers(&self) -> Result<(i64, i64)> {
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

/// The chat list's filters and paging as sent: each value a string, an empty one still a value.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChatPage {
    /// Only chats in this status.
    #[param(inline, value_type = Option<sms_domain::ChatStatus>)]
    pub status: Option<String>,
    /// The consumer's number, any common US format.
    pub end_user_number: Option<String>,
    /// From 1; default 1.
    #[param(value_type = Option<i64>)]
    pub page: Option<String>,
    /// 1 to 100; default 100.
    #[param(value_type = Option<i64>)]
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

impl Service {
    /// A chat of the tenant; another tenant's answers exactly as a missing one.
    pub async fn chat(&self, tenant: &Tenant, chat_id: ChatId) -> Result<ChatBundle> {
        let tenant_id = tenant.id;
        self.db(move |conn| chats::find(conn, tenant_id, chat_id)?.ok_or(ServiceError::NotFound("chat"))).await
    }

    /// A page of the tenant's chats, newest first, and the total over all pages.
    pub async fn chats(&self, tenant: &Tenant, query: &ChatPage) -> Result<(Vec<ChatBundle>, i64)> {
        let filter = query.filter()?;
        let tenant_id = tenant.id;
        self.db(move |conn| Ok(chats::list(conn, tenant_id, &filter)?)).await
    }

    /// Ends an active chat and frees the consumer's session lock. The agent who ends it, when
    /// named (the platform's `finished_by_user_id`), must be one of the tenant's: `agent is not
    /// found` otherwise.
    pub async fn end_chat(
        &self,
        tenant: &Tenant,
        chat_id: ChatId,
        by: DisconnectedBy,
        agent: Option<AgentId>,
    ) -> Result<ChatBundle> {
        let (tenant_id, now) = (tenant.id, self.now());
        let (bundle, after) = self
            .db(move |conn| {
                sms_store::transaction(conn, |conn| {
                    let chat = chats::find_chat(conn, tenant_id, chat_id)?.ok_or(ServiceError::NotFound("chat"))?;
                    if let Some(agent) = agent {
                        sms_store::agents::find(conn, tenant_id, agent)?.ok_or(SmsError::AgentNotFound)?;
                    }
                    crate::life::end(conn, &chat, by, now, now)?.ok_or(ServiceError::Conflict("chat is not active"))
                })
            })
            .await?;
        after.run(self).await;
        Ok(bundle)
    }

    /// A page of the chat's messages, oldest first, both directions, and how many it has.
    pub async fn chat_messages(
        &self,
        tenant: &Tenant,
        chat_id: ChatId,
        page: &PageQuery,
    ) -> Result<(Vec<Message>, i64)> {
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
