//! The console's people (SPEC sections 4 and 14, version 3): signing in, sessions kept in the
//! database so that any instance serves them, console passwords and one-time invitations.
//!
//! An agent signs in with its tenant, e-mail and password (an Argon2id hash); an operator with
//! an admin token. Every failure answers the same [`ServiceError::SignInFailed`], whatever was
//! wrong. A session is a random token the browser keeps; only its SHA-256 is stored. It ends
//! after `idle` without use, at sign-out, and at once when its agent is deactivated, its
//! password changes or its tenant is deactivated (each request reads them).

mod inbox;
mod manage;
mod passwords;

use std::net::IpAddr;

use chrono::Duration;
use sms_domain::admin::ConsoleRole;
use sms_domain::AgentId;
use sms_store::console::{self as store, NewSession};
use sms_store::{Agent, Tenant};

use crate::auth::{hash_token, ROLE_ADMIN};
use crate::error::{Result, ServiceError};
use crate::Service;

pub use inbox::{AgentFilter, Conversation, InboxPage, InboxQuery, NewSms};
pub use manage::{console_page, NumberLoad, CONSOLE_PER_PAGE};
pub use passwords::{Invitation, Invited, INVITATION_HOURS};

/// How the console's sessions behave.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// A session unused this long ends (`SMS_CONSOLE_IDLE_MINUTES`, default 480).
    pub idle: Duration,
    /// This service's public base URL, for invitation links.
    pub public_url: String,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self { idle: Duration::minutes(DEFAULT_IDLE_MINUTES), public_url: "http://127.0.0.1:8080".into() }
    }
}

/// The default of `SMS_CONSOLE_IDLE_MINUTES`.
pub const DEFAULT_IDLE_MINUTES: i64 = 480;
/// Failed sign-ins an account may have within [`FAILURE_WINDOW`] before it waits [`LOCKOUT`].
pub const FAILURES_BEFORE_LOCKOUT: i32 = 10;
pub const FAILURE_WINDOW: Duration = Duration::minutes(15);
pub const LOCKOUT: Duration = Duration::minutes(15);
/// A session's last use is written at most this often.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// Who signs in, as typed on the sign-in page.
#[derive(Clone)]
pub enum SignIn {
    Agent { subdomain: String, email: String, password: String },
    Operator { token: String },
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Agent { subdomain, .. } => write!(f, "Agent({subdomain}, …)"),
            Self::Operator { .. } => f.write_str("Operator(…)"),
        }
    }
}

/// What a viewer may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Its own and unassigned conversations.
    Agent,
    /// Everything of its tenant.
    Supervisor,
    /// Everything of every tenant (one at a time), and the tenants themselves.
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Supervisor => "supervisor",
            Self::Operator => "operator",
        }
    }
}

/// A signed-in person, as a request's session says.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub session_id: i64,
    /// The token every change must carry (CSRF).
    pub csrf: String,
    pub role: Role,
    /// The agent who signed in (agents and supervisors).
    pub agent: Option<Agent>,
    /// The tenant worked in: the agent's, or the one an operator chose.
    pub tenant: Option<Tenant>,
}

impl Viewer {
    /// Whether the viewer sees every conversation of the tenant.
    pub fn sees_all(&self) -> bool {
        self.role != Role::Agent
    }

    pub fn agent_id(&self) -> Option<AgentId> {
        self.agent.as_ref().map(|a| a.id)
    }

    /// The tenant, for pages that work in one; an operator who has not chosen answers 409.
    pub fn tenant(&self) -> Result<&Tenant> {
        self.tenant.as_ref().ok_or(ServiceError::Conflict("choose a tenant first"))
    }

    /// Whether a chat with this agent is the viewer's to see: every chat for a supervisor or
    /// an operator; its own and unassigned ones for an agent.
    pub fn may_see(&self, chat_agent: Option<AgentId>) -> bool {
        self.sees_all() || chat_agent.is_none() || chat_agent == self.agent_id()
    }

    /// Whether a live change about a chat of `tenant` whose agent is `agent` is the viewer's.
    pub fn hears(&self, change: &crate::live::SeenChange) -> bool {
        self.tenant.as_ref().is_some_and(|t| t.id == change.tenant) && self.may_see(change.agent.map(AgentId::new))
    }

    /// Refuses a page of another role (403).
    pub fn require_supervisor(&self) -> Result<()> {
        if self.sees_all() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden("this page is for supervisors"))
        }
    }

    pub fn require_operator(&self) -> Result<()> {
        if self.role == Role::Operator {
            Ok(())
        } else {
            Err(ServiceError::Forbidden("this page is for operators"))
        }
    }
}

