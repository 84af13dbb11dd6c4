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

#[path = "../../sms-server/tests/support/db.rs"]
#[allow(dead_code)]
mod db;

use chrono::{Duration, NaiveDateTime};
use db::{Backend, TestDb};
use sms_domain::time::now_millis;
use sms_domain::{
    AgentStatus, ChatStatus, ChatType, DeliveryStatus, Direction, DisconnectedBy, E164Number, ParticipantKind,
    ParticipantStatus,
};
use sms_store::chats::{self, ChatFilter, EndOutcome, NewChatSpec, Opened, Refusal};
use sms_store::delivery::{self, Inbound, Reply, StatusReport};
use sms_store::idempotency::{self, Begin, Lease};
use sms_store::numbers::{self, SendChecks};
use sms_store::{
    agents, tenants, tokens, AgentChanges, ChatBundle, DbConn, DbUrl, Fault, Message, NewAgent, NewTenant, PoolOptions,
    PooledConn, Store, StoreError, Tenant, TenantChanges, Window, DEFAULT_POOL_SIZE,
};

const OUTBOUND: &str = "+16285550199";
const OTHER_OUTBOUND: &str = "+16285550198";
const UNREGISTERED: &str = "+16285550197";
const CONSUMER: &str = "+14155550100";
const CONSUMER_2: &str = "+14155550101";
const CONSUMER_3: &str = "+14155550102";

/// Runs `test` on a migrated database of `backend`; the store goes before the database.
fn run(backend: Backend, test: fn(&TestDb, &Store)) {
    let db = TestDb::create(backend);
    let store = ok(Store::new(&ok(DbUrl::parse(db.url())), PoolOptions::default()));
    ok(store.migrate());
    test(&db, &store);
}

#[track_caller]
fn ok<T>(result: Result<T, StoreError>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("store error: {e}"),
    }
}

#[track_caller]
fn some<T>(value: Option<T>, what: &str) -> T {
    match value {
        Some(value) => value,
        None => panic!("{what} is missing"),
    }
}

fn conn(store: &Store) -> PooledConn {
    ok(store.conn())
}

fn num(number: &str) -> E164Number {
    E164Number::parse(number).unwrap_or_else(|e| panic!("{number}: {e}"))
}

fn lease(at: NaiveDateTime) -> NaiveDateTime {
    at + Duration::seconds(30)
}

fn new_tenant(subdomain: &str) -> NewTenant {
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

fn tenant(conn: &mut DbConn, subdomain: &str) -> Tenant {
    ok(tenants::create(conn, &new_tenant(subdomain)))
}

/// A tenant that owns the outbound number `outbound`.
fn sender(conn: &mut DbConn, subdomain: &str, outbound: &str) -> Tenant {
    let owner = tenant(conn, subdomain);
    ok(numbers::create(conn, owner.id, &num(outbound), now_millis()));
    owner
}

fn new_agent(tenant_id: i64, email: &str) -> NewAgent {
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
    }
}

/// A chat to `to` from `from` opened at `now`, without an agent, with a ten-minute timeout.
fn spec<'a>(tenant_id: i64, to: &'a E164Number, from: &'a E164Number, now: NaiveDateTime) -> NewChatSpec<'a> {
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
fn open(conn: &mut DbConn, spec: &NewChatSpec<'_>) -> Opened {
    ok(sms_store::transaction(conn, |conn| chats::open(conn, spec)))
}

fn created(conn: &mut DbConn, spec: &NewChatSpec<'_>) -> ChatBundle {
    match open(conn, spec) {
        Opened::Created(bundle) => *bundle,
        other => panic!("expected a new chat, got {other:?}"),
    }
}

fn kinds(bundle: &ChatBundle) -> Vec<(ParticipantKind, ParticipantStatus, Option<i64>)> {
    bundle.participants.iter().map(|p| (p.kind, p.status, p.user_id)).collect()
}

fn outbound(conn: &mut DbConn, chat_id: i64) -> Message {
    let found = ok(chats::messages(conn, chat_id, Window::default()))
        .0
        .into_iter()
        .find(|m| m.direction == Direction::Outbound);
    some(found, "the outbound message")
}

fn page(conn: &mut DbConn, tenant_id: i64, filter: ChatFilter) -> (Vec<i64>, i64) {
    let (rows, total) = ok(chats::list(conn, tenant_id, &filter));
    (rows.into_iter().map(|bundle| bundle.chat.id).collect(), total)
}

fn tenant_lifecycle(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let acme = tenant(&mut c, "acme");
    assert_eq!((acme.subdomain.as_str(), acme.name.as_str(), acme.lang.as_str()), ("acme", "acme Inc.", "en"));
    assert_eq!((acme.sms_enabled, acme.outbound_sms_enabled, acme.session_timeout_minutes), (true, true, 15));
    assert_eq!((acme.rate_limit_per_second, acme.rate_limit_burst), (10, 20));
    assert!(matches!(tenants::create(&mut c, &new_tenant("acme")), Err(StoreError::Conflict)), "unique subdomain");
    let globex = tenant(&mut c, "globex");
    let listed: Vec<(i64, String)> =
        ok(tenants::list(&mut c, Window::default())).0.into_iter().map(|t| (t.id, t.subdomain)).collect();
    assert_eq!(listed, [(acme.id, "acme".to_owned()), (globex.id, "globex".to_owned())], "in creation order");
    let found = some(ok(tenants::find_by_subdomain(&mut c, "acme")), "acme");
    assert_eq!((found.id, found.created_at), (acme.id, acme.created_at));
    assert!(ok(tenants::find_by_subdomain(&mut c, "initech")).is_none());

    let changes = TenantChanges { name: Some("Acme Corp".into()), sms_enabled: Some(false), ..Default::default() };
    assert!(!changes.is_empty() && TenantChanges::default().is_empty());
    let new = some(ok(tenants::update(&mut c, acme.id, &changes)), "acme");
    assert_eq!((new.name.as_str(), new.sms_enabled, new.lang.as_str()), ("Acme Corp", false, "en"), "the rest is kept");
    let same = some(ok(tenants::update(&mut c, acme.id, &TenantChanges::default())), "acme");
    assert_eq!((same.name.as_str(), same.sms_enabled, same.session_timeout_minutes), ("Acme Corp", false, 15));
    assert!(ok(tenants::update(&mut c, globex.id + 1000, &changes)).is_none(), "a missing tenant");
    assert_eq!(some(ok(tenants::find_by_subdomain(&mut c, "globex")), "globex").name, "globex Inc.");
}

fn token_lifecycle(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex, now) = (tenant(&mut c, "acme"), tenant(&mut c, "globex"), now_millis());
    let a = ok(tokens::create(&mut c, acme.id, "hash-a", now));
    let b = ok(tokens::create(&mut c, acme.id, "hash-b", now));
    let g = ok(tokens::create(&mut c, globex.id, "hash-g", now));
    assert_eq!((a.tenant_id, a.token_hash.as_str(), a.created_at, a.revoked_at), (acme.id, "hash-a", now, None));
    let who = |c: &mut DbConn, subdomain: &str, hash: &str| ok(tokens::authenticate(c, subdomain, hash)).map(|t| t.id);
    assert_eq!((who(&mut c, "acme", "hash-a"), who(&mut c, "acme", "hash-b")), (Some(acme.id), Some(acme.id)));
    assert_eq!(who(&mut c, "acme", "hash-g"), None, "another tenant's token");
    assert_eq!(who(&mut c, "acme\0", "hash-a"), None, "a subdomain no tenant can have");
    assert!(ok(tokens::revoke(&mut c, acme.id, a.id, now)));
    assert!(ok(tokens::revoke(&mut c, acme.id, a.id, now + Duration::hours(1))), "revoked twice, still found");
    let listed: Vec<_> =
        ok(tokens::list(&mut c, acme.id, Window::default())).0.into_iter().map(|t| (t.id, t.revoked_at)).collect();
    assert_eq!(listed, [(a.id, Some(now)), (b.id, None)], "the first revocation time is kept");
    assert!(!ok(tokens::revoke(&mut c, acme.id, g.id, now)), "another tenant's token");
    assert!(!ok(tokens::revoke(&mut c, globex.id, b.id, now)), "another tenant's token");
    assert_eq!(who(&mut c, "acme", "hash-a"), None, "a revoked token");
    assert_eq!((who(&mut c, "acme", "hash-b"), who(&mut c, "globex", "hash-g")), (Some(acme.id), Some(globex.id)));
    let (page, total) = ok(tokens::list(&mut c, acme.id, Window { offset: 1, limit: 5 }));
    assert_eq!((page.iter().map(|t| t.id).collect::<Vec<_>>(), total), (vec![b.id], 2), "a window of the list");
}

