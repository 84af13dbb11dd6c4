-- A tenant can be switched off without deleting anything.
ALTER TABLE tenants ADD COLUMN active BOOLEAN NOT NULL DEFAULT 1;
-- The request that holds an idempotency key's lease: only it may record the answer or give
-- the key up.
ALTER TABLE idempotency_keys ADD COLUMN lease_token TEXT;
-- A wrong API token costs one probe of this index.
CREATE INDEX api_tokens_hash ON api_tokens (token_hash);
-- The consumer's chats, whatever their status (who holds a lock, lists by number).
CREATE INDEX chats_end_user ON chats (end_user_id);
