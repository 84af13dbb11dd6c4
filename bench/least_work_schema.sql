-- The least work any implementation must do per SMS, as narrow tables with only the indexes it
-- needs: primary keys, the consumer's unique key, the partial unique index over active chats
-- (the one-session rule), a partial index over queued messages (the outbox), and for the whole
-- job the events and their deliveries with a partial index over those pending (the events'
-- outbox). bench/run.sh creates these beside the service's own tables, in the same database.
DROP TABLE IF EXISTS lw_deliveries, lw_events, lw_messages, lw_participants, lw_chats, lw_end_users;
DROP SEQUENCE IF EXISTS lw_numbers;
CREATE SEQUENCE lw_numbers START 1000000;
CREATE TABLE lw_end_users (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL,
    number TEXT NOT NULL,
    UNIQUE (tenant_id, number)
);
CREATE TABLE lw_chats (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL,
    end_user_id BIGINT NOT NULL,
    status TEXT NOT NULL
);
CREATE UNIQUE INDEX lw_chats_one_active ON lw_chats (tenant_id, end_user_id)
    WHERE status IN ('selecting', 'queued', 'assigned');
CREATE TABLE lw_participants (
    id BIGSERIAL PRIMARY KEY,
    chat_id BIGINT NOT NULL,
    end_user_id BIGINT NOT NULL
);
CREATE TABLE lw_messages (
    id BIGSERIAL PRIMARY KEY,
    chat_id BIGINT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX lw_messages_queued ON lw_messages (id) WHERE status = 'queued';
CREATE TABLE lw_events (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE lw_deliveries (
    id BIGSERIAL PRIMARY KEY,
    event_id BIGINT NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX lw_deliveries_pending ON lw_deliveries (id) WHERE status = 'pending';
