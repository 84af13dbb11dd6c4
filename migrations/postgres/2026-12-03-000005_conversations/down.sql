DROP TABLE webhook_deliveries;
DROP TABLE events;
DROP TABLE webhook_endpoints;
ALTER TABLE unrouted_messages DROP COLUMN media;
ALTER TABLE messages DROP COLUMN media;
ALTER TABLE messages DROP COLUMN agent_id;
