-- The keys every send checked, one lookup and one row lock each: a chat's to its end user, its
-- participant's and its first message's to the chat, and each event delivery's to its event
-- (five a send; a tenth of what PostgreSQL spends on the send's statement, counted by
-- bench/pg_instructions.sh: BENCHMARKS.md, 2026-12-08, nineteenth session).
--
-- No write can break what they guarded: end users and chats are never deleted (chats end,
-- tenants are deactivated); every participant, message and delivery is written for a row of the
-- same statement or transaction, or of a chat it read; an event is deleted only by the purge,
-- once it is past the retention and has no delivery left, and a delivery is only ever written
-- together with its event. Their ON DELETE CASCADE never ran. SQLite, which checks keys without
-- locking rows, keeps them all (as after `hot_parent_keys`).
ALTER TABLE chats DROP CONSTRAINT chats_end_user_id_fkey;
ALTER TABLE participants DROP CONSTRAINT participants_chat_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_chat_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_id_fkey;
