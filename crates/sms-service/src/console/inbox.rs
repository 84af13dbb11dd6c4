//! Conversations in the console: the list, one conversation, and the actions on them. Each
//! action is the API's own workflow (reply, assign, end, send), called for the viewer's
//! tenant after the viewer's scope is checked: an agent sees and touches only its own and
//! unassigned chats; another agent's answers 404, exactly like a missing one.

use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use sms_domain::{AgentId, AgentSelector, ChatId, ChatStatus, DisconnectedBy, E164Number, ReplyBody};
use sms_store::chats::{self, InboxFilter, InboxRow, Owner};
use sms_store::{Agent, ChatBundle, Message, OutboundNumber, Window};

use super::{Role, Viewer};
use crate::error::{Result, ServiceError};
use crate::send::Precheck;
use crate::Service;

/// Rows on a page of the conversation list.
pub const INBOX_PER_PAGE: i64 = 50;
/// The latest messages a conversation shows.
pub const CONVERSATION_MESSAGES: i64 = 500;

/// Whose conversations the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentFilter {
    Me,
    Unassigned,
    All,
    Agent(AgentId),
}

impl AgentFilter {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "me" => Some(Self::Me),
            "unassigned" => Some(Self::Unassigned),
            "all" | "" => Some(Self::All),
            id => id.parse::<i64>().ok().filter(|id| *id > 0).map(|id| Self::Agent(AgentId::new(id))),
        }
    }

    pub fn as_string(self) -> String {
        match self {
            Self::Me => "me".into(),
            Self::Unassigned => "unassigned".into(),
            Self::All => "all".into(),
            Self::Agent(id) => id.get().to_string(),
        }
    }
}

/// The list's filters as the page's URL carries them; every one optional.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct InboxQuery {
    pub status: Option<String>,
    pub agent: Option<String>,
    /// Digits of the consumer's number.
    pub q: Option<String>,
    /// Latest activity from this day (UTC, `YYYY-MM-DD`).
    pub from: Option<String>,
    /// Latest activity up to and including this day.
    pub to: Option<String>,
    pub page: Option<String>,
}

/// The filters, checked.
#[derive(Debug, Clone)]
pub struct InboxView {
    pub status: Option<ChatStatus>,
    pub agent: AgentFilter,
    pub digits: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub page: i64,
}

fn blank(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl InboxQuery {
    pub fn view(&self) -> Result<InboxView> {
        let status = match blank(&self.status) {
            None | Some("all") => None,
            Some(s) => Some(ChatStatus::parse(s).ok_or_else(|| ServiceError::Invalid("status is invalid".into()))?),
        };
        let agent = match blank(&self.agent) {
            None => AgentFilter::All,
            Some(a) => AgentFilter::parse(a).ok_or_else(|| ServiceError::Invalid("agent is invalid".into()))?,
        };
        let digits: Option<String> = blank(&self.q).map(|q| q.chars().filter(char::is_ascii_digit).collect());
        let digits = digits.filter(|d| !d.is_empty());
        let day = |value: &Option<String>, name: &str| -> Result<Option<NaiveDate>> {
            blank(value)
                .map(|v| {
                    NaiveDate::parse_from_str(v, "%Y-%m-%d")
                        .map_err(|_| ServiceError::Invalid(format!("{name} must be a date (YYYY-MM-DD)")))
                })
                .transpose()
        };
        let page = match blank(&self.page) {
            None => 1,
            Some(p) => p
                .parse::<i64>()
                .ok()
                .filter(|p| (1..=1_000_000).contains(p))
                .ok_or_else(|| ServiceError::Invalid("page must be an integer from 1".into()))?,
        };
        Ok(InboxView { status, agent, digits, from: day(&self.from, "from")?, to: day(&self.to, "to")?, page })
    }
}

impl InboxView {
    /// Whose chats the viewer asks for, within what it may see.
    fn owner(&self, viewer: &Viewer) -> Result<Owner> {
        let me = viewer.agent_id();
        Ok(match (viewer.role, self.agent) {
            (_, AgentFilter::Unassigned) => Owner::Unassigned,
            (_, AgentFilter::Me) => match me {
                Some(me) => Owner::Agent(me),
                None => return Err(ServiceError::Invalid("an operator has no chats of their own".into())),
            },
            (Role::Agent, AgentFilter::All) => Owner::AgentOrUnassigned(me.unwrap_or(AgentId::new(0))),
            (Role::Agent, AgentFilter::Agent(id)) if Some(id) == me => Owner::Agent(id),
            (Role::Agent, AgentFilter::Agent(_)) => return Err(ServiceError::Forbidden("agents see their own chats")),
            (_, AgentFilter::All) => Owner::All,
            (_, AgentFilter::Agent(id)) => Owner::Agent(id),
        })
    }
}

/// A page of the list.
#[derive(Debug)]
pub struct InboxPage {
    pub view: InboxView,
    pub rows: Vec<InboxRow>,
    pub total: i64,
    pub per: i64,
    /// The tenant's agents, to filter by (supervisors and operators).
    pub agents: Vec<Agent>,
}

/// One conversation.
#[derive(Debug)]
pub struct Conversation {
    pub chat: ChatBundle,
    pub end_user_number: E164Number,
    pub messages: Vec<Message>,
    /// Whether the conversation has more messages than it shows.
    pub total_messages: i64,
    pub opted_out: bool,
    /// The consumer's time now, in the zone their number is in (the first, when several).
    pub consumer_time: chrono::DateTime<Tz>,
    /// The tenant's active agents, to assign to (supervisors and operators).
    pub agents: Vec<Agent>,
}

/// The New SMS form.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewSms {
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub ticket: String,
}

