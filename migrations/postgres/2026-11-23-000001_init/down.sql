DROP TABLE messages;
DROP TABLE participants;
DROP TABLE chats;
DROP TABLE end_users;
DROP TABLE agents;
DROP TABLE outbound_numbers;
DROP TABLE api_tokens;
DROP TABLE tenants;