fn number_registry(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex, now) = (tenant(&mut c, "acme"), tenant(&mut c, "globex"), now_millis());
    let first = ok(numbers::create(&mut c, acme.id, &num("(628) 555-0199"), now));
    assert_eq!((first.tenant_id, first.number.as_str(), first.created_at), (acme.id, OUTBOUND, now), "in E.164");
    let taken = numbers::create(&mut c, globex.id, &num(OUTBOUND), now);
    assert!(matches!(taken, Err(StoreError::Conflict)), "a number belongs to one tenant");
    let second = ok(numbers::create(&mut c, acme.id, &num(OTHER_OUTBOUND), now));
    let listed: Vec<String> =
        ok(numbers::list(&mut c, acme.id, Window::default())).0.into_iter().map(|n| n.number).collect();
    assert_eq!(listed, [OUTBOUND, OTHER_OUTBOUND]);
    assert!(ok(numbers::list(&mut c, globex.id, Window::default())).0.is_empty());

    let checks = |c: &mut DbConn, tenant_id: i64, outbound: &str| {
        let SendChecks { outbound_registered, opted_out } =
            ok(numbers::send_checks(c, tenant_id, &num(outbound), &num(CONSUMER)));
        (outbound_registered, opted_out)
    };
    assert_eq!(checks(&mut c, acme.id, OUTBOUND), (true, false));
    assert_eq!(checks(&mut c, globex.id, OUTBOUND), (false, false), "registered by another tenant");
    assert!(ok(delivery::opt_out(&mut c, acme.id, &num(CONSUMER), now)).is_none(), "no chat to end");
    assert_eq!(checks(&mut c, acme.id, OUTBOUND), (true, true));
    assert_eq!(checks(&mut c, acme.id, UNREGISTERED), (false, true));
    assert_eq!(checks(&mut c, globex.id, OUTBOUND), (false, false), "an opt-out is the tenant's");

    assert!(!ok(numbers::delete(&mut c, globex.id, first.id)), "another tenant's number");
    assert!(ok(numbers::delete(&mut c, acme.id, first.id)));
    assert!(!ok(numbers::delete(&mut c, acme.id, first.id)), "deleted already");
    let left: Vec<i64> = ok(numbers::list(&mut c, acme.id, Window::default())).0.into_iter().map(|n| n.id).collect();
    assert_eq!(left, [second.id]);
    assert_eq!(ok(numbers::create(&mut c, globex.id, &num(OUTBOUND), now)).tenant_id, globex.id, "free again");
}

