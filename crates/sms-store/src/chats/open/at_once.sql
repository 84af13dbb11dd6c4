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
--
-- Only what varies travels in rows: `v` (the values) is inlined wherever it is named, so its
-- columns are the bound parameters themselves; `ids` (the sequences' ids, taken once) and `p`
-- (what the shared event fragments read) are narrow. Every scan of a CTE carries all of its
-- columns: when `p` carried the values too, starting the executor was a third of the statement's
-- cost to PostgreSQL, building those rows' descriptors a tenth (BENCHMARKS.md, 2026-12-08,
-- nineteenth session).

WITH v AS NOT MATERIALIZED (
    SELECT $1::bigint AS tenant, $2::text AS end_user, $3::text AS outbound, $4::timestamp AS now,
           $5::text AS chat_type, $6::text AS lang, $7::text AS status, $8::text AS ticket,
           $9::text AS disconnected_by, $10::text AS lock_token, $11::timestamp AS expires_at,
           $12::text AS message, $13::integer AS segments, $14::text AS end_user_kind,
           $15::text AS connected, $16::text AS direction, $17::text AS queued,
           $18::text AS event_id, $19::text AS kind, $20::text[] AS pieces, $21::text[] AS slots,
           $22::timestamp AS at, $23::timestamp AS lease, $24::text AS ccai, $25::text[] AS unless_ccai_receives,
           $26::timestamp AS message_lease, $27::text AS sending
), ids AS MATERIALIZED (
    SELECT nextval('chats_id_seq') AS chat_id, nextval('participants_id_seq') AS participant_id,
           e.id IS NOT NULL AS end_user_known,
           CASE WHEN e.id IS NULL THEN nextval('end_users_id_seq') ELSE e.id END AS end_user_id
    FROM v LEFT JOIN end_users e ON e.tenant_id = v.tenant AND e.number = v.end_user
), p AS MATERIALIZED (
    SELECT v.tenant, v.event_id, v.kind, v.at, v.lease,
           (SELECT string_agg(u.piece || CASE u.slot WHEN 'chat' THEN ids.chat_id::text
                                                     WHEN 'end_user' THEN ids.end_user_id::text
                                                     WHEN 'participant' THEN ids.participant_id::text
                                                     ELSE '' END, '' ORDER BY u.n)
            FROM unnest(v.pieces, v.slots) WITH ORDINALITY AS u(piece, slot, n)) AS payload
    FROM v, ids
), ok AS (
    SELECT 1 FROM v
    WHERE EXISTS (SELECT 1 FROM outbound_numbers o WHERE o.tenant_id = v.tenant AND o.number = v.outbound)
      AND NOT EXISTS (SELECT 1 FROM opt_outs x WHERE x.tenant_id = v.tenant AND x.number = v.end_user)
      AND NOT EXISTS (SELECT 1 FROM webhook_endpoints c
                      WHERE c.tenant_id = v.tenant AND c.format = v.ccai
                        AND string_to_array(c.events, ' ') && v.unless_ccai_receives)
), end_user AS (
    INSERT INTO end_users (id, tenant_id, number, created_at)
    SELECT ids.end_user_id, v.tenant, v.end_user, v.now FROM v, ids
    WHERE NOT ids.end_user_known AND EXISTS (SELECT 1 FROM ok)
    ON CONFLICT DO NOTHING
    RETURNING id
), chats AS (
    INSERT INTO chats (id, tenant_id, end_user_id, agent_id, chat_type, lang, status, outbound_number, ticket_id,
                       disconnected_by, lock_token, created_at, assigned_at, last_activity_at, expires_at,
                       updated_at)
    SELECT ids.chat_id, v.tenant, ids.end_user_id, NULL, v.chat_type, v.lang, v.status, v.outbound, v.ticket,
           v.disconnected_by, v.lock_token, v.now, NULL, v.now, v.expires_at, v.now
    FROM v, ids WHERE EXISTS (SELECT 1 FROM ok) AND (ids.end_user_known OR EXISTS (SELECT 1 FROM end_user))
    ON CONFLICT DO NOTHING
    RETURNING *
), parts AS (
    INSERT INTO participants (id, chat_id, kind, status, user_id, end_user_id, connected_at)
    SELECT ids.participant_id, ids.chat_id, v.end_user_kind, v.connected, NULL, ids.end_user_id, v.now
    FROM v, ids WHERE EXISTS (SELECT 1 FROM chats)
), message AS (
    -- Queued for any worker's claim, or leased to this instance's delivery worker (its first
    -- attempt counted), as a claim would have left it.
    INSERT INTO messages (chat_id, tenant_id, direction, body, segments, delivery_status, created_at, updated_at,
                          from_number, to_number, agent_id, locked_until, attempts)
    SELECT ids.chat_id, v.tenant, v.direction, v.message, v.segments,
           CASE WHEN v.message_lease IS NULL THEN v.queued ELSE v.sending END, v.now, v.now, v.outbound, v.end_user,
           NULL, v.message_lease, CASE WHEN v.message_lease IS NULL THEN 0 ELSE 1 END
    FROM v, ids WHERE EXISTS (SELECT 1 FROM chats)
    RETURNING id
), w AS (
    /* standard receivers */ AND EXISTS (SELECT 1 FROM chats)
), /* event and deliveries */
SELECT /* chat columns */, (SELECT participant_id FROM ids), (SELECT count(*) FROM d) AS deliveries, (SELECT array_agg(id) FROM d) AS ids,
       (SELECT id FROM message) AS message_id
FROM chats
