ALTER TABLE opt_outs DROP COLUMN message_id;
ALTER TABLE opt_outs DROP COLUMN outbound_number;
ALTER TABLE opt_outs DROP COLUMN keyword;