fn agent_directory(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex) = (tenant(&mut c, "acme"), tenant(&mut c, "globex"));
    let ada = ok(agents::create(&mut c, &new_agent(acme.id, "Ada@Example.com")));
    assert_eq!((ada.tenant_id, ada.email.as_str(), ada.status), (acme.id, "Ada@Example.com", AgentStatus::Active));
    assert_eq!((ada.email_lower.as_str(), ada.agent_number), ("ada@example.com", Some(7)));
    assert!(ada.is_active() && ada.avatar_url.is_none());
    let twice = agents::create(&mut c, &new_agent(acme.id, "ADA@example.COM"));
    assert!(matches!(twice, Err(StoreError::Conflict)), "e-mails are unique per tenant, in any case");
    let twin = ok(agents::create(&mut c, &new_agent(globex.id, "ada@example.com")));
    let bob = ok(agents::create(&mut c, &new_agent(acme.id, "bob@example.com")));
    let ids = |c: &mut DbConn, tenant_id: i64| -> Vec<i64> {
        ok(agents::list(c, tenant_id, Window::default())).0.iter().map(|a| a.id).collect()
    };
    assert_eq!((ids(&mut c, acme.id), ids(&mut c, globex.id)), (vec![ada.id, bob.id], vec![twin.id]));
    assert_eq!(some(ok(agents::find(&mut c, acme.id, ada.id)), "ada").email, "Ada@Example.com");
    assert!(ok(agents::find(&mut c, globex.id, ada.id)).is_none(), "another tenant's agent");
    assert_eq!(ok(agents::find_by_email(&mut c, acme.id, " ADA@example.com ")).map(|a| a.id), Some(ada.id));
    assert_eq!(ok(agents::find_by_email(&mut c, globex.id, "ada@EXAMPLE.com")).map(|a| a.id), Some(twin.id));
    assert!(ok(agents::find_by_email(&mut c, acme.id, "eve@example.com")).is_none());

    let off = AgentChanges { status: Some("deactivated"), agent_number: Some(None), ..Default::default() };
    let new = some(ok(agents::update(&mut c, acme.id, ada.id, &off)), "ada");
    assert_eq!((new.status, new.agent_number, new.email.as_str()), (AgentStatus::Deactivated, None, "Ada@Example.com"));
    assert!(!new.is_active());
    assert!(ok(agents::update(&mut c, globex.id, ada.id, &off)).is_none(), "another tenant's agent");
    assert_eq!(some(ok(agents::find(&mut c, globex.id, twin.id)), "twin").status, AgentStatus::Active);
    let same = some(ok(agents::update(&mut c, acme.id, bob.id, &AgentChanges::default())), "bob");
    assert_eq!((same.email.as_str(), same.status), ("bob@example.com", AgentStatus::Active), "an empty change");
    let to_ada = AgentChanges { email_lower: Some("ada@example.com".into()), ..Default::default() };
    assert!(matches!(agents::update(&mut c, acme.id, bob.id, &to_ada), Err(StoreError::Conflict)));
}

fn opening_chats(db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex) = (sender(&mut c, "acme", OUTBOUND), tenant(&mut c, "globex"));
    let ada = ok(agents::create(&mut c, &new_agent(acme.id, "ada@example.com")));
    let (to, to_2, from, now) = (num(CONSUMER), num(CONSUMER_2), num(OUTBOUND), now_millis());
    let plain = created(&mut c, &spec(acme.id, &to, &from, now));
    let chat = &plain.chat;
    assert_eq!((chat.agent_id, chat.status, chat.lang.as_str()), (None, ChatStatus::Selecting, "es"));
    assert_eq!((chat.chat_type, chat.ticket_id.as_deref()), (ChatType::MessagingSms, Some("T-1")));
    assert_eq!((chat.tenant_id, chat.outbound_number.as_str()), (acme.id, OUTBOUND));
    assert_eq!(chat.lock_token.as_deref(), Some("lock-1"), "kept for whoever ends the chat");
    assert_eq!((chat.disconnected_by, chat.ends_at, chat.duration_seconds()), (DisconnectedBy::Unknown, None, 0));
    assert_eq!((chat.created_at, chat.assigned_at, chat.last_activity_at), (now, None, now));
    assert_eq!(chat.expires_at, now + Duration::minutes(10));
    assert_eq!(kinds(&plain), [(ParticipantKind::EndUser, ParticipantStatus::Connected, None)]);
    assert_eq!(plain.participants.first().and_then(|p| p.end_user_id), Some(chat.end_user_id));
    assert!(plain.agent.is_none());
    let messages = ok(chats::messages(&mut c, chat.id, Window::default())).0;
    let [m] = messages.as_slice() else { panic!("one first message: {messages:?}") };
    assert_eq!((m.direction, m.delivery_status, m.segments), (Direction::Outbound, DeliveryStatus::Queued, 1));
    assert_eq!((m.body.as_str(), m.from_number.as_str(), m.to_number.as_str()), ("Hello there", OUTBOUND, CONSUMER));
    assert_eq!((m.tenant_id, m.attempts, m.next_attempt_at), (acme.id, 0, None));
    assert!(m.provider_message_id.is_none() && m.locked_until.is_none());

    let assigned = created(&mut c, &NewChatSpec { agent: Some(&ada), ..spec(acme.id, &to_2, &from, now) });
    let chat_2 = &assigned.chat;
    assert_eq!((chat_2.status, chat_2.agent_id, chat_2.assigned_at), (ChatStatus::Assigned, Some(ada.id), Some(now)));
    let both = [
        (ParticipantKind::EndUser, ParticipantStatus::Connected, None),
        (ParticipantKind::Agent, ParticipantStatus::Connected, Some(ada.id)),
    ];
    assert_eq!(kinds(&assigned), both, "the consumer first, then the agent");
    assert_eq!(assigned.agent.as_ref().map(|a| a.id), Some(ada.id));
    let stored = some(ok(chats::find(&mut c, acme.id, chat_2.id)), "the assigned chat");
    assert_eq!((stored.chat.status, stored.agent.as_ref().map(|a| a.id)), (ChatStatus::Assigned, Some(ada.id)));
    assert_eq!(kinds(&stored), both, "stored as answered");
    assert_eq!((db.count("chats"), db.count("participants"), db.count("messages")), (2, 3, 2));

    match open(&mut c, &NewChatSpec { message: "Again", ..spec(acme.id, &to, &from, now) }) {
        Opened::Busy(Some(active)) => assert_eq!((active.id, active.status), (chat.id, ChatStatus::Selecting)),
        other => panic!("expected the consumer's active chat, got {other:?}"),
    }
    let stranger = num(CONSUMER_3);
    let unregistered = open(&mut c, &spec(acme.id, &stranger, &num(UNREGISTERED), now));
    assert!(matches!(unregistered, Opened::Refused(Refusal::OutboundNotRegistered)), "{unregistered:?}");
    let foreign = open(&mut c, &spec(globex.id, &stranger, &from, now));
    assert!(matches!(foreign, Opened::Refused(Refusal::OutboundNotRegistered)), "another tenant's number: {foreign:?}");
    assert!(ok(delivery::opt_out(&mut c, acme.id, &stranger, now)).is_none());
    let opted_out = open(&mut c, &spec(acme.id, &stranger, &from, now));
    assert!(matches!(opted_out, Opened::Refused(Refusal::OptedOut)), "{opted_out:?}");
    let counts = ["chats", "participants", "messages", "end_users"].map(|table| db.count(table));
    assert_eq!(counts, [2, 3, 2, 2], "a busy consumer or a refusal writes nothing");
}

