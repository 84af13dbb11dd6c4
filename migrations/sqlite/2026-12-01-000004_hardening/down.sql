DROP INDEX chats_end_user;
DROP INDEX api_tokens_hash;
ALTER TABLE idempotency_keys DROP COLUMN lease_token;
ALTER TABLE tenants DROP COLUMN active;