/// A session just opened: the token for the cookie, and who it is.
#[derive(Debug)]
pub struct Opened {
    pub token: String,
    pub viewer: Viewer,
}

fn random_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// What reading a console session finds to change.
enum SessionChange {
    /// Its agent or tenant is no longer active: the session ends.
    End,
    /// Not marked used for [`TOUCH_EVERY`]: marked used now.
    Touch(i64),
}

impl Service {
    /// Signs in from `client`; every failure, whatever its cause, is
    /// [`ServiceError::SignInFailed`]. Failures count against the address (as failed
    /// authentication does everywhere) and against the agent's account, which after 10 within
    /// 15 minutes waits 15 minutes, its right password refused meanwhile.
    pub async fn console_sign_in(&self, sign_in: SignIn, client: IpAddr) -> Result<Opened> {
        if self.admit(client, None).is_err() {
            return Err(ServiceError::SignInFailed);
        }
        let outcome = match sign_in {
            SignIn::Agent { subdomain, email, password } => self.agent_sign_in(subdomain, email, password).await,
            SignIn::Operator { token } => self.operator_sign_in(&token).await,
        };
        match outcome {
            Err(ServiceError::SignInFailed) => {
                self.inner.failures.failed(client);
                metrics::counter!("sms_console_sign_ins_total", "outcome" => "failed").increment(1);
                Err(ServiceError::SignInFailed)
            }
            other => {
                if other.is_ok() {
                    metrics::counter!("sms_console_sign_ins_total", "outcome" => "succeeded").increment(1);
                }
                other
            }
        }
    }

    async fn agent_sign_in(&self, subdomain: String, email: String, password: String) -> Result<Opened> {
        let now = self.now();
        let found = self
            .db(move |conn| {
                let Some(tenant) = sms_store::tenants::find_by_subdomain(conn, subdomain.trim())? else {
                    return Ok(None);
                };
                Ok(store::account(conn, tenant.id, &email)?.map(|(agent, credential)| (tenant, agent, credential)))
            })
            .await?;
        let hash = found.as_ref().and_then(|(_, _, c)| c.as_ref()).map(|c| c.password_hash.clone());
        // The same work whether or not the account exists: the time taken tells nothing.
        let matches = passwords::verify(hash, password).await;
        let Some((tenant, agent, Some(credential))) = found else {
            return Err(ServiceError::SignInFailed);
        };
        let locked = credential.locked_until.is_some_and(|until| until > now);
        if !matches || locked {
            let agent_id = agent.id;
            let limits = (FAILURES_BEFORE_LOCKOUT, FAILURE_WINDOW, LOCKOUT);
            self.write(move |conn| Ok(store::count_failure(conn, agent_id, now, limits)?)).await?;
            return Err(ServiceError::SignInFailed);
        }
        if !agent.is_active() || !tenant.active {
            return Err(ServiceError::SignInFailed);
        }
        let (token, csrf) = (random_token(), random_token());
        let (token_hash, csrf_token) = (hash_token(&token), csrf.clone());
        let (agent_id, tenant_id) = (agent.id, tenant.id);
        let session_id = self
            .write(move |conn| {
                sms_store::transaction(conn, |conn| {
                    store::clear_failures(conn, agent_id)?;
                    let new = NewSession {
                        token_hash: &token_hash,
                        csrf_token: &csrf_token,
                        agent: Some((agent_id, tenant_id)),
                        operator: None,
                        now,
                        expires_at: None,
                    };
                    store::create_session(conn, &new)?;
                    Ok(store::session(conn, &token_hash, now, now - Duration::days(1))?.map(|s| s.id).unwrap_or(0))
                })
            })
            .await?;
        tracing::info!(agent_id = agent.id.get(), tenant = %tenant.subdomain, "console sign-in");
        let role = if agent.console_role == ConsoleRole::Supervisor { Role::Supervisor } else { Role::Agent };
        let viewer = Viewer { session_id, csrf, role, agent: Some(agent), tenant: Some(tenant) };
        Ok(Opened { token, viewer })
    }

