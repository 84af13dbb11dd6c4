//! The reporting exports (the platform's Manager API): a tenant's chats and agents in a stable
//! order, filtered by time ranges, with the figures reports ask for. Every order is served by an
//! index that starts with the tenant and ends with the id (the migration `platform_exports`), so
//! a page costs the same at the start of 100,000 chats as at their end.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;
use sms_domain::{ChatId, ChatStatus, Direction, TenantId};

use crate::schema::{agents, chats, messages};
use crate::{Agent, Chat, ChatBundle, DbConn, StoreError};

/// An inclusive time range; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Range {
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

/// Which column a chat export is sorted by; ties are broken by id in the same direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ChatSort {
    #[default]
    Id,
    CreatedAt,
    UpdatedAt,
}

/// Which column an agent export is sorted by; ties are broken by id in the same direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AgentSort {
    #[default]
    Id,
    CreatedAt,
    StatusUpdatedAt,
}

/// One page of an export: from 1, with `per` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: i64,
    pub per: i64,
    pub descending: bool,
}

impl Page {
    fn offset(self) -> i64 {
        (self.page.max(1) - 1).saturating_mul(self.per)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ChatQuery {
    pub status: Option<ChatStatus>,
    pub created: Range,
    pub updated: Range,
    pub sort: ChatSort,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct AgentQuery {
    pub created: Range,
    pub status_updated: Range,
    pub sort: AgentSort,
}

/// A message as the chat figures need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageFact {
    pub direction: Direction,
    /// Written by an agent (an outbound message with an author).
    pub by_agent: bool,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = messages)]
struct FactRow {
    chat_id: Option<i64>,
    direction: String,
    agent_id: Option<i64>,
    created_at: NaiveDateTime,
    sent_at: Option<NaiveDateTime>,
}

/// A chat of an export with its messages, oldest first.
#[derive(Debug, Clone)]
pub struct ExportedChat {
    pub bundle: ChatBundle,
    pub messages: Vec<MessageFact>,
}

/// A page of the tenant's chats matching `query`, and how many match in all.
pub fn chats(
    conn: &mut DbConn,
    tenant_id: TenantId,
    query: &ChatQuery,
    page: Page,
) -> Result<(Vec<ExportedChat>, i64), StoreError> {
    macro_rules! filtered {
        () => {{
            let mut q = chats::table.filter(chats::tenant_id.eq(tenant_id.get())).into_boxed();
            if let Some(status) = query.status {
                q = q.filter(chats::status.eq(status.as_str()));
            }
            if let Some(from) = query.created.from {
                q = q.filter(chats::created_at.ge(from));
            }
            if let Some(to) = query.created.to {
                q = q.filter(chats::created_at.le(to));
            }
            if let Some(from) = query.updated.from {
                q = q.filter(chats::updated_at.ge(from));
            }
            if let Some(to) = query.updated.to {
                q = q.filter(chats::updated_at.le(to));
            }
            q
        }};
    }
    macro_rules! sorted {
        ($q:expr) => {{
            match (query.sort, page.descending) {
                (ChatSort::Id, false) => $q.order(chats::id.asc()),
                (ChatSort::Id, true) => $q.order(chats::id.desc()),
                (ChatSort::CreatedAt, false) => $q.order((chats::created_at.asc(), chats::id.asc())),
                (ChatSort::CreatedAt, true) => $q.order((chats::created_at.desc(), chats::id.desc())),
                (ChatSort::UpdatedAt, false) => $q.order((chats::updated_at.asc(), chats::id.asc())),
                (ChatSort::UpdatedAt, true) => $q.order((chats::updated_at.desc(), chats::id.desc())),
            }
        }};
    }
    // The page's ids first, from the index alone (a deep page skips index entries, not rows),
    // then their rows.
    let (ids, total) = db_run!(conn, |c| {
        let total: i64 = filtered!().count().get_result(c)?;
        let ids: Vec<i64> = sorted!(filtered!()).offset(page.offset()).limit(page.per).select(chats::id).load(c)?;
        Ok::<_, diesel::result::Error>((ids, total))
    })?;
    let mut rows: Vec<Chat> =
        db_run!(conn, |c| chats::table.filter(chats::id.eq_any(&ids)).select(Chat::as_select()).load(c))?;
    rows.sort_by_key(|chat| ids.iter().position(|id| *id == chat.id.get()));
    let facts: Vec<FactRow> = db_run!(conn, |c| messages::table
        .filter(messages::chat_id.eq_any(&ids))
        .order((messages::chat_id, messages::id))
        .select(FactRow::as_select())
        .load(c))?;
    let bundles = crate::chats::bundles(conn, rows)?;
    Ok((
        bundles
            .into_iter()
            .map(|bundle| {
                let id = bundle.chat.id;
                let messages = facts
                    .iter()
                    .filter(|f| f.chat_id.map(ChatId::new) == Some(id))
                    .map(|f| MessageFact {
                        direction: Direction::parse(&f.direction).unwrap_or(Direction::Outbound),
                        by_agent: f.agent_id.is_some(),
                        created_at: f.created_at,
                        sent_at: f.sent_at,
                    })
                    .collect();
                ExportedChat { bundle, messages }
            })
            .collect(),
        total,
    ))
}

/// A page of the tenant's agents matching `query`, each with how many chats it had, and how
/// many match in all.
pub fn agents(
    conn: &mut DbConn,
    tenant_id: TenantId,
    query: &AgentQuery,
    page: Page,
) -> Result<(Vec<(Agent, i64)>, i64), StoreError> {
    macro_rules! filtered {
        () => {{
            let mut q = agents::table.filter(agents::tenant_id.eq(tenant_id.get())).into_boxed();
            if let Some(from) = query.created.from {
                q = q.filter(agents::created_at.ge(from));
            }
            if let Some(to) = query.created.to {
                q = q.filter(agents::created_at.le(to));
            }
            if let Some(from) = query.status_updated.from {
                q = q.filter(agents::status_updated_at.ge(from));
            }
            if let Some(to) = query.status_updated.to {
                q = q.filter(agents::status_updated_at.le(to));
            }
            q
        }};
    }
    macro_rules! sorted {
        ($q:expr) => {{
            match (query.sort, page.descending) {
                (AgentSort::Id, false) => $q.order(agents::id.asc()),
                (AgentSort::Id, true) => $q.order(agents::id.desc()),
                (AgentSort::CreatedAt, false) => $q.order((agents::created_at.asc(), agents::id.asc())),
                (AgentSort::CreatedAt, true) => $q.order((agents::created_at.desc(), agents::id.desc())),
                (AgentSort::StatusUpdatedAt, false) => $q.order((agents::status_updated_at.asc(), agents::id.asc())),
                (AgentSort::StatusUpdatedAt, true) => $q.order((agents::status_updated_at.desc(), agents::id.desc())),
            }
        }};
    }
    let (rows, total) = db_run!(conn, |c| {
        let total: i64 = filtered!().count().get_result(c)?;
        let rows: Vec<Agent> =
            sorted!(filtered!()).offset(page.offset()).limit(page.per).select(Agent::as_select()).load(c)?;
        Ok::<_, diesel::result::Error>((rows, total))
    })?;
    let ids: Vec<i64> = rows.iter().map(|a| a.id.get()).collect();
    let counts: Vec<(Option<i64>, i64)> = db_run!(conn, |c| chats::table
        .filter(chats::agent_id.eq_any(&ids))
        .group_by(chats::agent_id)
        .select((chats::agent_id, count_star()))
        .load(c))?;
    Ok((
        rows.into_iter()
            .map(|agent| {
                let n = counts.iter().find(|(id, _)| *id == Some(agent.id.get())).map_or(0, |(_, n)| *n);
                (agent, n)
            })
            .collect(),
        total,
    ))
}
