-- Foreign keys that every hot write checked against one row shared by all the tenant's writes.
-- PostgreSQL checks a key by locking the referenced row (FOR KEY SHARE) until the writing
-- transaction ends; when many of one tenant's transactions are under way at once, each lock
-- of its tenant's row (and of its webhook endpoint's) makes a new multixact and rewrites that
-- row's lock: one run of the bench's PostgreSQL part made about 115,000 multixacts, and none
-- without these keys, whose sends then cost the machine about 14 % less CPU each (BENCHMARKS.md,
-- 2026-12-07).
--
-- What they guarded is kept otherwise: every tenant_id written here comes from the tenant a
-- request authenticated (or from the row it acts on), and tenants are never deleted (they are
-- deactivated), so none can dangle. A delivery written for an endpoint deleted at that moment is
-- never claimed (claims join the endpoint) and is purged with the finished ones. The keys to a
-- row of the writing transaction's own or of one conversation (chats, end users, events) stay,
-- and so does every key on SQLite, which checks keys without locking rows.
ALTER TABLE end_users DROP CONSTRAINT end_users_tenant_id_fkey;
ALTER TABLE chats DROP CONSTRAINT chats_tenant_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_tenant_id_fkey;
ALTER TABLE events DROP CONSTRAINT events_tenant_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_tenant_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_id_fkey;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_tenant_id_fkey;
ALTER TABLE inbound_receipts DROP CONSTRAINT inbound_receipts_tenant_id_fkey;
