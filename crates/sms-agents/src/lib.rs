//! Agent lookup: which agent of the tenant a request names, with the faults of the send's agent
//! check (unknown, two different agents, deactivated).
//!
//! The lookup is written against the [`AgentDirectory`] trait so its rules are tested without a
//! database; the store implements the trait for a pooled connection.

use sms_domain::{AgentId, AgentSelector, SmsError, TenantId};
use sms_store::{Agent, DbConn, StoreError};

/// Where agents are found.
pub trait AgentDirectory {
    fn by_id(&mut self, tenant_id: TenantId, id: AgentId) -> Result<Option<Agent>, StoreError>;
    /// Case-insensitive.
    fn by_email(&mut self, tenant_id: TenantId, email: &str) -> Result<Option<Agent>, StoreError>;
}

impl AgentDirectory for DbConn {
    fn by_id(&mut self, tenant_id: TenantId, id: AgentId) -> Result<Option<Agent>, StoreError> {
        sms_store::agents::find(self, tenant_id, id)
    }

    fn by_email(&mut self, tenant_id: TenantId, email: &str) -> Result<Option<Agent>, StoreError> {
        sms_store::agents::find_by_email(self, tenant_id, email)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// A fault the client answers for (400).
    #[error(transparent)]
    Rejected(SmsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Resolves the agent a request asks for. Each of id and e-mail that is given must name an
/// agent of the tenant; both given must name the same one; the agent must be active.
pub fn resolve(
    directory: &mut impl AgentDirectory,
    tenant_id: TenantId,
    selector: &AgentSelector,
) -> Result<Option<Agent>, LookupError> {
    let by_id = match selector.id {
        Some(id) => Some(directory.by_id(tenant_id, id)?.ok_or(LookupError::Rejected(SmsError::AgentNotFound))?),
        None => None,
    };
    let by_email = match selector.email.as_deref() {
        Some(email) => {
            Some(directory.by_email(tenant_id, email)?.ok_or(LookupError::Rejected(SmsError::AgentNotFound))?)
        }
        None => None,
    };
    let agent = match (by_id, by_email) {
        (Some(a), Some(b)) if a.id != b.id => return Err(LookupError::Rejected(SmsError::AgentMismatch)),
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => return Ok(None),
    };
    if !agent.is_active() {
        return Err(LookupError::Rejected(SmsError::AgentInactive));
    }
    Ok(Some(agent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;
    use sms_domain::AgentStatus;

    struct Fake(Vec<Agent>);

    impl AgentDirectory for Fake {
        fn by_id(&mut self, tenant_id: TenantId, id: AgentId) -> Result<Option<Agent>, StoreError> {
            Ok(self.0.iter().find(|a| a.tenant_id == tenant_id && a.id == id).cloned())
        }
        fn by_email(&mut self, tenant_id: TenantId, email: &str) -> Result<Option<Agent>, StoreError> {
            let lower = email.to_lowercase();
            Ok(self.0.iter().find(|a| a.tenant_id == tenant_id && a.email_lower == lower).cloned())
        }
    }

    /// The tenant the lookups are made for.
    const TENANT: TenantId = TenantId::new(10);

    fn agent(id: i64, tenant_id: i64, email: &str, status: AgentStatus) -> Agent {
        Agent {
            id: id.into(),
            tenant_id: tenant_id.into(),
            email: email.into(),
            email_lower: email.to_lowercase(),
            first_name: "John".into(),
            last_name: "Doe".into(),
            name: "John Doe".into(),
            agent_number: None,
            avatar_url: None,
            status,
            created_at: NaiveDateTime::default(),
            status_updated_at: NaiveDateTime::default(),
            console_role: sms_domain::admin::ConsoleRole::Agent,
            password_set_at: None,
        }
    }

    fn directory() -> Fake {
        Fake(vec![
            agent(1, 10, "John.Doe@foo.com", AgentStatus::Active),
            agent(2, 10, "jane@foo.com", AgentStatus::Active),
            agent(3, 10, "gone@foo.com", AgentStatus::Deactivated),
            agent(4, 20, "other@bar.com", AgentStatus::Active),
        ])
    }

    fn sel(id: Option<i64>, email: Option<&str>) -> AgentSelector {
        AgentSelector { id: id.map(AgentId::new), email: email.map(str::to_owned) }
    }

    fn rejected(result: Result<Option<Agent>, LookupError>) -> SmsError {
        match result {
            Err(LookupError::Rejected(e)) => e,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    fn found(result: Result<Option<Agent>, LookupError>) -> Option<i64> {
        result.unwrap().map(|a| a.id.get())
    }

    #[test]
    fn nothing_asked_nothing_found() {
        assert_eq!(found(resolve(&mut directory(), TENANT, &sel(None, None))), None);
    }

    #[test]
    fn by_id_and_by_email_case_insensitively() {
        assert_eq!(found(resolve(&mut directory(), TENANT, &sel(Some(1), None))), Some(1));
        assert_eq!(found(resolve(&mut directory(), TENANT, &sel(None, Some("JOHN.DOE@FOO.COM")))), Some(1));
        assert_eq!(found(resolve(&mut directory(), TENANT, &sel(Some(1), Some("john.doe@foo.com")))), Some(1));
    }

    #[test]
    fn another_tenants_agent_is_not_found() {
        assert_eq!(rejected(resolve(&mut directory(), TENANT, &sel(Some(4), None))), SmsError::AgentNotFound);
        assert_eq!(
            rejected(resolve(&mut directory(), TENANT, &sel(None, Some("other@bar.com")))),
            SmsError::AgentNotFound
        );
    }

    #[test]
    fn faults_in_order() {
        // A missing id wins over a mismatch and over an inactive agent.
        assert_eq!(
            rejected(resolve(&mut directory(), TENANT, &sel(Some(99), Some("gone@foo.com")))),
            SmsError::AgentNotFound
        );
        assert_eq!(
            rejected(resolve(&mut directory(), TENANT, &sel(Some(1), Some("nobody@foo.com")))),
            SmsError::AgentNotFound
        );
        // Both found but different: mismatch, even when one is inactive.
        assert_eq!(
            rejected(resolve(&mut directory(), TENANT, &sel(Some(1), Some("jane@foo.com")))),
            SmsError::AgentMismatch
        );
        assert_eq!(
            rejected(resolve(&mut directory(), TENANT, &sel(Some(3), Some("jane@foo.com")))),
            SmsError::AgentMismatch
        );
        // Then the status.
        assert_eq!(rejected(resolve(&mut directory(), TENANT, &sel(Some(3), None))), SmsError::AgentInactive);
        assert_eq!(
            rejected(resolve(&mut directory(), TENANT, &sel(Some(3), Some("GONE@foo.com")))),
            SmsError::AgentInactive
        );
        assert_eq!(SmsError::AgentNotFound.to_string(), "agent is not found");
        assert_eq!(SmsError::AgentMismatch.to_string(), "agentId and agentEmail refer to different agents");
        assert_eq!(SmsError::AgentInactive.to_string(), "agent is not active");
    }
}
