-- pgbench (-M prepared): the least durable work of one SMS on bench/least_work_schema.sql. In one
-- transaction: upsert the consumer by (tenant, number), insert the chat under the partial unique
-- index, its participant and its first message (the outbox row), commit.
BEGIN;
INSERT INTO lw_end_users (tenant_id, number) VALUES (1, '+1' || (4150000000 + nextval('lw_numbers')))
    ON CONFLICT (tenant_id, number) DO UPDATE SET number = excluded.number
    RETURNING id AS end_user_id \gset
INSERT INTO lw_chats (tenant_id, end_user_id, status) VALUES (1, :end_user_id, 'selecting')
    RETURNING id AS chat_id \gset
INSERT INTO lw_participants (chat_id, end_user_id) VALUES (:chat_id, :end_user_id);
INSERT INTO lw_messages (chat_id, body, status) VALUES (:chat_id, 'lorem ipsum', 'queued');
END;
