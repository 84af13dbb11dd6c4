-- pgbench (-M prepared): the least durable work of the whole job for one SMS, on
-- bench/least_work_schema.sql, one SMS at a time in two commits, as a service that batches
-- nothing would do it:
-- 1. the send: upsert the consumer, insert the chat under the partial unique index, its
--    participant, its first message (the outbox row), the chat.created event and its delivery
--    to the one endpoint; commit (the request is answered here);
-- 2. sent and told: the message marked sent, its message.status_updated event and delivery, both
--    deliveries marked delivered; commit.
-- The payloads are as long as the service's (about 300 bytes); no ":" before a letter or digit
-- in them, which pgbench would read as a variable.
BEGIN;
INSERT INTO lw_end_users (tenant_id, number) VALUES (1, '+1' || (4150000000 + nextval('lw_numbers')))
    ON CONFLICT (tenant_id, number) DO UPDATE SET number = excluded.number
    RETURNING id AS end_user_id \gset
INSERT INTO lw_chats (tenant_id, end_user_id, status) VALUES (1, :end_user_id, 'selecting')
    RETURNING id AS chat_id \gset
INSERT INTO lw_participants (chat_id, end_user_id) VALUES (:chat_id, :end_user_id);
INSERT INTO lw_messages (chat_id, body, status) VALUES (:chat_id, 'lorem ipsum', 'queued')
    RETURNING id AS message_id \gset
INSERT INTO lw_events (tenant_id, type, payload) VALUES (1, 'chat.created',
    '{"type":"chat.created","id":"evt_00000000000000000000000000","created_at":"2026-12-05T10.00.00.000Z","data":{"chat":{"id":' || :chat_id || ',"status":"selecting","end_user_number":"+14155550100","outbound_number":"+16285550199","agent_id": null,"lang":"en","ticket_id": null}}}')
    RETURNING id AS created_event \gset
INSERT INTO lw_deliveries (event_id, status) VALUES (:created_event, 'pending') RETURNING id AS created_delivery \gset
END;
BEGIN;
UPDATE lw_messages SET status = 'sent' WHERE id = :message_id;
INSERT INTO lw_events (tenant_id, type, payload) VALUES (1, 'message.status_updated',
    '{"type":"message.status_updated","id":"evt_00000000000000000000000001","created_at":"2026-12-05T10.00.00.100Z","data":{"message":{"id":' || :message_id || ',"chat_id":' || :chat_id || ',"status":"sent","provider_message_id":"SM00000000000000000000000000000000"}}}')
    RETURNING id AS status_event \gset
INSERT INTO lw_deliveries (event_id, status) VALUES (:status_event, 'pending') RETURNING id AS status_delivery \gset
UPDATE lw_deliveries SET status = 'delivered' WHERE id IN (:created_delivery, :status_delivery);
END;
