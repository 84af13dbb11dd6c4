//! What the conversation pages show: the list, a conversation, the reply box's counter, New SMS.

use askama::Template;
use sms_domain::{DeliveryStatus, Direction};
use sms_service::console::{Conversation, InboxPage, Viewer};
use sms_service::records::{Agent, Message, OutboundNumber};

use super::{choices, Choice, Chrome, Moment};

/// One row of the conversation list.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: i64,
    pub number: String,
    pub status: String,
    pub agent: String,
    pub preview: String,
    pub last: Moment,
    /// The last message is the consumer's: it awaits an answer.
    pub awaiting: bool,
}

/// The list and its filters.
#[derive(Debug, Clone)]
pub struct ListView {
    pub rows: Vec<Row>,
    pub summary: String,
    pub statuses: Vec<Choice>,
    pub agents: Vec<Choice>,
    pub q: String,
    pub from: String,
    pub to: String,
    pub prev: String,
    pub next: String,
}

impl ListView {
    pub fn new(page: &InboxPage, query_without_page: &str) -> Self {
        let view = &page.view;
        let status = view.status.map(|s| s.as_str()).unwrap_or("");
        let statuses = choices(
            &[
                ("", "Any status"),
                ("selecting", "Selecting"),
                ("queued", "Queued"),
                ("assigned", "Assigned"),
                ("finished", "Finished"),
            ],
            status,
        );
        let agent = view.agent.as_string();
        let mut agents = choices(&[("all", "All"), ("me", "Mine"), ("unassigned", "Unassigned")], &agent);
        agents.extend(page.agents.iter().map(|a| Choice {
            value: a.id.get().to_string(),
            label: a.name.clone(),
            selected: a.id.get().to_string() == agent,
        }));
        let rows = page
            .rows
            .iter()
            .map(|r| {
                let last = r.last_message.as_ref();
                Row {
                    id: r.chat.chat.id.get(),
                    number: r.end_user_number.clone(),
                    status: r.chat.chat.status.as_str().to_owned(),
                    agent: r.chat.agent.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| "Unassigned".into()),
                    preview: last.map(|m| preview(&m.body)).unwrap_or_default(),
                    last: Moment::of(r.chat.chat.last_activity_at),
                    awaiting: last.is_some_and(|m| m.direction == Direction::Inbound) && r.chat.chat.status.is_active(),
                }
            })
            .collect();
        let first = (view.page - 1) * page.per;
        let shown = i64::try_from(page.rows.len()).unwrap_or(0);
        let summary = if page.total == 0 {
            "No conversations match.".to_owned()
        } else {
            format!("{} to {} of {}", first + 1, first + shown, page.total)
        };
        let link = |p: i64| {
            let sep = if query_without_page.is_empty() { "" } else { "&" };
            format!("/console/chats?{query_without_page}{sep}page={p}")
        };
        Self {
            rows,
            summary,
            statuses,
            agents,
            q: view.digits.clone().unwrap_or_default(),
            from: view.from.map(|d| d.to_string()).unwrap_or_default(),
            to: view.to.map(|d| d.to_string()).unwrap_or_default(),
            prev: if view.page > 1 { link(view.page - 1) } else { String::new() },
            next: if first + shown < page.total { link(view.page + 1) } else { String::new() },
        }
    }
}

fn preview(body: &str) -> String {
    let flat: String = body.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if flat.chars().count() > 80 {
        format!("{}…", flat.chars().take(80).collect::<String>())
    } else {
        flat
    }
}

#[derive(Template)]
#[template(path = "chats.html")]
pub struct ChatsPage {
    pub chrome: Chrome,
    pub list: ListView,
}

#[derive(Template)]
#[template(path = "_list.html")]
pub struct ListFragment {
    pub list: ListView,
}

/// One message of a conversation.
#[derive(Debug, Clone)]
pub struct MessageView {
    pub inbound: bool,
    pub who: String,
    pub body: String,
    pub status: String,
    pub failed: bool,
    pub error: String,
    pub segments: i32,
    pub media: Vec<String>,
    pub at: Moment,
}

impl MessageView {
    fn new(m: &Message, agents: &[(i64, String)]) -> Self {
        let inbound = m.direction == Direction::Inbound;
        let who = if inbound {
            "Consumer".to_owned()
        } else if m.automatic.is_some() {
            "Automatic answer".to_owned()
        } else {
            m.agent_id
                .and_then(|id| agents.iter().find(|(a, _)| *a == id.get()).map(|(_, n)| n.clone()))
                .unwrap_or_else(|| "Agent".into())
        };
        let media = m
            .media
            .as_deref()
            .and_then(|json| serde_json::from_str::<Vec<serde_json::Value>>(json).ok())
            .unwrap_or_default()
            .iter()
            .filter_map(|item| item.get("url").and_then(|u| u.as_str()).map(str::to_owned))
            .collect();
        Self {
            inbound,
            who,
            body: m.body.clone(),
            status: m.delivery_status.as_str().to_owned(),
            failed: matches!(m.delivery_status, DeliveryStatus::Failed | DeliveryStatus::Undelivered),
            error: m.error.clone().unwrap_or_default(),
            segments: m.segments,
            media,
            at: Moment::of(m.created_at),
        }
    }
}

