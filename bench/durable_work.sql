-- pgbench: the durable work of one POST /apps/api/v1/sms, as SQL: upsert the end user, insert
-- the chat under the partial unique index, its participant and its first message, commit.
-- Numbers come from a sequence so no two transactions share a consumer (as in the wrk run).
-- The message is due at 'infinity', so the running server's delivery worker never claims it
-- (bench/run.sh deletes these rows after each run): the same row and index entries as a send's,
-- without adding work for the worker to the endpoint's next round.
BEGIN;
INSERT INTO end_users (tenant_id, number, created_at)
    VALUES (:tenant, '+1' || (4150000000 + nextval('bench_numbers')), now())
    ON CONFLICT (tenant_id, number) DO UPDATE SET number = excluded.number
    RETURNING id AS end_user_id \gset
INSERT INTO chats (tenant_id, end_user_id, chat_type, lang, status, outbound_number, disconnected_by,
                   lock_token, created_at, last_activity_at, expires_at, updated_at)
    VALUES (:tenant, :end_user_id, 'Messaging (SMS)', 'en', 'selecting', '+16285550199', 'disconnected_by_unknown',
            md5(random()::text), now(), now(), now() + interval '1 day', now())
    RETURNING id AS chat_id \gset
INSERT INTO participants (chat_id, kind, status, end_user_id, connected_at)
    VALUES (:chat_id, 'end_user', 'connected', :end_user_id, now());
INSERT INTO messages (chat_id, tenant_id, direction, body, segments, delivery_status, created_at, updated_at,
                      from_number, to_number, next_attempt_at)
    VALUES (:chat_id, :tenant, 'outbound', 'lorem ipsum', 1, 'queued', now(), now(), '+16285550199', '+14150000000',
            'infinity');
COMMIT;
