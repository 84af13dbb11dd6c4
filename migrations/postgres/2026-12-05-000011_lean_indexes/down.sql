CREATE INDEX chats_tenant_id ON chats (tenant_id, id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
