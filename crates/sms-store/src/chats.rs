//! Chats, their participants and messages.
//!
//! A chat, its participants and its first message are written in one transaction; the unique
//! partial index over active chats refuses a second active chat for the same consumer, and that
//! refusal comes back as [`StoreError::ActiveChat`].

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::upsert::excluded;
use sms_domain::{ChatStatus, DisconnectedBy, E164Number};

use crate::conn::write_tx;
use crate::models::{NewChat, NewMessage, NewParticipant};
use crate::schema::{agents, chats, end_users, messages, participants};
use crate::{Agent, Chat, ChatBundle, DbConn, Message, Participant, StoreError};

pub const PARTICIPANT_END_USER: &str = "end_user";
pub const PARTICIPANT_AGENT: &str = "agent";
pub const PARTICIPANT_CONNECTED: &str = "connected";
pub const PARTICIPANT_DISCONNECTED: &str = "disconnected";
pub const DIRECTION_OUTBOUND: &str = "outbound";
pub const DELIVERY_QUEUED: &str = "queued";

/// The SQL of "the chat is active", written exactly as the predicate of the partial indexes
/// `chats_one_active_per_end_user` and `chats_active_expiry`. A planner uses a partial index
/// only when it can prove the query implies the index's predicate, and a bound list
/// (`status = ANY($1)`) proves nothing: every active-chat lookup would scan all the tenant's
/// chats. With the literal, each is one index probe.
const ACTIVE_PREDICATE: &str = "chats.status IN ('selecting', 'queued', 'assigned')";

/// [`ACTIVE_PREDICATE`] as a diesel expression. Unlike `diesel::dsl::sql`, it has a static
/// query id, so the statements that use it stay in diesel's prepared-statement cache.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct IsActive;

impl diesel::Expression for IsActive {
    type SqlType = diesel::sql_types::Bool;
}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for IsActive {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(ACTIVE_PREDICATE);
        Ok(())
    }
}

impl<QS> diesel::AppearsOnTable<QS> for IsActive {}
impl<QS> diesel::SelectableExpression<QS> for IsActive {}

impl diesel::expression::ValidGrouping<()> for IsActive {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

fn is_active() -> IsActive {
    IsActive
}

/// Everything needed to open a chat.
#[derive(Debug, Clone)]
pub struct NewChatSpec<'a> {
    pub tenant_id: i64,
    pub lang: &'a str,
    pub chat_type: &'a str,
    pub end_user_number: &'a E164Number,
    pub outbound_number: &'a E164Number,
    pub ticket_id: Option<&'a str>,
    pub agent: Option<&'a Agent>,
    pub message: &'a str,
    pub segments: i32,
    /// The session lock's token, kept so whoever ends the chat can release the lock as owner.
    pub lock_token: Option<&'a str>,
    pub now: NaiveDateTime,
    pub session_timeout: Duration,
}

/// A chat that was ended, with what its session lock needs to be released.
#[derive(Debug, Clone)]
pub struct EndedChat {
    pub chat_id: i64,
    pub tenant_id: i64,
    pub end_user_number: String,
    pub lock_token: Option<String>,
}

/// The result of [`create`]: the new chat, and the consumer's previous chat if it had run past
/// its timeout and was ended on the way.
#[derive(Debug, Clone)]
pub struct Created {
    pub bundle: ChatBundle,
    pub expired: Option<EndedChat>,
}

/// Opens a chat with its participants and its first (queued) message, in one transaction.
/// The caller has checked the outbound number and the opt-out (see [`create_checked`]).
pub fn create(conn: &mut DbConn, spec: &NewChatSpec<'_>) -> Result<Created, StoreError> {
    match create_in_one_transaction(conn, spec)? {
        Some(created) => Ok(created),
        None => create_step_by_step(conn, spec),
    }
}

/// Why the tenant's tables refuse a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The outbound number is not one of the tenant's (row 10).
    OutboundNotRegistered,
    /// The consumer opted out of the tenant's messages.
    OptedOut,
}