fn reading_chats(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex) = (sender(&mut c, "acme", OUTBOUND), sender(&mut c, "globex", OTHER_OUTBOUND));
    let (from, now) = (num(OUTBOUND), now_millis());
    let mut ids: Vec<i64> = [CONSUMER, CONSUMER_2, CONSUMER_3]
        .into_iter()
        .map(|to| created(&mut c, &spec(acme.id, &num(to), &from, now)).chat.id)
        .collect();
    assert!(matches!(ok(chats::end(&mut c, acme.id, ids[0], DisconnectedBy::Agent, now)), EndOutcome::Ended { .. }));
    ids.push(created(&mut c, &spec(acme.id, &num(CONSUMER), &from, now)).chat.id);
    let theirs = created(&mut c, &spec(globex.id, &num(CONSUMER), &num(OTHER_OUTBOUND), now)).chat.id;

    let all = ChatFilter { page: 1, per: 10, ..ChatFilter::default() };
    assert_eq!(page(&mut c, acme.id, all.clone()), (vec![ids[3], ids[2], ids[1], ids[0]], 4), "newest first");
    let finished = ChatFilter { status: Some(ChatStatus::Finished), ..all.clone() };
    assert_eq!(page(&mut c, acme.id, finished), (vec![ids[0]], 1));
    let selecting = ChatFilter { status: Some(ChatStatus::Selecting), ..all.clone() };
    assert_eq!(page(&mut c, acme.id, selecting), (vec![ids[3], ids[2], ids[1]], 3));
    let consumer = ChatFilter { end_user_number: Some(num(CONSUMER)), ..all.clone() };
    assert_eq!(page(&mut c, acme.id, consumer.clone()), (vec![ids[3], ids[0]], 2));
    assert_eq!(page(&mut c, globex.id, consumer), (vec![theirs], 1));
    assert_eq!(page(&mut c, acme.id, ChatFilter { page: 2, per: 3, ..all.clone() }), (vec![ids[0]], 4));
    assert_eq!(page(&mut c, acme.id, ChatFilter { page: 0, per: 1, ..all.clone() }), (vec![ids[3]], 4));
    assert_eq!(page(&mut c, acme.id, ChatFilter { page: 5, per: 2, ..all }), (vec![], 4));

    let ended = some(ok(chats::find(&mut c, acme.id, ids[0])), "the ended chat");
    assert_eq!((ended.chat.status, ended.chat.disconnected_by), (ChatStatus::Finished, DisconnectedBy::Agent));
    assert!(ok(chats::find(&mut c, globex.id, ids[0])).is_none(), "another tenant's chat");
    assert!(ok(chats::find(&mut c, acme.id, theirs)).is_none(), "another tenant's chat");
    assert_eq!(ok(chats::active_chat(&mut c, acme.id, &num(CONSUMER))).map(|c| c.id), Some(ids[3]));
    assert_eq!(ok(chats::active_chat(&mut c, globex.id, &num(CONSUMER))).map(|c| c.id), Some(theirs));
    assert!(ok(chats::active_chat(&mut c, globex.id, &num(CONSUMER_2))).is_none());
    assert!(ok(chats::messages(&mut c, theirs + 1000, Window::default())).0.is_empty());
}

fn ending_chats(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex) = (sender(&mut c, "acme", OUTBOUND), tenant(&mut c, "globex"));
    let ada = ok(agents::create(&mut c, &new_agent(acme.id, "ada@example.com")));
    let (to, from, now) = (num(CONSUMER), num(OUTBOUND), now_millis());
    let chat = created(&mut c, &NewChatSpec { agent: Some(&ada), ..spec(acme.id, &to, &from, now) }).chat;
    let later = now + Duration::seconds(90);
    let end = |c: &mut DbConn, tenant_id: i64, id: i64| ok(chats::end(c, tenant_id, id, DisconnectedBy::Agent, later));
    assert!(matches!(end(&mut c, globex.id, chat.id), EndOutcome::NotFound), "another tenant's chat");
    match end(&mut c, acme.id, chat.id) {
        EndOutcome::Ended { bundle, ended } => {
            let row = &bundle.chat;
            assert_eq!((row.status, row.disconnected_by), (ChatStatus::Finished, DisconnectedBy::Agent));
            assert_eq!((row.ends_at, row.duration_seconds()), (Some(later), 90));
            let parts: Vec<_> = bundle.participants.iter().map(|p| (p.status, p.ended_at, p.chat_duration)).collect();
            assert_eq!(parts, [(ParticipantStatus::Disconnected, Some(later), Some(90)); 2], "both disconnected");
            assert_eq!((ended.chat_id, ended.tenant_id, ended.end_user_number.as_str()), (chat.id, acme.id, CONSUMER));
            assert_eq!(ended.lock_token.as_deref(), Some("lock-1"));
        }
        other => panic!("expected the chat to end, got {other:?}"),
    }
    assert!(matches!(end(&mut c, acme.id, chat.id), EndOutcome::NotActive), "a chat ends once");
    // Who held the consumer's lock, whatever the chat's status now; nobody for another token,
    // another consumer or another tenant.
    let owner = some(ok(chats::lock_owner(&mut c, acme.id, &to, "lock-1")), "the lock's chat");
    assert_eq!((owner.id, owner.status), (chat.id, ChatStatus::Finished));
    assert!(ok(chats::lock_owner(&mut c, acme.id, &to, "lock-2")).is_none());
    assert!(ok(chats::lock_owner(&mut c, acme.id, &num(CONSUMER_2), "lock-1")).is_none());
    assert!(ok(chats::lock_owner(&mut c, globex.id, &to, "lock-1")).is_none());
    assert!(matches!(end(&mut c, acme.id, chat.id + 1000), EndOutcome::NotFound));
    assert!(ok(chats::active_chat(&mut c, acme.id, &to)).is_none());
    assert_ne!(created(&mut c, &spec(acme.id, &to, &from, later)).chat.id, chat.id, "the consumer is free again");
}