    async fn operator_sign_in(&self, admin_token: &str) -> Result<Opened> {
        let claims = self.inner.jwt.verify(admin_token.trim()).ok_or(ServiceError::SignInFailed)?;
        if claims.role.as_deref() != Some(ROLE_ADMIN) {
            return Err(ServiceError::SignInFailed);
        }
        let expires_at =
            chrono::DateTime::from_timestamp(i64::try_from(claims.exp).unwrap_or(i64::MAX), 0).map(|at| at.naive_utc());
        let now = self.now();
        let (token, csrf) = (random_token(), random_token());
        let (token_hash, csrf_token, operator) = (hash_token(&token), csrf.clone(), claims.sub.clone());
        let session_id = self
            .db(move |conn| {
                let new = NewSession {
                    token_hash: &token_hash,
                    csrf_token: &csrf_token,
                    agent: None,
                    operator: Some(&operator),
                    now,
                    expires_at,
                };
                store::create_session(conn, &new)?;
                Ok(store::session(conn, &token_hash, now, now - Duration::days(1))?.map(|s| s.id).unwrap_or(0))
            })
            .await?;
        tracing::info!("console sign-in by an operator");
        let viewer = Viewer { session_id, csrf, role: Role::Operator, agent: None, tenant: None };
        Ok(Opened { token, viewer })
    }

    /// Who holds the session `token`, if it is still open: used within the idle time, its
    /// agent active with its password unchanged, its tenant active. Marks it used.
    pub async fn console_session(&self, token: &str) -> Result<Option<Viewer>> {
        let (token_hash, now, idle) = (hash_token(token), self.now(), self.inner.console.idle);
        let ended = token_hash.clone();
        // Read on a connection of its own; what the reading finds to change (a session whose
        // agent or tenant went away ends, one not used for a while is marked used) is then a
        // write like any other, so a page never takes SQLite's write lock outside its writer.
        let (viewer, change) = self
            .db(move |conn| {
                let Some(row) = store::session(conn, &token_hash, now, now - idle)? else {
                    return Ok((None, None));
                };
                let viewer = match row.agent_id {
                    Some(agent_id) => {
                        let Some((agent, tenant)) = store::agent_with_tenant(conn, agent_id)? else {
                            return Ok((None, None));
                        };
                        if !agent.is_active() || !tenant.active {
                            return Ok((None, Some(SessionChange::End)));
                        }
                        let role =
                            if agent.console_role == ConsoleRole::Supervisor { Role::Supervisor } else { Role::Agent };
                        Viewer {
                            session_id: row.id,
                            csrf: row.csrf_token,
                            role,
                            agent: Some(agent),
                            tenant: Some(tenant),
                        }
                    }
                    None => {
                        let tenant = match row.tenant_id {
                            Some(id) => store::tenant(conn, id)?,
                            None => None,
                        };
                        Viewer { session_id: row.id, csrf: row.csrf_token, role: Role::Operator, agent: None, tenant }
                    }
                };
                let touch = (row.last_seen_at + TOUCH_EVERY <= now).then_some(SessionChange::Touch(row.id));
                Ok((Some(viewer), touch))
            })
            .await?;
        match change {
            Some(SessionChange::End) => self.write(move |conn| Ok(store::end_session(conn, &ended)?)).await?,
            Some(SessionChange::Touch(id)) => self.write(move |conn| Ok(store::touch_session(conn, id, now)?)).await?,
            None => {}
        }
        Ok(viewer)
    }

    /// Ends the session `token` (sign-out).
    pub async fn console_sign_out(&self, token: &str) -> Result<()> {
        let token_hash = hash_token(token);
        self.write(move |conn| Ok(store::end_session(conn, &token_hash)?)).await
    }

    /// An operator chooses the tenant to work in.
    pub async fn console_choose_tenant(&self, viewer: &Viewer, subdomain: &str) -> Result<Tenant> {
        viewer.require_operator()?;
        let (session_id, subdomain) = (viewer.session_id, subdomain.to_owned());
        self.write(move |conn| {
            let tenant =
                sms_store::tenants::find_by_subdomain(conn, &subdomain)?.ok_or(ServiceError::NotFound("tenant"))?;
            store::choose_tenant(conn, session_id, Some(tenant.id))?;
            Ok(tenant)
        })
        .await
    }

    /// Whether the session cookie is `Secure`: when the service's public URL is `https`.
    pub fn console_secure_cookie(&self) -> bool {
        self.inner.console.public_url.starts_with("https://")
    }

    /// Forgets sessions unused for longer than the idle time; answers how many.
    pub async fn purge_console_sessions(&self) -> Result<usize> {
        let since = self.now() - self.inner.console.idle;
        self.write(move |conn| Ok(store::purge_idle(conn, since)?)).await
    }
}
