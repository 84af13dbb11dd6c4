//! The console's accounts and sessions (SPEC section 14): agents' password hashes and sign-in
//! failures, one-time invitations, and sessions kept server side, so that any instance serves
//! them. Tokens are stored only as their SHA-256; passwords only as Argon2id hashes.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sms_domain::{AgentId, TenantId};

use crate::schema::{agents, console_credentials, console_invitations, console_sessions, tenants};
use crate::tx::transaction;
use crate::{Agent, DbConn, StoreError, Tenant};

/// An agent's console password and the failures counted against it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = console_credentials)]
pub struct Credential {
    pub agent_id: i64,
    pub password_hash: String,
    pub failed_count: i32,
    pub failures_since: Option<NaiveDateTime>,
    pub locked_until: Option<NaiveDateTime>,
}

/// Sets the agent's password hash at `now`: its failures are forgotten, its open invitations
/// used up and every session it had ends.
pub fn set_password(conn: &mut DbConn, agent_id: AgentId, hash: &str, now: NaiveDateTime) -> Result<(), StoreError> {
    let id = agent_id.get();
    transaction(conn, |conn| {
        db_run!(conn, |c| diesel::delete(console_credentials::table.find(id)).execute(c))?;
        db_run!(conn, |c| diesel::insert_into(console_credentials::table)
            .values((
                console_credentials::agent_id.eq(id),
                console_credentials::password_hash.eq(hash),
                console_credentials::failed_count.eq(0),
            ))
            .execute(c))?;
        db_run!(conn, |c| diesel::update(agents::table.find(id))
            .set(agents::password_set_at.eq(Some(now)))
            .execute(c))?;
        let open = console_invitations::table
            .filter(console_invitations::agent_id.eq(id))
            .filter(console_invitations::used_at.is_null());
        db_run!(conn, |c| diesel::update(open).set(console_invitations::used_at.eq(Some(now))).execute(c))?;
        end_sessions_of(conn, agent_id)
    })
}

/// Ends every console session of the agent.
pub fn end_sessions_of(conn: &mut DbConn, agent_id: AgentId) -> Result<(), StoreError> {
    db_run!(conn, |c| diesel::delete(console_sessions::table.filter(console_sessions::agent_id.eq(agent_id.get())))
        .execute(c))?;
    Ok(())
}

/// The agent of the tenant with this e-mail (case-insensitively) and its credential, if any.
pub fn account(
    conn: &mut DbConn,
    tenant_id: TenantId,
    email: &str,
) -> Result<Option<(Agent, Option<Credential>)>, StoreError> {
    let Some(agent) = crate::agents::find_by_email(conn, tenant_id, email)? else {
        return Ok(None);
    };
    let credential = db_run!(conn, |c| console_credentials::table
        .find(agent.id.get())
        .select(Credential::as_select())
        .first(c)
        .optional())?;
    Ok(Some((agent, credential)))
}

/// Counts a failed sign-in against the agent at `now`: failures older than `window` are
/// forgotten; the `limit`-th within it locks the account until `now + lock`.
pub fn count_failure(
    conn: &mut DbConn,
    agent_id: AgentId,
    now: NaiveDateTime,
    (limit, window, lock): (i32, chrono::Duration, chrono::Duration),
) -> Result<(), StoreError> {
    transaction(conn, |conn| {
        let target = console_credentials::table.find(agent_id.get());
        let Some(current) = db_run!(conn, |c| target.select(Credential::as_select()).first(c).optional())? else {
            return Ok(());
        };
        let fresh = current.failures_since.is_none_or(|since| since + window <= now);
        let (count, since) =
            if fresh { (1, now) } else { (current.failed_count + 1, current.failures_since.unwrap_or(now)) };
        let locked_until = if count >= limit { Some(now + lock) } else { current.locked_until };
        let (count, since) = if count >= limit { (0, None) } else { (count, Some(since)) };
        db_run!(conn, |c| diesel::update(target)
            .set((
                console_credentials::failed_count.eq(count),
                console_credentials::failures_since.eq(since),
                console_credentials::locked_until.eq(locked_until),
            ))
            .execute(c))?;
        Ok(())
    })
}

/// Forgets the agent's failed sign-ins (it signed in).
pub fn clear_failures(conn: &mut DbConn, agent_id: AgentId) -> Result<(), StoreError> {
    db_run!(conn, |c| diesel::update(console_credentials::table.find(agent_id.get()))
        .set((console_credentials::failed_count.eq(0), console_credentials::failures_since.eq(None::<NaiveDateTime>),))
        .execute(c))?;
    Ok(())
}