/// [`create`] with the send's table checks made on the way: on PostgreSQL inside the chat's
/// own statement, so a send that passes them costs no separate query.
pub fn create_checked(conn: &mut DbConn, spec: &NewChatSpec<'_>) -> Result<Result<Created, Refusal>, StoreError> {
    if let Some(created) = create_in_one_transaction(conn, spec)? {
        return Ok(Ok(created));
    }
    // Refused by a check, or the consumer has an active chat (or SQLite): the checks tell.
    let checks = crate::numbers::send_checks(conn, spec.tenant_id, spec.outbound_number, spec.end_user_number)?;
    if !checks.outbound_registered {
        return Ok(Err(Refusal::OutboundNotRegistered));
    }
    if checks.opted_out {
        return Ok(Err(Refusal::OptedOut));
    }
    create_step_by_step(conn, spec).map(Ok)
}

/// On PostgreSQL, [`CREATE_CHAT_SQL`] in an explicit transaction, though the statement is atomic
/// alone: only this process's COMMIT may make the chat durable, so an instance that dies
/// mid-request leaves nothing behind (in autocommit PostgreSQL would finish the statement for a
/// client that is gone, and a chat nobody was told of would hold the consumer). `None` when the
/// statement wrote no chat, and always on SQLite.
fn create_in_one_transaction(conn: &mut DbConn, spec: &NewChatSpec<'_>) -> Result<Option<Created>, StoreError> {
    let DbConn::Postgres(pg) = conn else { return Ok(None) };
    let bundle = pg.transaction(|pg| create_in_one_statement(pg, spec))?;
    Ok(bundle.map(|bundle| Created { bundle, expired: None }))
}

