//! The shared setup: a freshly migrated database per test, the numbers the tests use, and the rows
//! most tests start from (tenants, agents, chats).

use chrono::{Duration, NaiveDateTime};
use sms_domain::time::now_millis;
use sms_domain::{AgentStatus, ChatId, ChatType, Direction, E164Number, TenantId};
use sms_store::chats::{self, NewChatSpec, Opened};
use sms_store::deliveries::{self, ClaimLimits, Claimed};
use sms_store::numbers;
use sms_store::outbox::{self, Job};
use sms_store::{
    tenants, ChatBundle, DbConn, DbUrl, Message, NewAgent, NewTenant, PoolOptions, PooledConn, Store, StoreError,
    Tenant, Window,
};
use sms_test_support::{Backend, TestDb};

pub const OUTBOUND: &str = "+16285550199";
pub const OTHER_OUTBOUND: &str = "+16285550198";
pub const UNREGISTERED: &str = "+16285550197";
pub const CONSUMER: &str = "+14155550100";
pub const CONSUMER_2: &str = "+14155550101";
pub const CONSUMER_3: &str = "+14155550102";

/// Runs `test` on a migrated database of `backend`; the store goes before the database.
pub fn run(backend: Backend, test: fn(&TestDb, &Store)) {
    let db = TestDb::create(backend);
    let store = ok(Store::new(&ok(DbUrl::parse(db.url())), PoolOptions::default()));
    ok(store.migrate());
    test(&db, &store);
}

#[track_caller]
pub fn ok<T>(result: Result<T, StoreError>) -> T {
    result.expect("store error")
}

#[track_caller]
pub fn some<T>(value: Option<T>, what: &str) -> T {
    match value {
        Some(value) => value,
        None => panic!("{what} is missing"),
    }
}

pub fn conn(store: &Store) -> PooledConn {
    ok(store.conn())
}

pub fn num(number: &str) -> E164Number {
    E164Number::parse(number).unwrap_or_else(|e| panic!("{number}: {e}"))
}

pub fn lease(at: NaiveDateTime) -> NaiveDateTime {
    at + Duration::seconds(30)
}

pub fn new_tenant(subdomain: &str) -> NewTenant {
    NewTenant {
        subdomain: subdomain.into(),
        name: format!("{subdomain} Inc."),
        lang: "en".into(),
        sms_enabled: true,
        outbound_sms_enabled: true,
        session_timeout_minutes: 15,
        rate_limit_per_second: 10,
        rate_limit_burst: 20,
        created_at: now_millis(),
        active: true,
        help_text: None,
        opt_out_text: None,
        opt_in_text: None,
        quiet_hours_start: None,
        quiet_hours_end: None,
    }
}

pub fn tenant(conn: &mut DbConn, subdomain: &str) -> Tenant {
    ok(tenants::create(conn, &new_tenant(subdomain)))
}

/// A tenant that owns the outbound number `outbound`.
pub fn sender(conn: &mut DbConn, subdomain: &str, outbound: &str) -> Tenant {
    let owner = tenant(conn, subdomain);
    ok(numbers::create(conn, owner.id, &num(outbound), now_millis()));
    owner
}

pub fn new_agent(tenant_id: TenantId, email: &str) -> NewAgent {
    NewAgent {
        tenant_id,
        email: email.into(),
        email_lower: email.to_lowercase(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        name: "Ada Lovelace".into(),
        agent_number: Some(7),
        avatar_url: None,
        status: AgentStatus::Active,
        created_at: now_millis(),
        status_updated_at: now_millis(),
    }
}

/// A chat to `to` from `from` opened at `now`, without an agent, with a ten-minute timeout.
pub fn spec<'a>(tenant_id: TenantId, to: &'a E164Number, from: &'a E164Number, now: NaiveDateTime) -> NewChatSpec<'a> {
    NewChatSpec {
        tenant_id,
        lang: "es",
        chat_type: ChatType::MessagingSms,
        end_user_number: to,
        outbound_number: from,
        ticket_id: Some("T-1"),
        agent: None,
        message: "Hello there",
        segments: 1,
        lock_token: Some("lock-1"),
        now,
        session_timeout: Duration::minutes(10),
    }
}

/// Opens a chat in a transaction of its own, as the send path does.
pub fn open(conn: &mut DbConn, spec: &NewChatSpec<'_>) -> Opened {
    ok(sms_store::transaction(conn, |conn| chats::open(conn, spec)))
}

pub fn created(conn: &mut DbConn, spec: &NewChatSpec<'_>) -> ChatBundle {
    match open(conn, spec) {
        Opened::Created(bundle) => *bundle,
        other => panic!("expected a new chat, got {other:?}"),
    }
}

pub fn outbound(conn: &mut DbConn, chat_id: ChatId) -> Message {
    let found = ok(chats::messages(conn, chat_id, Window::default()))
        .0
        .into_iter()
        .find(|m| m.direction == Direction::Outbound);
    some(found, "the outbound message")
}

/// A worker's claim of the outbox and its read after the claim's commit, on one connection.
pub fn claim_jobs(
    conn: &mut DbConn,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Job>, StoreError> {
    let ids = outbox::claim_ids(conn, now, lease_until, limit)?;
    outbox::jobs(conn, &ids)
}

/// A worker's claim of event deliveries and its read after the claim's commit, on one connection.
pub fn claim_deliveries(
    conn: &mut DbConn,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limits: ClaimLimits<'_>,
) -> Result<Vec<Claimed>, StoreError> {
    let ids = deliveries::claim_ids(conn, now, lease_until, limits)?;
    deliveries::claimed(conn, &ids, now)
}
