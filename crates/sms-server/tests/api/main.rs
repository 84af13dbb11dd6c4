//! The HTTP integration suite: the real application on port 0, a database of its own per test,
//! every test on SQLite and on PostgreSQL.

mod helpers;

mod seed;
mod rows;
mod chats;
mod auth;
mod admin;
mod isolation;
mod race;
mod routing;
mod durability;
mod openapi;
