//! The platform's Manager API exports (SPEC section 13.2): the tenant's settings, chats and
//! agents for reporting, paged as the platform pages them, with the figures reports ask for and
//! the links to the neighbouring pages.

mod query;

use chrono::NaiveDateTime;
use serde::Serialize;
use sms_domain::time::format_timestamp;
use sms_domain::{ChatStatus, Direction};
use sms_store::exports::{self, AgentQuery, AgentSort, ChatQuery, ChatSort, ExportedChat, MessageFact, Page};
use sms_store::{Agent, Tenant};
use utoipa::ToSchema;

use crate::error::Result;
use crate::views::ChatObject;
use crate::Service;

use query::{invalid, page_of, range, with_page};
pub use query::{AgentExportQuery, ChatExportQuery};

/// `GET /manager/api/v1/settings/organization`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"subdomain": "acme", "name": "Acme", "lang": "en", "time_zone": "UTC"}))]
pub struct Organization {
    pub subdomain: String,
    pub name: String,
    pub lang: String,
    pub time_zone: String,
}

impl From<&Tenant> for Organization {
    fn from(t: &Tenant) -> Self {
        Self { subdomain: t.subdomain.clone(), name: t.name.clone(), lang: t.lang.clone(), time_zone: "UTC".into() }
    }
}

/// A chat as the Manager API exports it: the chat object and the figures of reports.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatExport {
    #[serde(flatten)]
    pub chat: ChatObject,
    /// The last change of any kind; never earlier than `last_msg_sent_at`.
    pub updated_at: String,
    /// When the first outbound message was sent.
    pub first_msg_sent_at: Option<String>,
    /// When the last outbound message was sent.
    pub last_msg_sent_at: Option<String>,
    /// Messages both ways.
    pub message_count: i64,
    /// As `wait_duration`.
    pub queue_duration: i64,
    /// Whether the chat has messages.
    pub transcript: bool,
    /// Whole seconds from a consumer's message to the next agent message, on average.
    pub average_response_time: Option<i64>,
    /// The longest of those.
    pub longest_response_time: Option<i64>,
}

impl From<&ExportedChat> for ChatExport {
    fn from(e: &ExportedChat) -> Self {
        let chat = ChatObject::from(&e.bundle);
        let sent: Vec<NaiveDateTime> = e.messages.iter().filter_map(|m| m.sent_at).collect();
        let (first, last) = (sent.iter().min().copied(), sent.iter().max().copied());
        let responses = response_times(&e.messages);
        let updated = last.map_or(e.bundle.chat.updated_at, |l| l.max(e.bundle.chat.updated_at));
        Self {
            queue_duration: chat.wait_duration,
            chat,
            updated_at: format_timestamp(updated),
            first_msg_sent_at: first.map(format_timestamp),
            last_msg_sent_at: last.map(format_timestamp),
            message_count: i64::try_from(e.messages.len()).unwrap_or(i64::MAX),
            transcript: !e.messages.is_empty(),
            average_response_time: (!responses.is_empty())
                .then(|| responses.iter().sum::<i64>() / i64::try_from(responses.len()).unwrap_or(1) / 1000),
            longest_response_time: responses.iter().max().map(|ms| ms / 1000),
        }
    }
}

/// Milliseconds from each consumer message to the creation of the next message an agent wrote
/// (a consumer message no agent answered has none).
fn response_times(messages: &[MessageFact]) -> Vec<i64> {
    messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.direction == Direction::Inbound)
        .filter_map(|(i, asked)| {
            let answer = messages[i + 1..].iter().find(|m| m.direction == Direction::Outbound && m.by_agent)?;
            Some((answer.created_at - asked.created_at).num_milliseconds().max(0))
        })
        .collect()
}

/// An agent as the Manager API exports it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentExport {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub middle_name: Option<String>,
    /// A string, as the platform answers it.
    pub agent_number: Option<String>,
    pub avatar_url: Option<String>,
    pub created_at: String,
    /// When its status (active, deactivated) last changed, else its creation.
    pub status_updated_at: String,
    pub roles: Vec<String>,
    pub online: bool,
    pub status: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub teams: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub channels: Vec<serde_json::Value>,
    /// Its chats.
    pub chat_count: i64,
    pub call_count: i64,
    pub wrap_up: bool,
    pub crm_authenticated: bool,
    pub location: Option<String>,
    /// Its last console sign-in.
    pub last_login_time: Option<String>,
}

impl AgentExport {
    fn new(agent: &Agent, chat_count: i64) -> Self {
        Self {
            id: agent.id.get(),
            email: agent.email.clone(),
            first_name: agent.first_name.clone(),
            last_name: agent.last_name.clone(),
            middle_name: None,
            agent_number: agent.agent_number.map(|n| n.to_string()),
            avatar_url: agent.avatar_url.clone(),
            created_at: format_timestamp(agent.created_at),
            status_updated_at: format_timestamp(agent.status_updated_at),
            roles: vec!["agent".into()],
            online: false,
            status: None,
            teams: Vec::new(),
            channels: Vec::new(),
            chat_count,
            call_count: 0,
            wrap_up: false,
            crm_authenticated: false,
            location: None,
            last_login_time: None,
        }
    }
}

