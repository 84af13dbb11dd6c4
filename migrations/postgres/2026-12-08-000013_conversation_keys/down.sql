ALTER TABLE chats ADD CONSTRAINT chats_end_user_id_fkey FOREIGN KEY (end_user_id) REFERENCES end_users (id) ON DELETE CASCADE;
ALTER TABLE participants ADD CONSTRAINT participants_chat_id_fkey FOREIGN KEY (chat_id) REFERENCES chats (id) ON DELETE CASCADE;
ALTER TABLE messages ADD CONSTRAINT messages_chat_id_fkey FOREIGN KEY (chat_id) REFERENCES chats (id) ON DELETE CASCADE;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_id_fkey FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE;
