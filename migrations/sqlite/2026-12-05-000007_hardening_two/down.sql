DROP INDEX messages_unsent_by_number;
ALTER TABLE webhook_endpoints DROP COLUMN disabled_at;
ALTER TABLE webhook_endpoints DROP COLUMN format;
ALTER TABLE tenants DROP COLUMN jwt_revoked_at;
ALTER TABLE inbound_receipts DROP COLUMN keyword;
