-- US texting rules. A tenant's automatic answers to HELP, opt-out and opt-in keywords (null: no
-- answer), and its quiet hours ("HH:MM" in the consumer's local time; both null: none).
ALTER TABLE tenants ADD COLUMN help_text TEXT;
ALTER TABLE tenants ADD COLUMN opt_out_text TEXT;
ALTER TABLE tenants ADD COLUMN opt_in_text TEXT;
ALTER TABLE tenants ADD COLUMN quiet_hours_start TEXT;
ALTER TABLE tenants ADD COLUMN quiet_hours_end TEXT;

-- An automatic answer goes out whether or not the consumer has an active chat: a message may
-- belong to no chat. `automatic` names the keyword it answers (help, opt_out, opt_in); the
-- opt-out confirmation is the one message sent to an opted-out number.
ALTER TABLE messages ALTER COLUMN chat_id DROP NOT NULL;
ALTER TABLE messages ADD COLUMN automatic TEXT;

-- Inbound callbacks already taken, by Twilio's MessageSid: a replay changes nothing.
CREATE TABLE inbound_receipts (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    message_sid TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (tenant_id, message_sid)
);
CREATE INDEX inbound_receipts_created ON inbound_receipts (created_at);
