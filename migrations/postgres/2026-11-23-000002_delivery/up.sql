-- The outbox side of messages: who it goes to, how often it was tried, when to try again, and
-- the lease of the worker sending it (a crashed worker's lease runs out and the message is
-- claimed again).
ALTER TABLE messages ADD COLUMN from_number TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN to_number TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN next_attempt_at TIMESTAMP;
ALTER TABLE messages ADD COLUMN locked_until TIMESTAMP;
UPDATE messages SET from_number = c.outbound_number, to_number = e.number
    FROM chats c JOIN end_users e ON e.id = c.end_user_id WHERE c.id = messages.chat_id;
DROP INDEX messages_queued;
CREATE INDEX messages_outbox ON messages (id) WHERE delivery_status IN ('queued', 'sending');
CREATE INDEX messages_provider_id ON messages (tenant_id, provider_message_id);

-- Consumers who answered STOP, per tenant.
CREATE TABLE opt_outs (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    number TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, number)
);

-- Replies that found no active chat: kept, not lost.
CREATE TABLE unrouted_messages (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    body TEXT NOT NULL,
    provider_message_id TEXT,
    created_at TIMESTAMP NOT NULL
);
