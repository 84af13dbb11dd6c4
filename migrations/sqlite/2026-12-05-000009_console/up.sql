-- The console (SPEC section 14): agents' console roles and passwords, one-time invitations,
-- and server-side sessions, kept in the database so that any instance serves them.
ALTER TABLE agents ADD COLUMN console_role TEXT NOT NULL DEFAULT 'agent';
ALTER TABLE agents ADD COLUMN password_set_at TIMESTAMP;
-- Apart from the agent's row, so that no read of an agent ever carries the hash.
CREATE TABLE console_credentials (
    agent_id BIGINT PRIMARY KEY REFERENCES agents (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    failed_count INTEGER NOT NULL DEFAULT 0,
    failures_since TIMESTAMP,
    locked_until TIMESTAMP
);
CREATE TABLE console_invitations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    agent_id BIGINT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX console_invitations_by_agent ON console_invitations (agent_id);
-- A session: an agent's (agent_id set) or an operator's (operator set; tenant_id is the tenant
-- they chose). Only the token's SHA-256 is kept.
CREATE TABLE console_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    csrf_token TEXT NOT NULL,
    agent_id BIGINT REFERENCES agents (id) ON DELETE CASCADE,
    operator TEXT,
    tenant_id BIGINT REFERENCES tenants (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP
);
CREATE INDEX console_sessions_by_agent ON console_sessions (agent_id) WHERE agent_id IS NOT NULL;
CREATE INDEX console_sessions_by_last_seen ON console_sessions (last_seen_at);
-- The conversation list: a tenant's chats by latest activity.
CREATE INDEX chats_by_tenant_activity ON chats (tenant_id, last_activity_at DESC, id DESC);
