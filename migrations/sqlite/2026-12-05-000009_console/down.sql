DROP INDEX chats_by_tenant_activity;
DROP TABLE console_sessions;
DROP TABLE console_invitations;
DROP TABLE console_credentials;
ALTER TABLE agents DROP COLUMN password_set_at;
ALTER TABLE agents DROP COLUMN console_role;