/// One page of an export and what its paging headers say.
#[derive(Debug, Clone)]
pub struct Exported<T> {
    pub items: Vec<T>,
    /// Rows matching over all pages.
    pub total: i64,
    pub per: i64,
    /// `Link` entries: `<absolute URL>; rel="next"` and `rel="prev"`, where they apply.
    pub links: Vec<String>,
}

/// Where an export was asked: its path and its query as sent, so the links repeat the query.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    pub path: &'a str,
    pub query: &'a str,
}

impl Service {
    /// The tenant's settings as the Manager API names them.
    pub fn organization(&self, tenant: &Tenant) -> Organization {
        Organization::from(tenant)
    }

    /// A page of the tenant's chats, for reporting.
    pub async fn export_chats(
        &self,
        tenant: &Tenant,
        query: &ChatExportQuery,
        asked: Asked<'_>,
    ) -> Result<Exported<ChatExport>> {
        let page = page_of(&query.page, &query.per, &query.sort_direction)?;
        let sort = match query.sort_column.as_deref() {
            None | Some("id") => ChatSort::Id,
            Some("created_at") => ChatSort::CreatedAt,
            Some("updated_at") => ChatSort::UpdatedAt,
            Some(_) => return Err(invalid("sort_column must be one of id, created_at, updated_at")),
        };
        let status = match query.status.as_deref() {
            None => None,
            Some(s) => Some(
                ChatStatus::parse(s)
                    .ok_or_else(|| invalid("status must be one of selecting, queued, assigned, finished"))?,
            ),
        };
        let filter = ChatQuery {
            status,
            created: range("created_at", &query.created_from, &query.created_to)?,
            updated: range("updated_at", &query.updated_from, &query.updated_to)?,
            sort,
        };
        let tenant_id = tenant.id;
        let (rows, total) = self.db(move |conn| Ok(exports::chats(conn, tenant_id, &filter, page)?)).await?;
        Ok(self.exported(rows.iter().map(ChatExport::from).collect(), total, page, asked))
    }

    /// A page of the tenant's agents, for reporting.
    pub async fn export_agents(
        &self,
        tenant: &Tenant,
        query: &AgentExportQuery,
        asked: Asked<'_>,
    ) -> Result<Exported<AgentExport>> {
        let page = page_of(&query.page, &query.per, &query.sort_direction)?;
        let sort = match query.sort_column.as_deref() {
            None | Some("id") => AgentSort::Id,
            Some("created_at") => AgentSort::CreatedAt,
            Some("status_updated_at") => AgentSort::StatusUpdatedAt,
            Some(_) => return Err(invalid("sort_column must be one of id, created_at, status_updated_at")),
        };
        let filter = AgentQuery {
            created: range("created_at", &query.created_from, &query.created_to)?,
            status_updated: range("status_updated_at", &query.status_updated_from, &query.status_updated_to)?,
            sort,
        };
        let tenant_id = tenant.id;
        let (rows, total) = self.db(move |conn| Ok(exports::agents(conn, tenant_id, &filter, page)?)).await?;
        let items = rows.iter().map(|(agent, chats)| AgentExport::new(agent, *chats)).collect();
        Ok(self.exported(items, total, page, asked))
    }

    fn exported<T>(&self, items: Vec<T>, total: i64, page: Page, asked: Asked<'_>) -> Exported<T> {
        let base = format!("{}{}", self.inner.callbacks.public_url.trim_end_matches('/'), asked.path);
        let link = |number: i64, rel: &str| format!("<{base}?{}>; rel=\"{rel}\"", with_page(asked.query, number));
        let mut links = Vec::new();
        if page.page.saturating_mul(page.per) < total {
            links.push(link(page.page + 1, "next"));
        }
        if page.page > 1 {
            // A page past the end links back to the last one that has rows.
            let last = ((total + page.per - 1) / page.per).max(1);
            links.push(link((page.page - 1).min(last), "prev"));
        }
        Exported { items, total, per: page.per, links }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 5).unwrap().and_hms_opt(h, m, s).unwrap()
    }

    fn fact(direction: Direction, by_agent: bool, created_at: NaiveDateTime) -> MessageFact {
        MessageFact { direction, by_agent, created_at, sent_at: None }
    }

    #[test]
    fn responses_run_from_each_consumer_message_to_the_next_agent_message() {
        let chat = [
            fact(Direction::Outbound, false, at(9, 0, 0)),
            fact(Direction::Inbound, false, at(9, 1, 0)),
            fact(Direction::Outbound, false, at(9, 1, 1)), // an automatic answer
            fact(Direction::Outbound, true, at(9, 1, 30)),
            fact(Direction::Inbound, false, at(9, 2, 0)),
            fact(Direction::Inbound, false, at(9, 3, 0)),
            fact(Direction::Outbound, true, at(9, 4, 0)),
            fact(Direction::Inbound, false, at(9, 5, 0)),
        ];
        assert_eq!(response_times(&chat), vec![30_000, 120_000, 60_000]);
        assert!(response_times(&chat[..3]).is_empty());
    }
}
