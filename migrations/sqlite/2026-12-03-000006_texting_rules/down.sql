DROP TABLE inbound_receipts;
DELETE FROM messages WHERE chat_id IS NULL;
ALTER TABLE messages DROP COLUMN automatic;
ALTER TABLE tenants DROP COLUMN quiet_hours_end;
ALTER TABLE tenants DROP COLUMN quiet_hours_start;
ALTER TABLE tenants DROP COLUMN opt_in_text;
ALTER TABLE tenants DROP COLUMN opt_out_text;
ALTER TABLE tenants DROP COLUMN help_text;
