-- Where an opt-out came from (SPEC section 8, version 3): the keyword as the consumer wrote it
-- (null for the carrier's 21610 or an admin's action), the tenant's number it wrote to, and the
-- inbound message that carried it (null when none). Opt-outs recorded before have none of them.
ALTER TABLE opt_outs ADD COLUMN keyword TEXT;
ALTER TABLE opt_outs ADD COLUMN outbound_number TEXT;
ALTER TABLE opt_outs ADD COLUMN message_id BIGINT;
