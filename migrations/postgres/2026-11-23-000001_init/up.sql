-- Tenants and everything they own. Timestamps are UTC without zone, millisecond precision.
CREATE TABLE tenants (
    id BIGSERIAL PRIMARY KEY,
    subdomain TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    lang TEXT NOT NULL,
    sms_enabled BOOLEAN NOT NULL,
    outbound_sms_enabled BOOLEAN NOT NULL,
    session_timeout_minutes INTEGER NOT NULL,
    rate_limit_per_second INTEGER NOT NULL,
    rate_limit_burst INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- API tokens are stored only as the hex SHA-256 of the token.
CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id);

-- A number belongs to one tenant only.
CREATE TABLE outbound_numbers (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    number TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX outbound_numbers_tenant ON outbound_numbers (tenant_id);

CREATE TABLE agents (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    email_lower TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    name TEXT NOT NULL,
    agent_number BIGINT,
    avatar_url TEXT,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, email_lower)
);

CREATE TABLE end_users (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    number TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, number)
);

CREATE TABLE chats (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    end_user_id BIGINT NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    agent_id BIGINT REFERENCES agents (id),
    chat_type TEXT NOT NULL,
    lang TEXT NOT NULL,
    status TEXT NOT NULL,
    outbound_number TEXT NOT NULL,
    ticket_id TEXT,
    disconnected_by TEXT NOT NULL,
    lock_token TEXT,
    created_at TIMESTAMP NOT NULL,
    assigned_at TIMESTAMP,
    ends_at TIMESTAMP,
    last_activity_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
-- The database backstop of the one-active-session rule (SPEC section 6).
CREATE UNIQUE INDEX chats_one_active_per_end_user ON chats (tenant_id, end_user_id)
    WHERE status IN ('selecting', 'queued', 'assigned');
CREATE INDEX chats_tenant_id ON chats (tenant_id, id);
CREATE INDEX chats_active_expiry ON chats (expires_at)
    WHERE status IN ('selecting', 'queued', 'assigned');

CREATE TABLE participants (
    id BIGSERIAL PRIMARY KEY,
    chat_id BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    user_id BIGINT,
    end_user_id BIGINT,
    connected_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP,
    chat_duration INTEGER
);
CREATE INDEX participants_chat ON participants (chat_id);

-- Messages double as the delivery outbox: a queued row is work for the delivery worker.
CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    chat_id BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    direction TEXT NOT NULL,
    body TEXT NOT NULL,
    segments INTEGER NOT NULL,
    delivery_status TEXT NOT NULL,
    provider_message_id TEXT,
    error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX messages_chat ON messages (chat_id, id);
CREATE INDEX messages_queued ON messages (id) WHERE delivery_status = 'queued';
