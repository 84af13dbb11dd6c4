//! The HTTP integration suite: the real application on port 0, a database of its own per test,
//! every test on SQLite and on PostgreSQL.
//!
//! `helpers` starts the application; `common` holds the calls and checks the test modules share;
//! `fake_provider` stands in for Twilio, a webhook gateway and an event receiver.

// Tests may unwrap: clippy.toml allows it in `#[test]` functions only, not in the helpers here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod fake_provider;
mod helpers;

mod admin;
mod auth;
mod ccai;
mod chats;
mod console;
mod delivery;
mod destinations;
mod durability;
mod edges;
mod events;
mod hardening;
mod isolation;
mod limits;
mod openapi;
mod platform;
mod race;
mod replies;
mod routing;
mod rows;
mod seed;
mod strict;
mod texting;
mod webhooks;
