-- Opening a chat and writing its `chat.created` event on PostgreSQL in one statement, outside
-- any transaction (see at_once.rs, which binds $1 to $27 in order and puts the fragments named
-- by the markers below where they stand). The chat's ids come from the tables' own sequences
-- (`ids`), as an insert takes them; the consumer's end user is the tenant's one for the number,
-- or a new one. The event's payload, rendered by the application with stand-in ids, comes cut
-- where they stood (`pieces`, and in `slots` which id goes after each), and is joined here with
-- the real ones. Every table check the send makes travels with it: the outbound number is the
-- tenant's; the consumer has not opted out; no `ccai` endpoint of the tenant receives one of
-- the types whose platform events must commit with the chat. An end user for the number
-- written meanwhile by someone else stops the statement. The chat is not inserted when the
-- consumer has an active chat (the partial unique index). Nothing at all is written unless the
-- chat is: no row then, and the caller takes the transactional way, which answers why.
WITH v AS (
    SELECT $1::bigint AS tenant, $2::text AS end_user, $3::text AS outbound, $4::timestamp AS now,
           $5::text AS chat_type, $6::text AS lang, $7::text AS status, $8::text AS ticket,
           $9::text AS disconnected_by, $10::text AS lock_token, $11::timestamp AS expires_at,
           $12::text AS message, $13::integer AS segments, $14::text AS end_user_kind,
           $15::text AS connected, $16::text AS direction, $17::text AS queued,
           $18::text AS event_id, $19::text AS kind, $20::text[] AS pieces, $21::text[] AS slots,
           $22::timestamp AS at, $23::timestamp AS lease, $24::text AS ccai, $25::text[] AS unless_ccai_receives,
           $26::timestamp AS message_lease, $27::text AS sending
), ids AS (
    SELECT v.*, nextval('chats_id_seq') AS chat_id, nextval('participants_id_seq') AS participant_id,
           e.id IS NOT NULL AS end_user_known,
           CASE WHEN e.id IS NULL THEN nextval('end_users_id_seq') ELSE e.id END AS end_user_id
    FROM v LEFT JOIN end_users e ON e.tenant_id = v.tenant AND e.number = v.end_user
), p AS (
    SELECT ids.*,
           (SELECT string_agg(u.piece || CASE u.slot WHEN 'chat' THEN ids.chat_id::text
                                                     WHEN 'end_user' THEN ids.end_user_id::text
                                                     WHEN 'participant' THEN ids.participant_id::text
                                                     ELSE '' END, '' ORDER BY u.n)
            FROM unnest(ids.pieces, ids.slots) WITH ORDINALITY AS u(piece, slot, n)) AS payload
    FROM ids
), ok AS (
    SELECT 1 FROM p
    WHERE EXISTS (SELECT 1 FROM outbound_numbers o WHERE o.tenant_id = p.tenant AND o.number = p.outbound)
      AND NOT EXISTS (SELECT 1 FROM opt_outs x WHERE x.tenant_id = p.tenant AND x.number = p.end_user)
      AND NOT EXISTS (SELECT 1 FROM webhook_endpoints c
                      WHERE c.tenant_id = p.tenant AND c.format = p.ccai
                        AND string_to_array(c.events, ' ') && p.unless_ccai_receives)
), end_user AS (
    INSERT INTO end_users (id, tenant_id, number, created_at)
    SELECT p.end_user_id, p.tenant, p.end_user, p.now FROM p, ok WHERE NOT p.end_user_known
    ON CONFLICT DO NOTHING
    RETURNING id
), chats AS (
    INSERT INTO chats (id, tenant_id, end_user_id, agent_id, chat_type, lang, status, outbound_number, ticket_id,
                       disconnected_by, lock_token, created_at, assigned_at, last_activity_at, expires_at,
                       updated_at)
    SELECT p.chat_id, p.tenant, p.end_user_id, NULL, p.chat_type, p.lang, p.status, p.outbound, p.ticket,
           p.disconnected_by, p.lock_token, p.now, NULL, p.now, p.expires_at, p.now
    FROM p, ok WHERE p.end_user_known OR EXISTS (SELECT 1 FROM end_user)
    ON CONFLICT DO NOTHING
    RETURNING *
), parts AS (
    INSERT INTO participants (id, chat_id, kind, status, user_id, end_user_id, connected_at)
    SELECT p.participant_id, chats.id, p.end_user_kind, p.connected, NULL, chats.end_user_id, p.now FROM p, chats
), message AS (
    -- Queued for any worker's claim, or leased to this instance's delivery worker (its first
    -- attempt counted), as a claim would have left it.
    INSERT INTO messages (chat_id, tenant_id, direction, body, segments, delivery_status, created_at, updated_at,
                          from_number, to_number, agent_id, locked_until, attempts)
    SELECT chats.id, p.tenant, p.direction, p.message, p.segments,
           CASE WHEN p.message_lease IS NULL THEN p.queued ELSE p.sending END, p.now, p.now, p.outbound, p.end_user,
           NULL, p.message_lease, CASE WHEN p.message_lease IS NULL THEN 0 ELSE 1 END
    FROM p, chats
    RETURNING id
), w AS (
    /* standard receivers */ AND EXISTS (SELECT 1 FROM chats)
), /* event and deliveries */
SELECT /* chat columns */, (SELECT participant_id FROM p), (SELECT count(*) FROM d) AS deliveries, (SELECT array_agg(id) FROM d) AS ids,
       (SELECT id FROM message) AS message_id
FROM chats
