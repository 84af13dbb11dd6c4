DROP INDEX webhook_deliveries_endpoint_due;
DROP INDEX agents_by_tenant_status_updated;
DROP INDEX chats_by_agent;
DROP INDEX chats_by_tenant_updated;
DROP INDEX chats_by_tenant_created;
DROP INDEX chats_by_tenant_id;
ALTER TABLE agents DROP COLUMN status_updated_at;
ALTER TABLE messages DROP COLUMN sent_at;
ALTER TABLE chats DROP COLUMN updated_at;
