-- Indexes every write of a chat or an event delivery paid for and no query needed:
-- chats_tenant_id is chats_by_tenant_id's twin (tenant_id, id); every read of the pending
-- deliveries is per endpoint, which webhook_deliveries_endpoint_due serves in order
-- (BENCHMARKS.md, 2026-12-05: the whole job against its least durable work).
DROP INDEX chats_tenant_id;
DROP INDEX webhook_deliveries_due;
