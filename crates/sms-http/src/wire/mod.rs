//! Request and response bodies, separate from database rows; conversions sit next to them.

pub mod admin;
pub mod agents;
pub mod chat;
pub mod webhooks;
