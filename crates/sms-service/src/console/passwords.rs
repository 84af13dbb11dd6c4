//! Console passwords (Argon2id, never answered, logged or exported) and one-time invitations
//! where an agent chooses one.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{Duration, NaiveDateTime};
use sms_domain::admin::check_password;
use sms_domain::AgentId;
use sms_store::console as store;

use crate::auth::hash_token;
use crate::error::{Result, ServiceError};
use crate::Service;

/// How long an invitation link works.
pub const INVITATION_HOURS: i64 = 72;

/// A hash verified when an account has none, so that a sign-in takes as long either way.
const NO_PASSWORD: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2lnbi1pbi1mYWlsZWQ$3W1iQmWbsTnVq0ZRPFAE2zxyOyGMMmKk8mU5x3TtwYc";

/// Hashes on the blocking pool: Argon2id is made to be slow.
async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
            .map_err(|e| ServiceError::Internal(format!("salt: {e}")))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ServiceError::Internal(format!("password hash: {e}")))
    })
    .await
    .map_err(|e| ServiceError::Internal(format!("blocking task failed: {e}")))?
}

/// Whether `password` matches `stored` (an account without a password matches nothing, after
/// the same work).
pub(super) async fn verify(stored: Option<String>, password: String) -> bool {
    let has = stored.is_some();
    let stored = stored.unwrap_or_else(|| NO_PASSWORD.to_owned());
    let checked = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false);
    has && checked
}

/// A one-time link where an agent chooses its password.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub url: String,
    pub expires_at: NaiveDateTime,
}

/// Whom an open invitation is for.
#[derive(Debug, Clone)]
pub struct Invited {
    pub name: String,
    pub email: String,
    pub subdomain: String,
}

impl Service {
    /// Sets an agent's console password (12 to 128 characters, else `password is invalid`):
    /// its sessions end and its open invitations are used up.
    pub async fn set_agent_password(&self, subdomain: &str, id: AgentId, password: Option<String>) -> Result<()> {
        let password = check_password(password.as_deref())?.to_owned();
        // The agent must exist before the slow hash is paid for.
        self.agent(subdomain, id).await?;
        let hashed = hash(password).await?;
        self.for_tenant_writing(subdomain, move |conn, tenant, now| {
            let agent = sms_store::agents::find(conn, tenant.id, id)?.ok_or(ServiceError::NotFound("agent"))?;
            Ok(store::set_password(conn, agent.id, &hashed, now)?)
        })
        .await?;
        tracing::info!(agent_id = id.get(), "console password set");
        Ok(())
    }

    /// A one-time invitation for the agent, valid 72 hours: a link under
    /// `{SMS_PUBLIC_URL}/console/invitations/`.
    pub async fn invite_agent(&self, subdomain: &str, id: AgentId) -> Result<Invitation> {
        let (token, token_hash) = crate::auth::new_api_token();
        let base = self.inner.console.public_url.trim_end_matches('/').to_owned();
        let expires_at = self
            .for_tenant_writing(subdomain, move |conn, tenant, now| {
                let agent = sms_store::agents::find(conn, tenant.id, id)?.ok_or(ServiceError::NotFound("agent"))?;
                let expires_at = now + Duration::hours(INVITATION_HOURS);
                store::create_invitation(conn, agent.id, &token_hash, now, expires_at)?;
                Ok(expires_at)
            })
            .await?;
        Ok(Invitation { url: format!("{base}/console/invitations/{token}"), expires_at })
    }

    /// Whom the invitation `token` is for, while it is open.
    pub async fn invitation(&self, token: &str) -> Result<Invited> {
        let (token_hash, now) = (hash_token(token), self.now());
        let found = self.db(move |conn| Ok(store::open_invitation(conn, &token_hash, now)?)).await?;
        let (_, agent, tenant) = found.ok_or(ServiceError::NotFound("invitation"))?;
        Ok(Invited { name: agent.name, email: agent.email, subdomain: tenant.subdomain })
    }

    /// Chooses the invited agent's password; the invitation is used up.
    pub async fn accept_invitation(&self, token: &str, password: Option<String>) -> Result<Invited> {
        let password = check_password(password.as_deref())?.to_owned();
        let invited = self.invitation(token).await?;
        let hashed = hash(password).await?;
        let (token_hash, now) = (hash_token(token), self.now());
        self.write(move |conn| {
            sms_store::transaction(conn, |conn| {
                // Read again inside the write: a link used twice at once sets one password.
                let (_, agent, _) =
                    store::open_invitation(conn, &token_hash, now)?.ok_or(ServiceError::NotFound("invitation"))?;
                Ok(store::set_password(conn, agent.id, &hashed, now)?)
            })
        })
        .await?;
        Ok(invited)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_against_its_hash_only() {
        let stored = hash("correct horse battery".into()).await.expect("hashed");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify(Some(stored.clone()), "correct horse battery".into()).await);
        assert!(!verify(Some(stored), "correct horse battery!".into()).await);
        assert!(!verify(None, "correct horse battery".into()).await);
    }

    #[test]
    fn the_stand_in_hash_parses() {
        assert!(PasswordHash::new(NO_PASSWORD).is_ok());
    }
}
