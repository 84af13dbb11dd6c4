-- Opening a chat on PostgreSQL in one statement (see postgres.rs, which binds $1 to $20 in
-- order and puts the chat's columns, from the model, where the marker below stands).
-- Data-modifying CTEs make the send's table checks (the outbound number is the tenant's; the
-- consumer has not opted out), upsert the consumer's end user, insert the chat (nothing when
-- the consumer has an active chat: the partial unique index), its participants and its first
-- message. The CTE that inserts the chat is named `chats`, so the outer query's `chats` columns
-- are the new chat's. No row: a check refused, or the consumer is busy (the caller asks which).
WITH p AS (
    SELECT $1::bigint AS tenant, $2::text AS end_user, $3::text AS outbound, $4::timestamp AS now,
           $5::bigint AS agent, $6::text AS chat_type, $7::text AS lang, $8::text AS status,
           $9::text AS ticket, $10::text AS disconnected_by, $11::text AS lock_token,
           $12::timestamp AS assigned_at, $13::timestamp AS expires_at, $14::text AS message,
           $15::integer AS segments, $16::text AS end_user_kind, $17::text AS agent_kind,
           $18::text AS connected, $19::text AS direction, $20::text AS queued
), end_user AS (
    INSERT INTO end_users (tenant_id, number, created_at)
    SELECT p.tenant, p.end_user, p.now FROM p
    WHERE EXISTS (SELECT 1 FROM outbound_numbers
                  WHERE outbound_numbers.tenant_id = p.tenant AND outbound_numbers.number = p.outbound)
      AND NOT EXISTS (SELECT 1 FROM opt_outs WHERE opt_outs.tenant_id = p.tenant AND opt_outs.number = p.end_user)
    ON CONFLICT (tenant_id, number) DO UPDATE SET number = excluded.number
    RETURNING id
), chats AS (
    INSERT INTO chats (tenant_id, end_user_id, agent_id, chat_type, lang, status, outbound_number, ticket_id,
                       disconnected_by, lock_token, created_at, assigned_at, last_activity_at, expires_at,
                       updated_at)
    SELECT p.tenant, end_user.id, p.agent, p.chat_type, p.lang, p.status, p.outbound, p.ticket,
           p.disconnected_by, p.lock_token, p.now, p.assigned_at, p.now, p.expires_at, p.now FROM p, end_user
    ON CONFLICT DO NOTHING
    RETURNING *
), parts AS (
    INSERT INTO participants (chat_id, kind, status, user_id, end_user_id, connected_at)
    SELECT chats.id, p.end_user_kind, p.connected, NULL, chats.end_user_id, p.now FROM p, chats
    UNION ALL
    SELECT chats.id, p.agent_kind, p.connected, p.agent, NULL, p.now FROM p, chats WHERE p.agent IS NOT NULL
    RETURNING id, kind
), message AS (
    INSERT INTO messages (chat_id, tenant_id, direction, body, segments, delivery_status, created_at, updated_at,
                          from_number, to_number, agent_id)
    SELECT chats.id, p.tenant, p.direction, p.message, p.segments, p.queued, p.now, p.now, p.outbound, p.end_user,
           p.agent
    FROM p, chats
)
SELECT /* chat columns */,
       (SELECT parts.id FROM parts, p WHERE parts.kind = p.end_user_kind) AS end_user_participant_id,
       (SELECT parts.id FROM parts, p WHERE parts.kind = p.agent_kind) AS agent_participant_id
FROM chats