fn idle_chats_expire(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let acme = sender(&mut c, "acme", OUTBOUND);
    let (a, b, patient, from, now) = (num(CONSUMER), num(CONSUMER_2), num(CONSUMER_3), num(OUTBOUND), now_millis());
    let short = Duration::seconds(1);
    let first = created(&mut c, &NewChatSpec { session_timeout: short, ..spec(acme.id, &a, &from, now) }).chat;
    let second = created(&mut c, &NewChatSpec { session_timeout: short, ..spec(acme.id, &b, &from, now) }).chat;
    let keeps = created(&mut c, &spec(acme.id, &patient, &from, now)).chat;
    let after = now + Duration::seconds(5);
    assert!(ok(chats::expire_if_idle(&mut c, &first, now)).is_none(), "not past its timeout yet");
    let ended = some(ok(chats::expire_if_idle(&mut c, &first, after)), "the idle chat's end");
    assert_eq!((ended.chat_id, ended.tenant_id, ended.end_user_number.as_str()), (first.id, acme.id, CONSUMER));
    let row = some(ok(chats::find(&mut c, acme.id, first.id)), "the expired chat");
    assert_eq!((row.chat.status, row.chat.disconnected_by), (ChatStatus::Finished, DisconnectedBy::System));
    assert_eq!(row.chat.ends_at, Some(now + short), "ended when its timeout elapsed");
    assert_eq!(row.participants.iter().map(|p| p.chat_duration).collect::<Vec<_>>(), [Some(1)]);
    assert!(ok(chats::expire_if_idle(&mut c, &first, after)).is_none(), "ended once");
    let swept: Vec<i64> = ok(chats::expire_idle(&mut c, after, 10)).iter().map(|e| e.chat_id).collect();
    assert_eq!(swept, [second.id], "only the active chats past their timeout");
    assert!(ok(chats::expire_idle(&mut c, after, 10)).is_empty());
    assert_eq!(ok(chats::active_chat(&mut c, acme.id, &patient)).map(|c| c.id), Some(keeps.id));

    created(&mut c, &NewChatSpec { session_timeout: short, ..spec(acme.id, &a, &from, now) });
    created(&mut c, &NewChatSpec { session_timeout: short, ..spec(acme.id, &b, &from, now) });
    let sizes = [1, 1, 0].map(|_| ok(chats::expire_idle(&mut c, after, 1)).len());
    assert_eq!(sizes, [1, 1, 0], "at most `limit` per sweep");
}

/// A chat opened for each of the three consumers, from `from`: their ids, in that order.
fn three_chats(c: &mut DbConn, tenant_id: i64, from: &E164Number, now: NaiveDateTime) -> Vec<i64> {
    [CONSUMER, CONSUMER_2, CONSUMER_3]
        .into_iter()
        .map(|to| created(c, &spec(tenant_id, &num(to), from, now)).chat.id)
        .collect()
}

fn delivery_outbox(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex) = (sender(&mut c, "acme", OUTBOUND), tenant(&mut c, "globex"));
    let (from, now) = (num(OUTBOUND), now_millis());
    let chat_ids = three_chats(&mut c, acme.id, &from, now);
    let jobs = ok(delivery::claim(&mut c, now, lease(now), 2));
    let seen: Vec<_> = jobs.iter().map(|j| (j.message.chat_id, j.message.attempts, j.subdomain.as_str())).collect();
    assert_eq!(
        seen,
        [(Some(chat_ids[0]), 1, "acme"), (Some(chat_ids[1]), 1, "acme")],
        "the first two, one attempt each"
    );
    let leased = |j: &delivery::Job| (j.message.delivery_status, j.message.locked_until);
    assert!(jobs.iter().all(|j| leased(j) == (DeliveryStatus::Sending, Some(lease(now)))), "leased: {jobs:?}");
    let (m1, m2) = (jobs[0].message.id, jobs[1].message.id);
    let claim = |c: &mut DbConn, at: NaiveDateTime| -> Vec<(Option<i64>, i32)> {
        ok(delivery::claim(c, at, lease(at), 10)).into_iter().map(|j| (j.message.chat_id, j.message.attempts)).collect()
    };
    assert_eq!(claim(&mut c, now), [(Some(chat_ids[2]), 1)], "the rest, within the limit");
    assert!(claim(&mut c, now).is_empty(), "nothing is claimed twice while leased");
    let m3 = outbound(&mut c, chat_ids[2]).id;

    ok(delivery::mark_sent(&mut c, m1, Some("SM1"), now));
    let due = now + Duration::seconds(60);
    ok(delivery::mark_retry(&mut c, m2, due, "timeout", now));
    let (sent, retry) = (outbound(&mut c, chat_ids[0]), outbound(&mut c, chat_ids[1]));
    assert_eq!((sent.delivery_status, sent.provider_message_id.as_deref()), (DeliveryStatus::Sent, Some("SM1")));
    assert_eq!((retry.delivery_status, retry.error.as_deref()), (DeliveryStatus::Queued, Some("timeout")));
    assert_eq!((sent.locked_until, retry.locked_until, retry.next_attempt_at), (None, None, Some(due)), "leases end");
    assert!(claim(&mut c, now + Duration::seconds(10)).is_empty(), "the retry is not due, the lease holds");
    assert_eq!(claim(&mut c, now + Duration::seconds(45)), [(Some(chat_ids[2]), 2)], "a lapsed lease is claimed again");
    assert_eq!(claim(&mut c, now + Duration::seconds(61)), [(Some(chat_ids[1]), 2)], "the retry, once due");
    ok(delivery::mark_failed(&mut c, m3, "unreachable", now));
    ok(delivery::mark_sent(&mut c, m1, Some("SM-late"), now));
    let failed = outbound(&mut c, chat_ids[2]);
    assert_eq!((failed.delivery_status, failed.error.as_deref()), (DeliveryStatus::Failed, Some("unreachable")));
    assert_eq!(outbound(&mut c, chat_ids[0]).provider_message_id.as_deref(), Some("SM1"), "a settled message stays");

    // What a report did: the status it moved the message to, or why it did nothing.
    let report = |c: &mut DbConn, tenant_id: i64, sid: &str, status: DeliveryStatus, error: Option<&str>| match ok(
        delivery::apply_status(c, tenant_id, sid, status, error, now),
    ) {
        StatusReport::Applied(m) => format!("applied {}", m.delivery_status.as_str()),
        StatusReport::Stale => "stale".to_owned(),
        StatusReport::Unknown => "unknown".to_owned(),
    };
    assert_eq!(report(&mut c, acme.id, "SM1", DeliveryStatus::Delivered, None), "applied delivered");
    assert_eq!(report(&mut c, acme.id, "SM1", DeliveryStatus::Sent, None), "stale", "never backwards");
    assert_eq!(report(&mut c, acme.id, "SM1", DeliveryStatus::Delivered, None), "stale", "nor in place");
    assert_eq!(report(&mut c, acme.id, "SM-none", DeliveryStatus::Delivered, None), "unknown");
    assert_eq!(report(&mut c, globex.id, "SM1", DeliveryStatus::Failed, None), "unknown", "not theirs");
    assert_eq!(outbound(&mut c, chat_ids[0]).delivery_status, DeliveryStatus::Delivered);
    ok(delivery::mark_sent(&mut c, m2, Some("SM2"), now));
    assert_eq!(outbound(&mut c, chat_ids[1]).error, None, "a send clears the last attempt's error");
    assert_eq!(report(&mut c, acme.id, "SM2", DeliveryStatus::Undelivered, Some("30003")), "applied undelivered");
    let last = outbound(&mut c, chat_ids[1]);
    assert_eq!((last.delivery_status, last.error.as_deref()), (DeliveryStatus::Undelivered, Some("30003")));
}

