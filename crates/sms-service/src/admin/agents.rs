//! A tenant's agents; e-mails are unique per tenant, case-insensitively.

use sms_domain::admin::{AgentDraft, AgentUpdate, ConsoleRole};
use sms_domain::{AgentId, AgentStatus};
use sms_store::{Agent, AgentChanges, NewAgent};

use crate::error::{conflict_as, Result, ServiceError};
use crate::{PageQuery, Service};

const EMAIL_TAKEN: &str = "an agent with this email already exists";

impl Service {
    pub async fn add_agent(&self, subdomain: &str, draft: AgentDraft) -> Result<Agent> {
        self.for_tenant_writing(subdomain, move |conn, tenant, now| {
            let new = NewAgent {
                tenant_id: tenant.id,
                email_lower: draft.email.to_lowercase(),
                email: draft.email,
                first_name: draft.first_name,
                last_name: draft.last_name,
                name: draft.name,
                agent_number: draft.agent_number,
                avatar_url: draft.avatar_url,
                status: AgentStatus::Active,
                created_at: now,
                status_updated_at: now,
            };
            sms_store::agents::create(conn, &new).map_err(conflict_as(EMAIL_TAKEN))
        })
        .await
    }

    pub async fn agents(&self, subdomain: &str, page: &PageQuery) -> Result<(Vec<Agent>, i64)> {
        let window = page.window()?;
        self.for_tenant(subdomain, move |conn, tenant, _| Ok(sms_store::agents::list(conn, tenant.id, window)?)).await
    }

    pub async fn agent(&self, subdomain: &str, id: AgentId) -> Result<Agent> {
        self.for_tenant(subdomain, move |conn, tenant, _| {
            sms_store::agents::find(conn, tenant.id, id)?.ok_or(ServiceError::NotFound("agent"))
        })
        .await
    }

    /// Changes an agent; a deactivated agent can no longer be assigned a chat.
    pub async fn update_agent(&self, subdomain: &str, id: AgentId, update: AgentUpdate) -> Result<Agent> {
        let changes = AgentChanges {
            email_lower: update.email.as_ref().map(|e| e.to_lowercase()),
            email: update.email,
            first_name: update.first_name,
            last_name: update.last_name,
            name: update.name,
            agent_number: update.agent_number,
            avatar_url: update.avatar_url,
            status: update.status.map(AgentStatus::as_str),
            console_role: update.console_role.map(ConsoleRole::as_str),
        };
        self.for_tenant_writing(subdomain, move |conn, tenant, now| {
            sms_store::agents::update(conn, tenant.id, id, &changes, now)
                .map_err(conflict_as(EMAIL_TAKEN))?
                .ok_or(ServiceError::NotFound("agent"))
        })
        .await
    }
}
