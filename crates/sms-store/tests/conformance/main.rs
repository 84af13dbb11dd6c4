//! One suite, both backends: every public function of `sms-store`, run by the same tests on
//! SQLite and on PostgreSQL (`SMS_TEST_POSTGRES_URL`, default the local server), each test on
//! a freshly migrated database of its own.
//!
//! What it proves, alike on both: tenants, tokens, numbers and agents keep their uniqueness
//! rules (a clash is `StoreError::Conflict`) and their tenant boundaries (another tenant's row
//! is "not found"); opening a chat writes the chat, its participants and its queued first
//! message together, and nothing at all on a refusal or when the consumer already has an active
//! chat; a chat ends once, on request or past its timeout; the outbox leases each message to
//! one claimant and a status only moves forward; a reply joins the active chat or is kept
//! aside; an idempotency key starts, runs, replays, refuses another body and is taken over when
//! its lease passes; `sms_store::transaction` rolls back as a whole and joins an outer one.
//!
//! `common` holds the setup every test shares; each other module is one concern of the store.

// Tests may unwrap: clippy.toml allows it in `#[test]` functions only, not in the helpers here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod at_once;
mod chats;
mod events;
mod idempotency;
mod inbound;
mod outbox;
mod pool;
mod tenants;
mod writes;