/// The chat's write statement by statement, in one transaction (`BEGIN IMMEDIATE` on SQLite).
/// When the consumer has an active chat: a live chat is [`StoreError::ActiveChat`]; one past its
/// timeout is ended first.
fn create_step_by_step(conn: &mut DbConn, spec: &NewChatSpec<'_>) -> Result<Created, StoreError> {
    let result = write_tx(conn, |conn| {
        let end_user_id = upsert_end_user(conn, spec.tenant_id, spec.end_user_number, spec.now)?;
        let status = if spec.agent.is_some() { ChatStatus::Assigned } else { ChatStatus::Selecting };
        let new_chat = NewChat {
            tenant_id: spec.tenant_id,
            end_user_id,
            agent_id: spec.agent.map(|a| a.id),
            chat_type: spec.chat_type,
            lang: spec.lang,
            status: status.as_str(),
            outbound_number: spec.outbound_number.as_str(),
            ticket_id: spec.ticket_id,
            disconnected_by: DisconnectedBy::Unknown.as_str(),
            lock_token: spec.lock_token,
            created_at: spec.now,
            assigned_at: spec.agent.map(|_| spec.now),
            last_activity_at: spec.now,
            expires_at: spec.now + spec.session_timeout,
        };
        // The insert itself asks the unique index whether the consumer has an active chat, so
        // the usual case (none) costs no lookup. When it has one: a live chat answers row 12;
        // one past its timeout that nobody has ended yet is ended here, and the insert retried.
        let mut expired = None;
        let chat = match insert_chat(conn, &new_chat)? {
            Some(chat) => chat,
            None => match active_chat_of(conn, spec.tenant_id, end_user_id)? {
                Some(active) if active.expires_at <= spec.now => {
                    expired = finish(conn, &active, DisconnectedBy::System, active.expires_at)?.then(|| EndedChat {
                        chat_id: active.id,
                        tenant_id: active.tenant_id,
                        end_user_number: spec.end_user_number.as_str().to_owned(),
                        lock_token: active.lock_token.clone(),
                    });
                    insert_chat(conn, &new_chat)?.ok_or(StoreError::ActiveChat { chat_id: None })?
                }
                Some(active) => return Err(StoreError::ActiveChat { chat_id: Some(active.id) }),
                None => return Err(StoreError::ActiveChat { chat_id: None }),
            },
        };
        let end_user_part = NewParticipant {
            chat_id: chat.id,
            kind: PARTICIPANT_END_USER,
            status: PARTICIPANT_CONNECTED,
            user_id: None,
            end_user_id: Some(end_user_id),
            connected_at: spec.now,
        };
        // One statement either way, of a fixed shape so it stays a cached prepared statement
        // (diesel never caches an insert of a Vec).
        let participants: Vec<Participant> = match spec.agent {
            None => db_run!(conn, |c| diesel::insert_into(participants::table)
                .values(&end_user_part)
                .returning(Participant::as_returning())
                .get_results(c))?,
            Some(agent) => {
                let agent_part = NewParticipant {
                    kind: PARTICIPANT_AGENT,
                    user_id: Some(agent.id),
                    end_user_id: None,
                    ..end_user_part.clone()
                };
                db_run!(conn, |c| diesel::insert_into(participants::table)
                    .values(&[end_user_part.clone(), agent_part.clone()])
                    .returning(Participant::as_returning())
                    .get_results(c))?
            }
        };
        let message = NewMessage {
            chat_id: chat.id,
            tenant_id: spec.tenant_id,
            direction: DIRECTION_OUTBOUND,
            body: spec.message,
            segments: spec.segments,
            delivery_status: DELIVERY_QUEUED,
            created_at: spec.now,
            updated_at: spec.now,
            from_number: spec.outbound_number.as_str(),
            to_number: spec.end_user_number.as_str(),
            provider_message_id: None,
        };
        db_run!(conn, |c| diesel::insert_into(messages::table).values(&message).execute(c))?;
        Ok(Created { bundle: ChatBundle { chat, participants, agent: spec.agent.cloned() }, expired })
    });
    match result {
        // The index refused the insert and no active chat was seen: a concurrent request won
        // and its chat is committed by now, or it was ended meanwhile.
        Err(StoreError::ActiveChat { chat_id: None }) => {
            let chat_id = active_chat(conn, spec.tenant_id, spec.end_user_number)?.map(|c| c.id);
            Err(StoreError::ActiveChat { chat_id })
        }
        other => other,
    }
}

/// The whole write of a new chat as one PostgreSQL statement: unless the outbound number is not
/// the tenant's or the consumer opted out, data-modifying CTEs upsert the end user, insert the
/// chat (nothing when the consumer has an active chat: the partial unique index), its
/// participants and its first message. One round trip where the step-by-step
/// transaction takes four; the profile showed the round trips, not the work in them, to be
/// most of a request's cost.
const CREATE_CHAT_SQL: &str = "
WITH checks AS (
    SELECT EXISTS (SELECT 1 FROM outbound_numbers WHERE tenant_id = {tenant} AND number = {outbound}) AS registered,
           EXISTS (SELECT 1 FROM opt_outs WHERE tenant_id = {tenant} AND number = {end_user}) AS opted_out
), end_user AS (
    INSERT INTO end_users (tenant_id, number, created_at)
    SELECT {tenant}, {end_user}, {now} FROM checks WHERE registered AND NOT opted_out
    ON CONFLICT (tenant_id, number) DO UPDATE SET number = excluded.number
    RETURNING id
), chat AS (
    INSERT INTO chats (tenant_id, end_user_id, agent_id, chat_type, lang, status, outbound_number, ticket_id,
                       disconnected_by, lock_token, created_at, assigned_at, last_activity_at, expires_at)
    SELECT {tenant}, end_user.id, {agent}, {chat_type}, {lang}, {status}, {outbound}, {ticket}, {disconnected_by}, {lock_token}, {now}, {assigned_at}, {now}, {expires_at} FROM end_user
    ON CONFLICT DO NOTHING
    RETURNING *
), parts AS (
    INSERT INTO participants (chat_id, kind, status, user_id, end_user_id, connected_at)
    SELECT chat.id, 'end_user', 'connected', NULL, chat.end_user_id, {now} FROM chat
    UNION ALL
    SELECT chat.id, 'agent', 'connected', chat.agent_id, NULL, {now} FROM chat WHERE chat.agent_id IS NOT NULL
    RETURNING id, kind
), message AS (
    INSERT INTO messages (chat_id, tenant_id, direction, body, segments, delivery_status, created_at, updated_at,
                          from_number, to_number)
    SELECT chat.id, {tenant}, 'outbound', {message}, {segments}, 'queued', {now}, {now}, {outbound}, {end_user} FROM chat
)
SELECT chat.*,
       (SELECT id FROM parts WHERE kind = 'end_user') AS end_user_participant_id,
       (SELECT id FROM parts WHERE kind = 'agent') AS agent_participant_id
