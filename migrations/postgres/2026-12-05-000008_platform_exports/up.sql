-- The platform's own API shapes (SPEC section 13). A chat's last change of any kind (status,
-- assignment, a message either way, a message's delivery status, its end), which an incremental
-- export asks for; when an outbound message was sent; when an agent's status last changed.
ALTER TABLE chats ADD COLUMN updated_at TIMESTAMP;
UPDATE chats SET updated_at = GREATEST(created_at, COALESCE(assigned_at, created_at), COALESCE(ends_at, created_at),
                                       last_activity_at);
UPDATE chats SET updated_at = GREATEST(updated_at, (SELECT MAX(messages.updated_at) FROM messages
                                                    WHERE messages.chat_id = chats.id))
    WHERE EXISTS (SELECT 1 FROM messages WHERE messages.chat_id = chats.id);
ALTER TABLE chats ALTER COLUMN updated_at SET NOT NULL;
ALTER TABLE messages ADD COLUMN sent_at TIMESTAMP;
UPDATE messages SET sent_at = updated_at WHERE direction = 'outbound' AND delivery_status IN ('sent', 'delivered', 'undelivered');
ALTER TABLE agents ADD COLUMN status_updated_at TIMESTAMP;
UPDATE agents SET status_updated_at = created_at;
ALTER TABLE agents ALTER COLUMN status_updated_at SET NOT NULL;
-- The exports page through a tenant's chats and agents in these orders, ties broken by id.
CREATE INDEX chats_by_tenant_id ON chats (tenant_id, id);
CREATE INDEX chats_by_tenant_created ON chats (tenant_id, created_at, id);
CREATE INDEX chats_by_tenant_updated ON chats (tenant_id, updated_at, id);
CREATE INDEX chats_by_agent ON chats (agent_id) WHERE agent_id IS NOT NULL;
CREATE INDEX agents_by_tenant_status_updated ON agents (tenant_id, status_updated_at, id);
-- Each endpoint's due deliveries in order, read from the index: claiming costs the same whatever
-- the backlog.
CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries (endpoint_id, next_attempt_at, id) WHERE status = 'pending';
