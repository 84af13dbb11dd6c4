-- Replies inside a chat: who wrote an outbound message, and the media of an MMS, as a JSON
-- array of {"url", "content_type"} (null when there is none).
ALTER TABLE messages ADD COLUMN agent_id BIGINT REFERENCES agents (id);
ALTER TABLE messages ADD COLUMN media TEXT;
ALTER TABLE unrouted_messages ADD COLUMN media TEXT;

-- Event webhooks: a tenant's endpoints, each with the event types it receives (separated by
-- spaces) and its signing secret; while a secret is rotated the previous one signs too until
-- previous_secret_until.
CREATE TABLE webhook_endpoints (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, id);

-- What happened, once: the body every delivery of it posts, byte for byte.
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX events_created ON events (created_at);

-- One event to one endpoint: the events' outbox. A pending row is work for the event worker.
-- An instance that claims one moves next_attempt_at to the end of its lease; if it dies, the
-- delivery is due again then.
CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_error TEXT,
    next_attempt_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
