-- Hardening, round two (SPEC version 3).
-- The receipt of a keyword message (opt-out, opt-in, help) is kept as long as the tenant exists,
-- so that no replay of it ever takes effect again; other receipts are purged after 30 days.
ALTER TABLE inbound_receipts ADD COLUMN keyword BOOLEAN NOT NULL DEFAULT 0;
-- Every tenant JWT issued up to this moment is refused (POST …/jwt/revoke).
ALTER TABLE tenants ADD COLUMN jwt_revoked_at TIMESTAMP;
-- An endpoint's format ("standard" or "ccai"), and since when it is disabled: its waiting
-- deliveries fail after SMS_EVENTS_DISABLED_RETENTION_HOURS.
ALTER TABLE webhook_endpoints ADD COLUMN format TEXT NOT NULL DEFAULT 'standard';
ALTER TABLE webhook_endpoints ADD COLUMN disabled_at TIMESTAMP;
UPDATE webhook_endpoints SET disabled_at = updated_at WHERE disabled;
-- A number taken away: its active chats and its unsent messages are found by number.
CREATE INDEX messages_unsent_by_number ON messages (tenant_id, from_number)
    WHERE delivery_status IN ('queued', 'sending');
