//! Reading chats: one, a page of them, the consumer's active one, a chat's messages.

use diesel::prelude::*;
use sms_domain::{ChatId, ChatStatus, E164Number, EndUserId, MessageId, TenantId};

use super::is_active;
use crate::schema::{agents, chats, end_users, messages, participants};
use crate::{Agent, Chat, ChatBundle, DbConn, Message, Participant, StoreError, Window};

/// The consumer's active chat in the tenant, if any (whether or not it has run past its
/// timeout).
pub fn active_chat(conn: &mut DbConn, tenant_id: TenantId, number: &E164Number) -> Result<Option<Chat>, StoreError> {
    db_run!(conn, |c| chats::table
        .inner_join(end_users::table)
        .filter(chats::tenant_id.eq(tenant_id.get()))
        .filter(end_users::tenant_id.eq(tenant_id.get()))
        .filter(end_users::number.eq(number.as_str()))
        .filter(is_active())
        .select(Chat::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// The tenant's active chats sent from `outbound` (whether or not past their timeout).
pub fn active_from(conn: &mut DbConn, tenant_id: TenantId, outbound: &E164Number) -> Result<Vec<Chat>, StoreError> {
    db_run!(conn, |c| chats::table
        .filter(chats::tenant_id.eq(tenant_id.get()))
        .filter(chats::outbound_number.eq(outbound.as_str()))
        .filter(is_active())
        .select(Chat::as_select())
        .load(c))
    .map_err(StoreError::from)
}

/// How many of the tenant's active chats are sent from `outbound`.
pub fn active_count_from(conn: &mut DbConn, tenant_id: TenantId, outbound: &E164Number) -> Result<i64, StoreError> {
    db_run!(conn, |c| chats::table
        .filter(chats::tenant_id.eq(tenant_id.get()))
        .filter(chats::outbound_number.eq(outbound.as_str()))
        .filter(is_active())
        .count()
        .get_result(c))
    .map_err(StoreError::from)
}

/// The consumer's chat, in any status, that was given the session lock `token`: who holds a
/// lock, when the consumer has no active chat.
pub fn lock_owner(
    conn: &mut DbConn,
    tenant_id: TenantId,
    number: &E164Number,
    token: &str,
) -> Result<Option<Chat>, StoreError> {
    db_run!(conn, |c| chats::table
        .inner_join(end_users::table)
        .filter(chats::tenant_id.eq(tenant_id.get()))
        .filter(end_users::tenant_id.eq(tenant_id.get()))
        .filter(end_users::number.eq(number.as_str()))
        .filter(chats::lock_token.eq(token))
        .select(Chat::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// The active chat of an end user known by id.
pub(super) fn active_chat_of(
    conn: &mut DbConn,
    tenant_id: TenantId,
    end_user_id: EndUserId,
) -> Result<Option<Chat>, StoreError> {
    db_run!(conn, |c| chats::table
        .filter(chats::tenant_id.eq(tenant_id.get()))
        .filter(chats::end_user_id.eq(end_user_id.get()))
        .filter(is_active())
        .select(Chat::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// A chat of the tenant, without its participants.
pub fn find_chat(conn: &mut DbConn, tenant_id: TenantId, chat_id: ChatId) -> Result<Option<Chat>, StoreError> {
    db_run!(conn, |c| chats::table
        .filter(chats::id.eq(chat_id.get()))
        .filter(chats::tenant_id.eq(tenant_id.get()))
        .select(Chat::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// A chat of the tenant with what writing into it must know, read together.
#[derive(Debug, Clone)]
pub struct ChatContext {
    pub chat: Chat,
    /// The consumer's number.
    pub end_user_number: E164Number,
    /// The tenant still owns the chat's outbound number.
    pub outbound_owned: bool,
    /// The consumer opted out of the tenant's texts.
    pub opted_out: bool,
}

/// A chat of the tenant with its consumer's number, whether the tenant still owns its
/// outbound number and whether the consumer opted out, in one statement (an agent's reply
/// asks all four); `None` for a chat of another tenant exactly as for a missing one.
pub fn context(conn: &mut DbConn, tenant_id: TenantId, chat_id: ChatId) -> Result<Option<ChatContext>, StoreError> {
    let row: Option<(Chat, String, bool, bool)> = db_run!(conn, |c| chats::table
        .inner_join(end_users::table)
        .filter(chats::id.eq(chat_id.get()))
        .filter(chats::tenant_id.eq(tenant_id.get()))
        .select((Chat::as_select(), end_users::number, super::OutboundOwned, super::ConsumerOptedOut))
        .first(c)
        .optional())?;
    row.map(|(chat, number, outbound_owned, opted_out)| {
        Ok(ChatContext { chat, end_user_number: stored_number(number)?, outbound_owned, opted_out })
    })
    .transpose()
}

/// A chat of the tenant with its participants and agent; `None` for a chat of another tenant
/// exactly as for a missing one.
pub fn find(conn: &mut DbConn, tenant_id: TenantId, chat_id: ChatId) -> Result<Option<ChatBundle>, StoreError> {
    let Some(chat) = find_chat(conn, tenant_id, chat_id)? else {
        return Ok(None);
    };
    Ok(bundles(conn, vec![chat])?.pop())
}

/// Filters of the chat list.
#[derive(Debug, Clone, Default)]
pub struct ChatFilter {
    pub status: Option<ChatStatus>,
    pub end_user_number: Option<E164Number>,
    /// From 1.
    pub page: i64,
    pub per: i64,
}

/// A page of the tenant's chats, newest first, and the total count over all pages.
pub fn list(conn: &mut DbConn, tenant_id: TenantId, filter: &ChatFilter) -> Result<(Vec<ChatBundle>, i64), StoreError> {
    // A macro rather than a closure: the boxed query is typed by its backend, and each arm of
    // `db_run!` needs its own.
    macro_rules! filtered {
        () => {{
            let mut query = chats::table.filter(chats::tenant_id.eq(tenant_id.get())).into_boxed();
            if let Some(status) = filter.status {
                query = query.filter(chats::status.eq(status.as_str()));
            }
            if let Some(number) = &filter.end_user_number {
                let end_user = end_users::table
                    .filter(end_users::tenant_id.eq(tenant_id.get()))
                    .filter(end_users::number.eq(number.as_str().to_owned()))
                    .select(end_users::id);
                query = query.filter(chats::end_user_id.eq_any(end_user));
            }
            query
        }};
    }
    let offset = (filter.page.max(1) - 1).saturating_mul(filter.per);
    let (rows, total) = db_run!(conn, |c| {
        let total: i64 = filtered!().count().get_result(c)?;
        let rows: Vec<Chat> =
            filtered!().order(chats::id.desc()).offset(offset).limit(filter.per).select(Chat::as_select()).load(c)?;
        Ok::<_, diesel::result::Error>((rows, total))
    })?;
    Ok((bundles(conn, rows)?, total))
}

/// Attaches participants and agents to chats with one query each.
pub(crate) fn bundles(conn: &mut DbConn, chats: Vec<Chat>) -> Result<Vec<ChatBundle>, StoreError> {
    if chats.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = chats.iter().map(|c| c.id.get()).collect();
    let agent_ids: Vec<i64> = chats.iter().filter_map(|c| c.agent_id.map(|a| a.get())).collect();
    let parts: Vec<Participant> = db_run!(conn, |c| participants::table
        .filter(participants::chat_id.eq_any(&ids))
        .order(participants::id)
        .select(Participant::as_select())
        .load(c))?;
    let agent_rows: Vec<Agent> = if agent_ids.is_empty() {
        Vec::new()
    } else {
        db_run!(conn, |c| agents::table.filter(agents::id.eq_any(&agent_ids)).select(Agent::as_select()).load(c))?
    };
    Ok(chats
        .into_iter()
        .map(|chat| ChatBundle {
            participants: parts.iter().filter(|p| p.chat_id == chat.id).cloned().collect(),
            agent: chat.agent_id.and_then(|id| agent_rows.iter().find(|a| a.id == id).cloned()),
            chat,
        })
        .collect())
}

/// A page of the chat's messages, oldest first, and how many it has.
pub fn messages(conn: &mut DbConn, chat_id: ChatId, window: Window) -> Result<(Vec<Message>, i64), StoreError> {
    let of_chat = messages::table.filter(messages::chat_id.eq(Some(chat_id.get())));
    db_run!(conn, |c| {
        let total: i64 = of_chat.count().get_result(c)?;
        let rows = of_chat
            .order(messages::id)
            .offset(window.offset)
            .limit(window.limit)
            .select(Message::as_select())
            .load(c)?;
        Ok((rows, total))
    })
}

/// One message of the tenant.
pub fn message(conn: &mut DbConn, tenant_id: TenantId, id: MessageId) -> Result<Option<Message>, StoreError> {
    db_run!(conn, |c| messages::table
        .filter(messages::tenant_id.eq(tenant_id.get()))
        .filter(messages::id.eq(id.get()))
        .select(Message::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// The number of an end user known by id.
pub fn end_user_number(conn: &mut DbConn, end_user_id: EndUserId) -> Result<E164Number, StoreError> {
    let number: String =
        db_run!(conn, |c| end_users::table.find(end_user_id.get()).select(end_users::number).first(c))?;
    stored_number(number)
}

/// A consumer's number as stored (checked when it was written).
pub(super) fn stored_number(number: String) -> Result<E164Number, StoreError> {
    E164Number::try_from(number).map_err(|e| StoreError::Config(format!("a stored number: {e}")))
}

/// Each of these chats' agent (`None`: unassigned); a chat that does not exist is left out.
pub fn agents_of(conn: &mut DbConn, chat_ids: &[i64]) -> Result<Vec<(i64, Option<i64>)>, StoreError> {
    if chat_ids.is_empty() {
        return Ok(Vec::new());
    }
    db_run!(conn, |c| chats::table.filter(chats::id.eq_any(chat_ids)).select((chats::id, chats::agent_id)).load(c))
        .map_err(StoreError::from)
}
