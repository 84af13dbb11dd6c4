DROP TABLE inbound_receipts;
ALTER TABLE messages DROP COLUMN automatic;
DELETE FROM messages WHERE chat_id IS NULL;
ALTER TABLE messages ALTER COLUMN chat_id SET NOT NULL;
ALTER TABLE tenants DROP COLUMN quiet_hours_end;
ALTER TABLE tenants DROP COLUMN quiet_hours_start;
ALTER TABLE tenants DROP COLUMN opt_in_text;
ALTER TABLE tenants DROP COLUMN opt_out_text;
ALTER TABLE tenants DROP COLUMN help_text;
