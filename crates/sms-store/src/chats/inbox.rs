//! The console's conversation list: a tenant's chats by latest activity, filtered, each with
//! its consumer's number and its last message.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sms_domain::{AgentId, ChatStatus, TenantId};

use super::read::bundles;
use crate::schema::{chats, end_users, messages};
use crate::{ChatBundle, DbConn, Message, StoreError};

/// Whose chats a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Owner {
    /// Every chat of the tenant.
    #[default]
    All,
    /// The chats without an agent.
    Unassigned,
    /// This agent's chats.
    Agent(AgentId),
    /// This agent's chats and the unassigned ones (what an agent may see).
    AgentOrUnassigned(AgentId),
}

/// The list's filters, all optional.
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    pub status: Option<ChatStatus>,
    pub owner: Owner,
    /// Digits the consumer's number contains.
    pub number_digits: Option<String>,
    /// Latest activity at or after.
    pub from: Option<NaiveDateTime>,
    /// Latest activity before.
    pub until: Option<NaiveDateTime>,
    pub offset: i64,
    pub limit: i64,
}

/// One row of the list.
#[derive(Debug, Clone)]
pub struct InboxRow {
    pub chat: ChatBundle,
    pub end_user_number: String,
    pub last_message: Option<Message>,
}

/// A page of the tenant's chats, latest activity first, and how many match.
pub fn inbox(conn: &mut DbConn, tenant_id: TenantId, filter: &InboxFilter) -> Result<(Vec<InboxRow>, i64), StoreError> {
    macro_rules! filtered {
        () => {{
            let mut query =
                chats::table.inner_join(end_users::table).filter(chats::tenant_id.eq(tenant_id.get())).into_boxed();
            if let Some(status) = filter.status {
                query = query.filter(chats::status.eq(status.as_str()));
            }
            query = match filter.owner {
                Owner::All => query,
                Owner::Unassigned => query.filter(chats::agent_id.is_null()),
                Owner::Agent(a) => query.filter(chats::agent_id.eq(a.get())),
                Owner::AgentOrUnassigned(a) => query.filter(chats::agent_id.eq(a.get()).or(chats::agent_id.is_null())),
            };
            if let Some(digits) = &filter.number_digits {
                query = query.filter(end_users::number.like(format!("%{digits}%")));
            }
            if let Some(from) = filter.from {
                query = query.filter(chats::last_activity_at.ge(from));
            }
            if let Some(until) = filter.until {
                query = query.filter(chats::last_activity_at.lt(until));
            }
            query
        }};
    }
    let (rows, total) = db_run!(conn, |c| {
        let total: i64 = filtered!().count().get_result(c)?;
        let rows: Vec<(crate::Chat, String)> = filtered!()
            .order((chats::last_activity_at.desc(), chats::id.desc()))
            .offset(filter.offset)
            .limit(filter.limit)
            .select((crate::Chat::as_select(), end_users::number))
            .load(c)?;
        Ok::<_, diesel::result::Error>((rows, total))
    })?;
    let ids: Vec<i64> = rows.iter().map(|(c, _)| c.id.get()).collect();
    let numbers: Vec<String> = rows.iter().map(|(_, n)| n.clone()).collect();
    let last = last_messages(conn, &ids)?;
    let bundled = bundles(conn, rows.into_iter().map(|(c, _)| c).collect())?;
    let rows = bundled
        .into_iter()
        .zip(numbers)
        .map(|(chat, end_user_number)| {
            let last_message = last.iter().find(|m| m.chat_id == Some(chat.chat.id)).cloned();
            InboxRow { chat, end_user_number, last_message }
        })
        .collect();
    Ok((rows, total))
}

/// The latest message of each chat.
fn last_messages(conn: &mut DbConn, chat_ids: &[i64]) -> Result<Vec<Message>, StoreError> {
    if chat_ids.is_empty() {
        return Ok(Vec::new());
    }
    db_run!(conn, |c| {
        let latest: Vec<(Option<i64>, Option<i64>)> = messages::table
            .filter(messages::chat_id.eq_any(chat_ids))
            .group_by(messages::chat_id)
            .select((messages::chat_id, diesel::dsl::max(messages::id)))
            .load(c)?;
        let ids: Vec<i64> = latest.into_iter().filter_map(|(_, id)| id).collect();
        messages::table.filter(messages::id.eq_any(ids)).select(Message::as_select()).load(c)
    })
    .map_err(StoreError::from)
}
