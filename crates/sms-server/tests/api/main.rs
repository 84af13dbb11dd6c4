//! The HTTP integration suite: the real application on port 0, a database of its own per test,
//! every test on SQLite and on PostgreSQL.

#[path = "../support/db.rs"]
mod db;
mod helpers;

mod admin;
mod auth;
mod chats;
mod delivery;
mod durability;
mod events;
mod fake_provider;
mod hardening;
mod isolation;
mod limits;
mod openapi;
mod race;
mod replies;
mod routing;
mod rows;
mod seed;
mod texting;