/// A one-time invitation to choose a console password.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = console_invitations)]
pub struct Invitation {
    pub id: i64,
    pub agent_id: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

pub fn create_invitation(
    conn: &mut DbConn,
    agent_id: AgentId,
    token_hash: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> Result<(), StoreError> {
    db_run!(conn, |c| diesel::insert_into(console_invitations::table)
        .values((
            console_invitations::token_hash.eq(token_hash),
            console_invitations::agent_id.eq(agent_id.get()),
            console_invitations::created_at.eq(now),
            console_invitations::expires_at.eq(expires_at),
        ))
        .execute(c))?;
    Ok(())
}

/// The unused invitation with this token hash that is still valid at `now`, with its agent
/// and the agent's tenant.
pub fn open_invitation(
    conn: &mut DbConn,
    token_hash: &str,
    now: NaiveDateTime,
) -> Result<Option<(Invitation, Agent, Tenant)>, StoreError> {
    let found = db_run!(conn, |c| console_invitations::table
        .inner_join(agents::table.inner_join(tenants::table))
        .filter(console_invitations::token_hash.eq(token_hash))
        .filter(console_invitations::used_at.is_null())
        .filter(console_invitations::expires_at.gt(now))
        .select((Invitation::as_select(), Agent::as_select(), Tenant::as_select()))
        .first(c)
        .optional())?;
    Ok(found)
}

/// A console session as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = console_sessions)]
pub struct SessionRow {
    pub id: i64,
    pub csrf_token: String,
    pub agent_id: Option<i64>,
    pub operator: Option<String>,
    pub tenant_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
}

/// A new session: an agent's, or an operator's (`operator` is the admin token's subject and
/// `expires_at` its expiry).
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub csrf_token: &'a str,
    pub agent: Option<(AgentId, TenantId)>,
    pub operator: Option<&'a str>,
    pub now: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
}

pub fn create_session(conn: &mut DbConn, new: &NewSession<'_>) -> Result<(), StoreError> {
    db_run!(conn, |c| diesel::insert_into(console_sessions::table)
        .values((
            console_sessions::token_hash.eq(new.token_hash),
            console_sessions::csrf_token.eq(new.csrf_token),
            console_sessions::agent_id.eq(new.agent.map(|(a, _)| a.get())),
            console_sessions::tenant_id.eq(new.agent.map(|(_, t)| t.get())),
            console_sessions::operator.eq(new.operator),
            console_sessions::created_at.eq(new.now),
            console_sessions::last_seen_at.eq(new.now),
            console_sessions::expires_at.eq(new.expires_at),
        ))
        .execute(c))?;
    Ok(())
}

/// The session with this token hash, if it was used after `idle_since` and has not expired at
/// `now`; a session past either is deleted.
pub fn session(
    conn: &mut DbConn,
    token_hash: &str,
    now: NaiveDateTime,
    idle_since: NaiveDateTime,
) -> Result<Option<SessionRow>, StoreError> {
    let target = console_sessions::table.filter(console_sessions::token_hash.eq(token_hash));
    let Some(row) = db_run!(conn, |c| target.select(SessionRow::as_select()).first(c).optional())? else {
        return Ok(None);
    };
    if row.last_seen_at <= idle_since || row.expires_at.is_some_and(|at| at <= now) {
        db_run!(conn, |c| diesel::delete(console_sessions::table.find(row.id)).execute(c))?;
        return Ok(None);
    }
    Ok(Some(row))
}

/// Marks the session used at `now`.
pub fn touch_session(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> Result<(), StoreError> {
    db_run!(conn, |c| diesel::update(console_sessions::table.find(id))
        .set(console_sessions::last_seen_at.eq(now))
        .execute(c))?;
    Ok(())
}

/// The tenant an operator's session works in.
pub fn choose_tenant(conn: &mut DbConn, id: i64, tenant_id: Option<TenantId>) -> Result<(), StoreError> {
    db_run!(conn, |c| diesel::update(console_sessions::table.find(id))
        .set(console_sessions::tenant_id.eq(tenant_id.map(TenantId::get)))
        .execute(c))?;
    Ok(())
}

/// Ends the session with this token hash (sign-out).
pub fn end_session(conn: &mut DbConn, token_hash: &str) -> Result<(), StoreError> {
    db_run!(conn, |c| diesel::delete(console_sessions::table.filter(console_sessions::token_hash.eq(token_hash)))
        .execute(c))?;
    Ok(())
}

/// Deletes sessions unused since `idle_since`; answers how many.
pub fn purge_idle(conn: &mut DbConn, idle_since: NaiveDateTime) -> Result<usize, StoreError> {
    db_run!(conn, |c| diesel::delete(console_sessions::table.filter(console_sessions::last_seen_at.le(idle_since)))
        .execute(c))
    .map_err(StoreError::from)
}

/// An agent by id, in whichever tenant, with its tenant.
pub fn agent_with_tenant(conn: &mut DbConn, agent_id: i64) -> Result<Option<(Agent, Tenant)>, StoreError> {
    db_run!(conn, |c| agents::table
        .inner_join(tenants::table)
        .filter(agents::id.eq(agent_id))
        .select((Agent::as_select(), Tenant::as_select()))
        .first(c)
        .optional())
    .map_err(StoreError::from)
}

/// A tenant by id.
pub fn tenant(conn: &mut DbConn, tenant_id: i64) -> Result<Option<Tenant>, StoreError> {
    db_run!(conn, |c| tenants::table.find(tenant_id).select(Tenant::as_select()).first(c).optional())
        .map_err(StoreError::from)
}