impl NewSms {
    /// The send's body, as the API takes it: the same workflow decides.
    fn body(&self, agent: Option<AgentId>) -> Vec<u8> {
        let mut body = serde_json::json!({
            "chat_type": "Messaging (SMS)",
            "end_user_number": self.to,
            "outbound_number": self.from,
            "message": self.message,
        });
        if !self.ticket.trim().is_empty() {
            body["ticket_id"] = self.ticket.trim().into();
        }
        if let Some(agent) = agent {
            body["agentId"] = agent.get().into();
        }
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

fn day_start(day: NaiveDate) -> NaiveDateTime {
    day.and_hms_opt(0, 0, 0).unwrap_or_default()
}

impl Service {
    /// A page of the viewer's conversations, latest activity first.
    pub async fn console_inbox(&self, viewer: &Viewer, query: &InboxQuery) -> Result<InboxPage> {
        let view = query.view()?;
        let tenant = viewer.tenant()?.clone();
        let filter = InboxFilter {
            status: view.status,
            owner: view.owner(viewer)?,
            number_digits: view.digits.clone(),
            from: view.from.map(day_start),
            until: view.to.and_then(|d| d.succ_opt()).map(day_start),
            offset: (view.page - 1) * INBOX_PER_PAGE,
            limit: INBOX_PER_PAGE,
        };
        let with_agents = viewer.sees_all();
        let (rows, total, agents) = self
            .db(move |conn| {
                let (rows, total) = chats::inbox(conn, tenant.id, &filter)?;
                let agents = if with_agents {
                    sms_store::agents::list(conn, tenant.id, Window { offset: 0, limit: 1000 })?.0
                } else {
                    Vec::new()
                };
                Ok((rows, total, agents))
            })
            .await?;
        Ok(InboxPage { view, rows, total, per: INBOX_PER_PAGE, agents })
    }

    /// A conversation the viewer may see (another agent's answers 404).
    pub async fn console_conversation(&self, viewer: &Viewer, chat_id: ChatId) -> Result<Conversation> {
        let tenant = viewer.tenant()?.clone();
        let scope = viewer.clone();
        let now = self.now();
        self.db(move |conn| {
            let chat = chats::find(conn, tenant.id, chat_id)?
                .filter(|c| scope.may_see(c.chat.agent_id))
                .ok_or(ServiceError::NotFound("chat"))?;
            let number = chats::end_user_number(conn, chat.chat.end_user_id)?;
            let (_, total) = chats::messages(conn, chat_id, Window { offset: 0, limit: 0 })?;
            let offset = (total - CONVERSATION_MESSAGES).max(0);
            let (messages, _) = chats::messages(conn, chat_id, Window { offset, limit: CONVERSATION_MESSAGES })?;
            let opted_out = sms_store::opt_outs::contains(conn, tenant.id, &number)?;
            let agents = if scope.sees_all() {
                let all = sms_store::agents::list(conn, tenant.id, Window { offset: 0, limit: 1000 })?.0;
                all.into_iter().filter(Agent::is_active).collect()
            } else {
                Vec::new()
            };
            let zone = sms_domain::quiet::zones_for(&number).first().copied().unwrap_or(Tz::UTC);
            let consumer_time = sms_domain::time::as_utc(now).with_timezone(&zone);
            Ok(Conversation {
                chat,
                end_user_number: number,
                messages,
                total_messages: total,
                opted_out,
                consumer_time,
                agents,
            })
        })
        .await
    }

    /// Checks that the viewer may act on the chat: another agent's answers 404.
    async fn console_scope(&self, viewer: &Viewer, chat_id: ChatId) -> Result<sms_store::Tenant> {
        let tenant = viewer.tenant()?.clone();
        let tenant_id = tenant.id;
        let agent = self
            .db(move |conn| {
                Ok(chats::find_chat(conn, tenant_id, chat_id)?.ok_or(ServiceError::NotFound("chat"))?.agent_id)
            })
            .await?;
        if !viewer.may_see(agent) {
            return Err(ServiceError::NotFound("chat"));
        }
        Ok(tenant)
    }

    /// The viewer answers in the chat: the API's reply, written by the viewer's agent.
    pub async fn console_reply(&self, viewer: &Viewer, chat_id: ChatId, text: &str) -> Result<Message> {
        let tenant = self.console_scope(viewer, chat_id).await?;
        let body = ReplyBody {
            message: Some(text.to_owned()),
            agent_id_camel: viewer.agent_id().map(AgentId::get),
            ..ReplyBody::default()
        };
        self.reply(&tenant, chat_id, body).await
    }

    /// `Assign to me`, or (supervisors and operators) to any agent: the API's assign.
    pub async fn console_assign(&self, viewer: &Viewer, chat_id: ChatId, to: Option<AgentId>) -> Result<ChatBundle> {
        let tenant = self.console_scope(viewer, chat_id).await?;
        let me = viewer.agent_id();
        let agent = match (viewer.role, to) {
            (Role::Agent, Some(other)) if Some(other) != me => {
                return Err(ServiceError::Forbidden("agents assign chats to themselves"))
            }
            (_, Some(agent)) => Some(agent),
            (_, None) => me,
        };
        self.assign(&tenant, chat_id, AgentSelector { id: agent, email: None }).await
    }

    /// `End conversation`: the API's end, by the viewer's agent.
    pub async fn console_end(&self, viewer: &Viewer, chat_id: ChatId) -> Result<ChatBundle> {
        let tenant = self.console_scope(viewer, chat_id).await?;
        self.end_chat(&tenant, chat_id, DisconnectedBy::Agent, viewer.agent_id()).await
    }

    /// The tenant's numbers, to send from.
    pub async fn console_numbers(&self, viewer: &Viewer) -> Result<Vec<OutboundNumber>> {
        let tenant_id = viewer.tenant()?.id;
        self.db(move |conn| Ok(sms_store::numbers::list(conn, tenant_id, Window { offset: 0, limit: 1000 })?.0)).await
    }

    /// What sending `form` would answer, without sending. While the message is still blank,
    /// the consumer's rules are checked as for any text, so the agent learns of an opt-out or
    /// an open chat before writing.
    pub async fn console_precheck(&self, viewer: &Viewer, form: &NewSms) -> Result<Precheck> {
        let tenant = viewer.tenant()?.clone();
        let mut form = form.clone();
        if form.message.trim().is_empty() {
            form.message = "…".into();
        }
        self.precheck_send(&tenant, &form.body(viewer.agent_id())).await
    }

    /// Sends `form`: the API's send, assigned to the viewer's agent.
    pub async fn console_send(&self, viewer: &Viewer, form: &NewSms) -> Result<ChatBundle> {
        let tenant = viewer.tenant()?.clone();
        self.send(&tenant, &form.body(viewer.agent_id())).await
    }
}