fn delivery_sent_together(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let acme = sender(&mut c, "acme", OUTBOUND);
    let (from, now) = (num(OUTBOUND), now_millis());
    let chat_ids = three_chats(&mut c, acme.id, &from, now);
    let jobs = ok(delivery::claim(&mut c, now, lease(now), 10));
    let [a, b, late] = [0, 1, 2].map(|i| jobs[i].message.id);
    ok(delivery::mark_failed(&mut c, late, "unreachable", now));
    let later = now + Duration::seconds(1);
    let settled = ok(delivery::mark_sent_many(&mut c, &[(a, Some("SM-a")), (b, None), (late, Some("SM-late"))], later));
    let mut seen: Vec<_> =
        settled.iter().map(|m| (m.id, m.delivery_status, m.provider_message_id.as_deref(), m.locked_until)).collect();
    seen.sort_by_key(|s| s.0);
    assert_eq!(
        seen,
        [(a, DeliveryStatus::Sent, Some("SM-a"), None), (b, DeliveryStatus::Sent, None, None)],
        "the messages still being sent, each with its provider id, leases ended"
    );
    assert!(settled.iter().all(|m| m.updated_at == later && m.error.is_none()));
    let failed = outbound(&mut c, chat_ids[2]);
    assert_eq!((failed.delivery_status, failed.provider_message_id), (DeliveryStatus::Failed, None), "left alone");
    assert!(ok(delivery::mark_sent_many(&mut c, &[], later)).is_empty(), "nothing to settle");
    assert!(ok(delivery::mark_sent_many(&mut c, &[(a, Some("SM-again"))], later)).is_empty(), "settled once");
    assert_eq!(outbound(&mut c, chat_ids[0]).provider_message_id.as_deref(), Some("SM-a"));
}

fn event_deliveries_leased(_db: &TestDb, store: &Store) {
    use sms_store::events::{self, Attempt, NewEndpoint, NewEvent};
    let mut c = conn(store);
    let acme = tenant(&mut c, "acme");
    let now = now_millis();
    let endpoint = |url: &str, kinds: &str| NewEndpoint {
        tenant_id: acme.id,
        url: url.into(),
        events: kinds.into(),
        description: None,
        disabled: false,
        secret: "whsec_test".into(),
        created_at: now,
        updated_at: now,
    };
    ok(events::create_endpoint(&mut c, &endpoint("http://127.0.0.1:9/crm", "chat.created chat.ended")));
    ok(events::create_endpoint(&mut c, &endpoint("http://127.0.0.1:9/other", "chat.ended")));
    let event = |id: &'static str, kind: &'static str| NewEvent {
        tenant_id: acme.id,
        event_id: id,
        event_type: kind,
        payload: "{}",
        at: now,
    };
    assert_eq!(ok(events::record_for_subscribers(&mut c, &event("evt_1", "chat.created"))), 1, "one subscriber");
    assert_eq!(ok(events::record_for_subscribers(&mut c, &event("evt_2", "chat.ended"))), 2, "two subscribers");
    assert_eq!(ok(events::record_for_subscribers(&mut c, &event("evt_3", "message.received"))), 0, "none");

    let claim = |c: &mut DbConn, at: NaiveDateTime| ok(events::claim(c, at, lease(at), 10));
    let first = claim(&mut c, now);
    let mut seen: Vec<_> = first.iter().map(|d| (d.event_id.as_str(), d.attempts, d.url.as_str())).collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("evt_1", 1, "http://127.0.0.1:9/crm"),
            ("evt_2", 1, "http://127.0.0.1:9/crm"),
            ("evt_2", 1, "http://127.0.0.1:9/other")
        ]
    );
    assert!(claim(&mut c, now + Duration::seconds(10)).is_empty(), "nothing is claimed twice while leased");
    let row =
        |c: &mut DbConn, d: &events::Claimed| some(ok(events::find_delivery(c, d.endpoint_id, d.id)), "the delivery").0;
    assert_eq!(row(&mut c, &first[0]).next_attempt_at, Some(lease(now)), "a lease is the time it is due again");

    let later = now + Duration::seconds(45);
    let again = claim(&mut c, later);
    assert_eq!(again.iter().map(|d| d.attempts).collect::<Vec<_>>(), [2, 2, 2], "lapsed leases are claimed again");
    assert!(
        !ok(events::settle(&mut c, &first[0], &Attempt::Failed { status_code: Some(500), error: "500".into() }, later)),
        "the first claimer's late outcome is left alone"
    );
    let retry_at = later + Duration::seconds(60);
    let retry = Attempt::Retry { status_code: Some(503), error: "503".into(), next: retry_at };
    assert!(ok(events::settle(&mut c, &again[1], &retry, later)));
    ok(events::settle_all(&mut c, &[(again[0].clone(), Attempt::Delivered { status_code: 204 })], later));
    let delivered = row(&mut c, &again[0]);
    assert_eq!(
        (delivered.status.as_str(), delivered.next_attempt_at, delivered.delivered_at),
        ("delivered", None, Some(later))
    );
    let waiting = row(&mut c, &again[1]);
    assert_eq!((waiting.status.as_str(), waiting.next_attempt_at, waiting.attempts), ("pending", Some(retry_at), 2));
    assert_eq!(
        claim(&mut c, later + Duration::seconds(40)).iter().map(|d| d.id).collect::<Vec<_>>(),
        [again[2].id],
        "the one still leased comes back when its lease lapses; the retry waits"
    );
    assert_eq!(
        claim(&mut c, retry_at).iter().map(|d| (d.id, d.attempts)).collect::<Vec<_>>(),
        [(again[1].id, 3)],
        "a settled retry is due at its time, no lease left"
    );
    assert_eq!(ok(events::backlog(&mut c)), 2);
}