FROM chat";

/// [`CREATE_CHAT_SQL`] with its values, as a query of its own type: diesel keeps it prepared on
/// each connection (a `sql_query` never is, and PostgreSQL parsed and planned the statement on
/// every request: the profile's `base_yyparse` and `copyObjectImpl`). Each `{name}` of the SQL
/// becomes a bind of the field of that name.
struct CreateChat<'a> {
    tenant: i64,
    end_user: &'a str,
    now: NaiveDateTime,
    agent: Option<i64>,
    chat_type: &'a str,
    lang: &'a str,
    status: &'a str,
    outbound: &'a str,
    ticket: Option<&'a str>,
    disconnected_by: &'a str,
    lock_token: Option<&'a str>,
    assigned_at: Option<NaiveDateTime>,
    expires_at: NaiveDateTime,
    message: &'a str,
    segments: i32,
}

/// The cache key of [`CreateChat`]: one statement, whatever its values.
struct CreateChatId;

impl diesel::query_builder::QueryId for CreateChat<'_> {
    type QueryId = CreateChatId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for CreateChat<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl diesel::query_dsl::RunQueryDsl<diesel::PgConnection> for CreateChat<'_> {}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for CreateChat<'_> {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
        let mut rest = CREATE_CHAT_SQL;
        while let Some(open) = rest.find('{') {
            out.push_sql(&rest[..open]);
            let Some(close) = rest[open..].find('}').map(|i| open + i) else { break };
            match &rest[open + 1..close] {
                "tenant" => out.push_bind_param::<BigInt, _>(&self.tenant)?,
                "end_user" => out.push_bind_param::<Text, _>(self.end_user)?,
                "now" => out.push_bind_param::<Timestamp, _>(&self.now)?,
                "agent" => out.push_bind_param::<Nullable<BigInt>, _>(&self.agent)?,
                "chat_type" => out.push_bind_param::<Text, _>(self.chat_type)?,
                "lang" => out.push_bind_param::<Text, _>(self.lang)?,
                "status" => out.push_bind_param::<Text, _>(self.status)?,
                "outbound" => out.push_bind_param::<Text, _>(self.outbound)?,
                "ticket" => out.push_bind_param::<Nullable<Text>, _>(&self.ticket)?,
                "disconnected_by" => out.push_bind_param::<Text, _>(self.disconnected_by)?,
                "lock_token" => out.push_bind_param::<Nullable<Text>, _>(&self.lock_token)?,
                "assigned_at" => out.push_bind_param::<Nullable<Timestamp>, _>(&self.assigned_at)?,
                "expires_at" => out.push_bind_param::<Timestamp, _>(&self.expires_at)?,
                "message" => out.push_bind_param::<Text, _>(self.message)?,
                "segments" => out.push_bind_param::<Integer, _>(&self.segments)?,
                other => return Err(diesel::result::Error::QueryBuilderError(format!("unknown bind {other}").into())),
            }
            rest = &rest[close + 1..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

#[derive(diesel::QueryableByName)]
struct CreatedRow {
    #[diesel(embed)]
    chat: Chat,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    end_user_participant_id: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    agent_participant_id: Option<i64>,
}

/// [`CREATE_CHAT_SQL`]: the new chat, or `None` when a check refused it or the consumer has an
/// active chat (nothing was written then but the end user, who exists already).
fn create_in_one_statement(
    conn: &mut diesel::PgConnection,
    spec: &NewChatSpec<'_>,
) -> Result<Option<ChatBundle>, StoreError> {
    let status = if spec.agent.is_some() { ChatStatus::Assigned } else { ChatStatus::Selecting };
    let query = CreateChat {
        tenant: spec.tenant_id,
        end_user: spec.end_user_number.as_str(),
        now: spec.now,
        agent: spec.agent.map(|a| a.id),
        chat_type: spec.chat_type,
        lang: spec.lang,
        status: status.as_str(),
        outbound: spec.outbound_number.as_str(),
        ticket: spec.ticket_id,
        disconnected_by: DisconnectedBy::Unknown.as_str(),
        lock_token: spec.lock_token,
        assigned_at: spec.agent.map(|_| spec.now),
        expires_at: spec.now + spec.session_timeout,
        message: spec.message,
        segments: spec.segments,
    };
    let row: Option<CreatedRow> = query.get_result(conn).optional()?;
    let Some(row) = row else { return Ok(None) };
    let participant = |id, kind: &str, user_id, end_user_id| Participant {
        id,
        chat_id: row.chat.id,
        kind: kind.to_owned(),
        status: PARTICIPANT_CONNECTED.to_owned(),
        user_id,
        end_user_id,
        connected_at: spec.now,
        ended_at: None,
        chat_duration: None,
    };
    let mut participants =
        vec![participant(row.end_user_participant_id, PARTICIPANT_END_USER, None, Some(row.chat.end_user_id))];
    if let (Some(id), Some(agent)) = (row.agent_participant_id, spec.agent) {
        participants.push(participant(id, PARTICIPANT_AGENT, Some(agent.id), None));
    }
    Ok(Some(ChatBundle { chat: row.chat, participants, agent: spec.agent.cloned() }))
}

/// Inserts the chat unless the consumer has an active one (the partial unique index); `None`
/// then. Every other constraint still fails the statement.
fn insert_chat(conn: &mut DbConn, new_chat: &NewChat<'_>) -> Result<Option<Chat>, StoreError> {
    db_run!(conn, |c| diesel::insert_into(chats::table)
        .values(new_chat)
        .on_conflict_do_nothing()
        .returning(Chat::as_returning())
        .get_result(c)
        .optional())
    .map_err(StoreError::from)
}

fn upsert_end_user(
    conn: &mut DbConn,
    tenant_id: i64,
    number: &E164Number,
    now: NaiveDateTime,
) -> Result<i64, StoreError> {
    db_run!(conn, |c| diesel::insert_into(end_users::table)
        .values((
            end_users::tenant_id.eq(tenant_id),
            end_users::number.eq(number.as_str()),
            end_users::created_at.eq(now),
        ))
        .on_conflict((end_users::tenant_id, end_users::number))
        .do_update()
        .set(end_users::number.eq(excluded(end_users::number)))
        .returning(end_users::id)
        .get_result(c))
    .map_err(StoreError::from)
}

fn active_chat_of(conn: &mut DbConn, tenant_id: i64, end_user_id: i64) -> Result<Option<Chat>, StoreError> {
    db_run!(conn, |c| chats::table
        .filter(chats::tenant_id.eq(tenant_id))
        .filter(chats::end_user_id.eq(end_user_id))
        .filter(is_active())
        .select(Chat::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// The consumer's active chat in the tenant, if any (whether or not it has run past its
/// timeout).
pub fn active_chat(conn: &mut DbConn, tenant_id: i64, number: &E164Number) -> Result<Option<Chat>, StoreError> {
    db_run!(conn, |c| chats::table
        .inner_join(end_users::table)
        .filter(chats::tenant_id.eq(tenant_id))
        .filter(end_users::tenant_id.eq(tenant_id))
        .filter(end_users::number.eq(number.as_str()))
        .filter(is_active())
        .select(Chat::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// Ends `chat` if it is still active; `false` when someone else ended it first.
fn finish(conn: &mut DbConn, chat: &Chat, by: DisconnectedBy, at: NaiveDateTime) -> Result<bool, StoreError> {
    let changed = db_run!(conn, |c| diesel::update(chats::table.filter(chats::id.eq(chat.id)).filter(is_active()))
        .set((
            chats::status.eq(ChatStatus::Finished.as_str()),
            chats::ends_at.eq(at),
            chats::disconnected_by.eq(by.as_str()),
        ))
        .execute(c))?;
    if changed == 0 {
        return Ok(false);
    }
    let connected: Vec<Participant> = db_run!(conn, |c| participants::table
        .filter(participants::chat_id.eq(chat.id))
        .filter(participants::ended_at.is_null())
        .select(Participant::as_select())
        .load(c))?;
    for p in connected {
        db_run!(conn, |c| diesel::update(participants::table.find(p.id))
            .set((
                participants::status.eq(PARTICIPANT_DISCONNECTED),
                participants::ended_at.eq(at),
                participants::chat_duration.eq(seconds_between(p.connected_at, at)),
            ))
            .execute(c))?;
    }
    Ok(true)
}

fn seconds_between(from: NaiveDateTime, to: NaiveDateTime) -> i32 {
    i32::try_from((to - from).num_seconds().max(0)).unwrap_or(i32::MAX)
}

/// What [`end`] found.
#[derive(Debug)]
pub enum EndOutcome {
    NotFound,
    NotActive,
    Ended { bundle: Box<ChatBundle>, ended: EndedChat },
}

/// Ends an active chat of the tenant on request (`POST /chats/{id}/end`).
pub fn end(
    conn: &mut DbConn,
    tenant_id: i64,
    chat_id: i64,
    by: DisconnectedBy,
    now: NaiveDateTime,
) -> Result<EndOutcome, StoreError> {
    let outcome = write_tx(conn, |conn| {
        let Some(chat) = find_chat(conn, tenant_id, chat_id)? else {
            return Ok(None);
        };
        let active = ChatStatus::parse(&chat.status).is_some_and(ChatStatus::is_active);
        Ok(Some(active && finish(conn, &chat, by, now)?))
    })?;
    match outcome {
        None => Ok(EndOutcome::NotFound),
        Some(false) => Ok(EndOutcome::NotActive),
        Some(true) => {
            let Some(bundle) = find(conn, tenant_id, chat_id)? else {
                return Ok(EndOutcome::NotFound);
            };
            let ended = ended_chat(conn, &bundle.chat)?;
            Ok(EndOutcome::Ended { bundle: Box::new(bundle), ended })
        }
    }
}

fn ended_chat(conn: &mut DbConn, chat: &Chat) -> Result<EndedChat, StoreError> {
    let number: String = db_run!(conn, |c| end_users::table.find(chat.end_user_id).select(end_users::number).first(c))?;
    Ok(EndedChat {
        chat_id: chat.id,
        tenant_id: chat.tenant_id,
        end_user_number: number,
        lock_token: chat.lock_token.clone(),
    })
}

/// Ends `chat` as timed out (at the moment its timeout elapsed) if it is still active and past
/// its timeout at `now`.
pub fn expire_if_idle(conn: &mut DbConn, chat: &Chat, now: NaiveDateTime) -> Result<Option<EndedChat>, StoreError> {
    if chat.expires_at > now {
        return Ok(None);
    }
    let ended = write_tx(conn, |conn| finish(conn, chat, DisconnectedBy::System, chat.expires_at))?;
    if ended {
        ended_chat(conn, chat).map(Some)
    } else {
        Ok(None)
    }
}

/// Ends up to `limit` active chats whose timeout has elapsed; each is ended by exactly one
/// caller even when several instances sweep at once.
pub fn expire_idle(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> Result<Vec<EndedChat>, StoreError> {
    let due: Vec<Chat> = db_run!(conn, |c| chats::table
        .filter(is_active())
        .filter(chats::expires_at.le(now))
        .order(chats::expires_at)
        .limit(limit)
        .select(Chat::as_select())
        .load(c))?;
    let mut ended = Vec::new();
    for chat in &due {
        if let Some(e) = expire_if_idle(conn, chat, now)? {
            ended.push(e);
        }
    }
    Ok(ended)
}

fn find_chat(conn: &mut DbConn, tenant_id: i64, chat_id: i64) -> Result<Option<Chat>, StoreError> {
    db_run!(conn, |c| chats::table
        .filter(chats::id.eq(chat_id))
        .filter(chats::tenant_id.eq(tenant_id))
        .select(Chat::as_select())
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// A chat of the tenant with its participants and agent; `None` for a chat of another tenant
/// exactly as for a missing one.
pub fn find(conn: &mut DbConn, tenant_id: i64, chat_id: i64) -> Result<Option<ChatBundle>, StoreError> {
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
pub fn list(conn: &mut DbConn, tenant_id: i64, filter: &ChatFilter) -> Result<(Vec<ChatBundle>, i64), StoreError> {
    // A macro rather than a closure: the boxed query is typed by its backend, and each arm of
    // `db_run!` needs its own.
    macro_rules! filtered {
        () => {{
            let mut query = chats::table.filter(chats::tenant_id.eq(tenant_id)).into_boxed();
            if let Some(status) = filter.status {
                query = query.filter(chats::status.eq(status.as_str()));
            }
            if let Some(number) = &filter.end_user_number {
                let end_user = end_users::table
                    .filter(end_users::tenant_id.eq(tenant_id))
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
fn bundles(conn: &mut DbConn, chats: Vec<Chat>) -> Result<Vec<ChatBundle>, StoreError> {
    if chats.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = chats.iter().map(|c| c.id).collect();
    let agent_ids: Vec<i64> = chats.iter().filter_map(|c| c.agent_id).collect();
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

/// The chat's messages, oldest first.
pub fn messages(conn: &mut DbConn, chat_id: i64) -> Result<Vec<Message>, StoreError> {
    db_run!(conn, |c| messages::table
        .filter(messages::chat_id.eq(chat_id))
        .order(messages::id)
        .select(Message::as_select())
        .load(c))
    .map_err(StoreError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The literal names exactly the active statuses, in the migrations' order.
    #[test]
    fn the_active_predicate_lists_the_active_statuses() {
        let names = ChatStatus::active_names().map(|n| format!("'{n}'")).join(", ");
        assert_eq!(ACTIVE_PREDICATE, format!("chats.status IN ({names})"));
    }

    /// The one-statement write spells the same stored values as the step-by-step one.
    #[test]
    fn the_one_statement_write_uses_the_stored_names() {
        for name in
            [PARTICIPANT_END_USER, PARTICIPANT_AGENT, PARTICIPANT_CONNECTED, DIRECTION_OUTBOUND, DELIVERY_QUEUED]
        {
            assert!(CREATE_CHAT_SQL.contains(&format!("'{name}'")), "{name}");
        }
    }

    /// The migrations' partial indexes carry the same predicate, so planners can use them.
    #[test]
    fn the_partial_indexes_use_the_same_predicate() {
        for sql in [
            include_str!("../../../migrations/postgres/2026-11-23-000001_init/up.sql"),
            include_str!("../../../migrations/sqlite/2026-11-23-000001_init/up.sql"),
        ] {
            let predicate = ACTIVE_PREDICATE.trim_start_matches("chats.");
            assert_eq!(sql.matches(&format!("WHERE {predicate};")).count(), 2, "{sql}");
        }
    }
}
