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
///
/// The page's ids are read first (from the index on the tenant's chats by activity, without
/// the rows' other columns), then their rows, consumers and last messages by id: a deep page
/// costs a walk over the index, not over the rows it skips.
pub fn inbox(conn: &mut DbConn, tenant_id: TenantId, filter: &InboxFilter) -> Result<(Vec<InboxRow>, i64), StoreError> {
    macro_rules! filtered {
        () => {{
            let mut query = chats::table.filter(chats::tenant_id.eq(tenant_id.get())).into_boxed();
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
                let matching = end_users::table
                    .filter(end_users::tenant_id.eq(tenant_id.get()))
                    .filter(end_users::number.like(format!("%{digits}%")))
                    .select(end_users::id);
                query = query.filter(chats::end_user_id.eq_any(matching));
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
    let (ids, total) = db_run!(conn, |c| {
        let total: i64 = filtered!().count().get_result(c)?;
        let ids: Vec<i64> = filtered!()
            .order((chats::last_activity_at.desc(), chats::id.desc()))
            .offset(filter.offset)
            .limit(filter.limit)
            .select(chats::id)
            .load(c)?;
        Ok::<_, diesel::result::Error>((ids, total))
    })?;
    let (mut rows, numbers) = db_run!(conn, |c| {
        let rows: Vec<crate::Chat> =
            chats::table.filter(chats::id.eq_any(&ids)).select(crate::Chat::as_select()).load(c)?;
        let consumers: Vec<i64> = rows.iter().map(|r| r.end_user_id.get()).collect();
        let numbers: Vec<(i64, String)> = end_users::table
            .filter(end_users::id.eq_any(consumers))
            .select((end_users::id, end_users::number))
            .load(c)?;
        Ok::<_, diesel::result::Error>((rows, numbers))
    })?;
    rows.sort_by_key(|r| ids.iter().position(|id| *id == r.id.get()));
    let last = last_messages(conn, &ids)?;
    let bundled = bundles(conn, rows)?;
    let rows = bundled
        .into_iter()
        .map(|chat| {
            let end_user = chat.chat.end_user_id.get();
            let end_user_number =
                numbers.iter().find(|(id, _)| *id == end_user).map(|(_, n)| n.clone()).unwrap_or_default();
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