fn replies_and_opt_outs(db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex) = (sender(&mut c, "acme", OUTBOUND), tenant(&mut c, "globex"));
    let (to, from, now) = (num(CONSUMER), num(OUTBOUND), now_millis());
    let chat = created(&mut c, &spec(acme.id, &to, &from, now)).chat;
    let (at, timeout) = (now + Duration::minutes(1), Duration::minutes(10));
    let reply = Reply { from: &to, to: &from, body: "Yes please", segments: 1, sid: Some("SM-in-1"), media: None };
    match ok(delivery::record_inbound(&mut c, acme.id, &reply, at, timeout)) {
        Inbound::Joined { chat: joined, end_user_number, message } => {
            assert_eq!((joined.id, joined.last_activity_at, joined.expires_at), (chat.id, at, at + timeout));
            assert_eq!(end_user_number, CONSUMER);
            assert_eq!((message.chat_id, message.body.as_str()), (Some(chat.id), "Yes please"), "the stored reply");
        }
        Inbound::Unrouted(_) => panic!("the reply belongs to the active chat"),
    }
    let stored = some(ok(chats::find(&mut c, acme.id, chat.id)), "the chat").chat;
    assert_eq!((stored.last_activity_at, stored.expires_at), (at, at + timeout), "the timeout starts again");
    let messages = ok(chats::messages(&mut c, chat.id, Window::default())).0;
    let [_, m] = messages.as_slice() else { panic!("the first message and the reply: {messages:?}") };
    assert_eq!((m.direction, m.delivery_status, m.segments), (Direction::Inbound, DeliveryStatus::Received, 1));
    assert_eq!((m.body.as_str(), m.from_number.as_str(), m.to_number.as_str()), ("Yes please", CONSUMER, OUTBOUND));
    assert_eq!(m.provider_message_id.as_deref(), Some("SM-in-1"));

    let (stranger, other_number) = (num(CONSUMER_2), num(OTHER_OUTBOUND));
    let unrouted = [
        (acme.id, Reply { from: &stranger, ..reply }, at),
        (acme.id, Reply { to: &other_number, ..reply }, at),
        (acme.id, reply, at + timeout + Duration::minutes(1)),
        (globex.id, reply, at),
    ];
    for (tenant_id, reply, when) in unrouted {
        let inbound = ok(delivery::record_inbound(&mut c, tenant_id, &reply, when, timeout));
        assert!(matches!(inbound, Inbound::Unrouted(_)), "no active chat for it: {inbound:?}");
    }
    assert_eq!((db.count("unrouted_messages"), db.count("messages")), (4, 2), "kept aside, out of the chat");
    // Kept for their retention only: those that arrived before the cut are purged.
    assert_eq!(ok(delivery::purge_unrouted(&mut c, at)), 0, "none arrived before");
    assert_eq!(ok(delivery::purge_unrouted(&mut c, at + Duration::seconds(1))), 3);
    assert_eq!(db.count("unrouted_messages"), 1, "the later one stays");

    let ended = some(ok(delivery::opt_out(&mut c, acme.id, &to, at)), "the ended chat");
    assert_eq!((ended.chat_id, ended.end_user_number.as_str()), (chat.id, CONSUMER));
    assert_eq!(ended.lock_token.as_deref(), Some("lock-1"), "so the session lock can be released");
    let row = some(ok(chats::find(&mut c, acme.id, chat.id)), "the chat").chat;
    assert_eq!((row.status, row.disconnected_by), (ChatStatus::Finished, DisconnectedBy::EndUser));
    assert_eq!(row.ends_at, Some(at));
    assert!(ok(delivery::opt_out(&mut c, acme.id, &to, at)).is_none(), "opting out twice ends nothing");
    let opt_outs = ok(delivery::list_opt_outs(&mut c, acme.id, Window::default())).0;
    let listed: Vec<_> = opt_outs.iter().map(|o| (o.tenant_id, o.number.as_str(), o.created_at)).collect();
    assert_eq!(listed, [(acme.id, CONSUMER, at)], "one opt-out, however often");
    assert!(ok(delivery::list_opt_outs(&mut c, globex.id, Window::default())).0.is_empty());
    assert!(!ok(delivery::opt_in(&mut c, globex.id, CONSUMER)), "not opted out of that tenant");
    assert!(ok(delivery::opt_in(&mut c, acme.id, CONSUMER)));
    assert!(!ok(delivery::opt_in(&mut c, acme.id, CONSUMER)), "opted in already");
    assert!(ok(delivery::list_opt_outs(&mut c, acme.id, Window::default())).0.is_empty());
}

