-- US texting rules. A tenant's automatic answers to HELP, opt-out and opt-in keywords (null: no
-- answer), and its quiet hours ("HH:MM" in the consumer's local time; both null: none).
ALTER TABLE tenants ADD COLUMN help_text TEXT;
ALTER TABLE tenants ADD COLUMN opt_out_text TEXT;
ALTER TABLE tenants ADD COLUMN opt_in_text TEXT;
ALTER TABLE tenants ADD COLUMN quiet_hours_start TEXT;
ALTER TABLE tenants ADD COLUMN quiet_hours_end TEXT;

-- An automatic answer goes out whether or not the consumer has an active chat: a message may
-- belong to no chat. `automatic` names the keyword it answers (help, opt_out, opt_in); the
-- opt-out confirmation is the one message sent to an opted-out number. SQLite cannot drop a
-- NOT NULL: the table is rebuilt, with its indexes (no table refers to messages).
CREATE TABLE messages_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id BIGINT REFERENCES chats (id) ON DELETE CASCADE,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    direction TEXT NOT NULL,
    body TEXT NOT NULL,
    segments INTEGER NOT NULL,
    delivery_status TEXT NOT NULL,
    provider_message_id TEXT,
    error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    from_number TEXT NOT NULL DEFAULT '',
    to_number TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    locked_until TIMESTAMP,
    agent_id BIGINT REFERENCES agents (id),
    media TEXT,
    automatic TEXT
);
INSERT INTO messages_new (id, chat_id, tenant_id, direction, body, segments, delivery_status, provider_message_id,
                          error, created_at, updated_at, from_number, to_number, attempts, next_attempt_at,
                          locked_until, agent_id, media)
    SELECT id, chat_id, tenant_id, direction, body, segments, delivery_status, provider_message_id, error,
           created_at, updated_at, from_number, to_number, attempts, next_attempt_at, locked_until, agent_id, media
    FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_chat ON messages (chat_id, id);
CREATE INDEX messages_outbox ON messages (id) WHERE delivery_status IN ('queued', 'sending');
CREATE INDEX messages_provider_id ON messages (tenant_id, provider_message_id);

-- Inbound callbacks already taken, by Twilio's MessageSid: a replay changes nothing.
CREATE TABLE inbound_receipts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    message_sid TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, message_sid)
);
CREATE INDEX inbound_receipts_created ON inbound_receipts (created_at);