/// A conversation as its page shows it.
#[derive(Debug, Clone)]
pub struct ConversationView {
    pub id: i64,
    pub number: String,
    pub status: String,
    pub active: bool,
    pub agent: String,
    pub mine: bool,
    pub opted_out: bool,
    pub consumer_time: String,
    pub consumer_zone: String,
    pub messages: Vec<MessageView>,
    pub earlier: i64,
    pub assignable: Vec<Choice>,
    pub outbound_number: String,
    pub ticket: String,
}

impl ConversationView {
    pub fn new(c: &Conversation, viewer: &Viewer) -> Self {
        let chat = &c.chat.chat;
        let mut names: Vec<(i64, String)> = c.agents.iter().map(|a| (a.id.get(), a.name.clone())).collect();
        if let Some(agent) = &c.chat.agent {
            names.push((agent.id.get(), agent.name.clone()));
        }
        if let Some(me) = &viewer.agent {
            names.push((me.id.get(), me.name.clone()));
        }
        let current = chat.agent_id.map(|a| a.get());
        Self {
            id: chat.id.get(),
            number: c.end_user_number.as_str().to_owned(),
            status: chat.status.as_str().to_owned(),
            active: chat.status.is_active(),
            agent: c.chat.agent.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| "Unassigned".into()),
            mine: current.is_some() && current == viewer.agent_id().map(|a| a.get()),
            opted_out: c.opted_out,
            consumer_time: c.consumer_time.format("%H:%M").to_string(),
            consumer_zone: c.consumer_time.format("%Z").to_string(),
            messages: c.messages.iter().map(|m| MessageView::new(m, &names)).collect(),
            earlier: c.total_messages - i64::try_from(c.messages.len()).unwrap_or(0),
            assignable: assignable(&c.agents, current),
            outbound_number: chat.outbound_number.as_str().to_owned(),
            ticket: chat.ticket_id.clone().unwrap_or_default(),
        }
    }
}

fn assignable(agents: &[Agent], current: Option<i64>) -> Vec<Choice> {
    agents
        .iter()
        .map(|a| Choice { value: a.id.get().to_string(), label: a.name.clone(), selected: Some(a.id.get()) == current })
        .collect()
}

/// What the reply box needs to count as the service does.
#[derive(Debug, Clone)]
pub struct Counter {
    pub gsm_basic: &'static str,
    pub gsm_extended: &'static str,
    pub gsm_limits: String,
    pub ucs2_limits: String,
    pub max: usize,
}

impl Default for Counter {
    fn default() -> Self {
        use sms_domain::segments::{GSM7_BASIC, GSM7_EXTENDED, GSM7_LIMITS, UCS2_LIMITS};
        Self {
            gsm_basic: GSM7_BASIC,
            gsm_extended: GSM7_EXTENDED,
            gsm_limits: format!("{} {}", GSM7_LIMITS.0, GSM7_LIMITS.1),
            ucs2_limits: format!("{} {}", UCS2_LIMITS.0, UCS2_LIMITS.1),
            max: sms_domain::sms::MAX_MESSAGE_CHARS,
        }
    }
}

#[derive(Template)]
#[template(path = "chat.html")]
pub struct ChatPage {
    pub chrome: Chrome,
    pub chat: ConversationView,
    pub sees_all: bool,
    pub counter: Counter,
    pub draft: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "_conversation.html")]
pub struct ConversationFragment {
    pub chat: ConversationView,
    pub sees_all: bool,
    pub chrome: Chrome,
}

/// The New SMS form as filled in.
#[derive(Debug, Clone, Default)]
pub struct NewSmsView {
    pub to: String,
    pub from: Vec<Choice>,
    pub message: String,
    pub ticket: String,
}

impl NewSmsView {
    pub fn new(form: &sms_service::console::NewSms, numbers: &[OutboundNumber]) -> Self {
        Self {
            to: form.to.clone(),
            from: numbers
                .iter()
                .map(|n| Choice {
                    value: n.number.as_str().to_owned(),
                    label: n.number.as_str().to_owned(),
                    selected: n.number.as_str() == form.from,
                })
                .collect(),
            message: form.message.clone(),
            ticket: form.ticket.clone(),
        }
    }
}

/// What the pre-check found.
#[derive(Debug, Clone, Default)]
pub struct PrecheckView {
    pub checked: bool,
    pub refusal: String,
    pub rule: String,
    pub chat_link: String,
    pub quiet_until: String,
}

#[derive(Template)]
#[template(path = "new.html")]
pub struct NewSmsPage {
    pub chrome: Chrome,
    pub form: NewSmsView,
    pub precheck: PrecheckView,
    pub counter: Counter,
    pub error: String,
}

#[derive(Template)]
#[template(path = "_precheck.html")]
pub struct PrecheckFragment {
    pub precheck: PrecheckView,
}