fn idempotency_keys(db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex, now) = (tenant(&mut c, "acme"), tenant(&mut c, "globex"), now_millis());
    let (second, day) = (Duration::seconds(1), now + Duration::hours(24));
    let owned = |key: &'static str, token: &'static str| Lease { tenant_id: acme.id, key, token };
    let begin = |c: &mut DbConn, key: &'static str, hash: &str, at: NaiveDateTime| {
        ok(idempotency::begin(c, owned(key, "mine"), hash, at, lease(at), day))
    };
    assert_eq!(begin(&mut c, "k1", "h1", now), Begin::Started);
    assert_eq!(begin(&mut c, "k1", "h1", now), Begin::Running, "leased to the first request");
    assert_eq!(begin(&mut c, "k1", "h2", now), Begin::Mismatch, "another body");
    let theirs_lease = Lease { tenant_id: globex.id, key: "k1", token: "theirs" };
    let theirs = ok(idempotency::begin(&mut c, theirs_lease, "h2", now, lease(now), day));
    assert_eq!(theirs, Begin::Started, "keys are per tenant");
    assert!(!ok(idempotency::finish(&mut c, owned("k1", "not-mine"), 201, "{}")), "only the lease's holder");
    assert!(!ok(idempotency::abandon(&mut c, owned("k1", "not-mine"))), "only the lease's holder");
    assert!(ok(idempotency::finish(&mut c, owned("k1", "mine"), 201, "{\"id\":1}")));
    assert_eq!(begin(&mut c, "k1", "h1", now + second), Begin::Replay { status: 201, body: "{\"id\":1}".into() });
    assert_eq!(begin(&mut c, "k1", "h2", now + second), Begin::Mismatch);
    assert!(!ok(idempotency::abandon(&mut c, owned("k1", "mine"))), "an answered key is not given up");
    assert_eq!(begin(&mut c, "k4", "h1", now), Begin::Started);
    assert!(ok(idempotency::abandon(&mut c, owned("k4", "mine"))));
    assert_eq!(begin(&mut c, "k4", "h1", now), Begin::Started, "forgotten after a server fault");

    assert_eq!(begin(&mut c, "k2", "h1", now), Begin::Started);
    assert_eq!(begin(&mut c, "k2", "h1", now + second * 10), Begin::Running);
    let taken =
        ok(idempotency::begin(&mut c, owned("k2", "second"), "h1", now + second * 31, lease(now + second * 31), day));
    assert_eq!(taken, Begin::Started, "taken over once the lease passed");
    assert_eq!(begin(&mut c, "k2", "h1", now + second * 40), Begin::Running, "under the new lease");
    assert!(!ok(idempotency::finish(&mut c, owned("k2", "mine"), 200, "{}")), "the first holder lost its lease");
    assert!(ok(idempotency::finish(&mut c, owned("k2", "second"), 200, "{}")), "the new holder records");

    let hour = now + Duration::hours(1);
    assert_eq!(ok(idempotency::begin(&mut c, owned("k3", "mine"), "h1", now, lease(now), hour)), Begin::Started);
    let fresh = ok(idempotency::begin(&mut c, owned("k3", "mine"), "h2", hour, lease(hour), now + Duration::hours(48)));
    assert_eq!(fresh, Begin::Started, "an expired key is used afresh, whatever its body");
    assert_eq!(db.count("idempotency_keys"), 5);
    assert_eq!(ok(idempotency::purge_expired(&mut c, day)), 4, "the keys expiring by then");
    assert_eq!((ok(idempotency::purge_expired(&mut c, day)), db.count("idempotency_keys")), (0, 1));
}

fn pool_and_transactions(db: &TestDb, store: &Store) {
    let sqlite = matches!(db, TestDb::Sqlite { .. });
    let backend = if sqlite { sms_store::Backend::Sqlite } else { sms_store::Backend::Postgres };
    assert_eq!((store.backend(), ok(DbUrl::parse(db.url())).backend()), (backend, backend));
    ok(store.ping());
    ok(store.migrate());
    assert_eq!(store.pool_state(), (0, DEFAULT_POOL_SIZE), "nothing checked out");
    let (mut c, other) = (conn(store), conn(store));
    assert_eq!(store.pool_state(), (2, DEFAULT_POOL_SIZE));
    drop(other);
    assert_eq!(store.pool_state(), (1, DEFAULT_POOL_SIZE));

    let failed: Result<(), StoreError> = sms_store::transaction(&mut c, |conn| {
        tenant(conn, "ghost");
        Err(StoreError::Conflict)
    });
    assert!(matches!(failed, Err(StoreError::Conflict)), "the closure's error is answered");
    assert!(ok(tenants::find_by_subdomain(&mut c, "ghost")).is_none(), "and everything is rolled back");
    assert_eq!(db.count("tenants"), 0);

    let joined = sms_store::transaction(&mut c, |conn| {
        let outer = tenant(conn, "outer");
        let inner: Result<(), StoreError> = sms_store::transaction(conn, |conn| {
            tenant(conn, "inner");
            Err(StoreError::Conflict)
        });
        assert!(matches!(inner, Err(StoreError::Conflict)));
        Ok::<_, StoreError>(outer.id)
    });
    assert!(ok(joined) > 0);
    let names: Vec<String> =
        ok(store.with_conn(|c| tenants::list(c, Window::default()))).0.into_iter().map(|t| t.subdomain).collect();
    assert_eq!(names, ["outer", "inner"], "the inner call joined the outer transaction: no savepoint undid it");

    c.mark_suspect();
    drop(c);
    ok(store.ping());
    assert_eq!(store.pool_state(), (0, DEFAULT_POOL_SIZE), "a suspect connection is tested, then reused");
    assert!(StoreError::Unavailable("down".into()).connection_fault() && !StoreError::Conflict.connection_fault());
    assert!(!StoreError::ActiveChat { chat_id: None }.may_be_connection_fault());
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::run(super::Backend::Sqlite, super::$name) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::run(super::Backend::Postgres, super::$name) } )*
        }
    };
}

on_both_backends! {
    tenant_lifecycle, token_lifecycle, number_registry, agent_directory, opening_chats, reading_chats, ending_chats,
    idle_chats_expire, delivery_outbox, delivery_sent_together, event_deliveries_leased, replies_and_opt_outs, idempotency_keys, pool_and_transactions,
}
