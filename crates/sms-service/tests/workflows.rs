//! The workflows driven directly, without HTTP, on a real database of each backend, with a clock
//! the test moves: the same function answers whichever path calls it.

// Tests may unwrap: clippy.toml allows it in `#[test]` functions only, not in the helpers here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDateTime};
use sms_delivery::{Outcome, Outcomes, Recording};
use sms_domain::admin::{AgentInput, TenantInput};
use sms_domain::{ChatStatus, DisconnectedBy, SmsError};
use sms_lock::InProcessLock;
use sms_service::live::Seen;
use sms_service::records::Tenant;
use sms_service::{Clock, JwtKeys, Service, ServiceError, ServiceParts};
use sms_store::{outbox, DbUrl, PoolOptions, Store};
use sms_test_support::{Backend, TestDb};

/// A clock that stands still until the test moves it.
struct TestClock(Mutex<NaiveDateTime>);

impl TestClock {
    fn advance(&self, by: Duration) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
}

impl Clock for TestClock {
    fn now(&self) -> NaiveDateTime {
        self.0.lock().map(|t| *t).unwrap_or_default()
    }
}

struct Harness {
    service: Service,
    store: Store,
    clock: Arc<TestClock>,
    _db: TestDb,
}

fn harness(backend: Backend) -> Harness {
    let db = TestDb::create(backend);
    let url = DbUrl::parse(db.url()).unwrap();
    let store = Store::new(&url, PoolOptions::default()).unwrap();
    store.migrate().unwrap();
    let clock = Arc::new(TestClock(Mutex::new(sms_domain::time::now_millis())));
    let parts = ServiceParts::new(store.clone(), Arc::new(InProcessLock::new()), JwtKeys::new(&[7; 32]));
    let service = ServiceParts { clock: clock.clone(), ..parts }.build();
    Harness { service, store, clock, _db: db }
}

async fn tenant(service: &Service) -> Tenant {
    let input = TenantInput {
        subdomain: Some("acme".into()),
        name: Some("Acme".into()),
        session_timeout_minutes: Some(1),
        ..TenantInput::default()
    };
    let draft = input.into_draft().unwrap();
    let tenant = service.create_tenant(draft).await.unwrap();
    service.add_outbound_number("acme", Some("+1 628-555-0199")).await.unwrap();
    tenant
}

const SEND: &[u8] = br#"{"chat_type": "SMS", "end_user_number": "(415) 555-0100",
    "outbound_number": "+16285550199", "message": "hello"}"#;

async fn send_then_refuse_then_end(backend: Backend) {
    let h = harness(backend);
    let tenant = tenant(&h.service).await;
    let chat = h.service.send(&tenant, SEND).await.unwrap();
    assert_eq!(chat.chat.status, ChatStatus::Selecting);
    assert_eq!(chat.chat.outbound_number.as_str(), "+16285550199");
    assert_eq!(chat.participants.len(), 1);

    match h.service.send(&tenant, SEND).await {
        Err(ServiceError::Rejected(SmsError::ActiveSession { chat_id })) => assert_eq!(chat_id, Some(chat.chat.id)),
        other => panic!("expected the active session, got {other:?}"),
    }

    let ended = h.service.end_chat(&tenant, chat.chat.id, DisconnectedBy::Agent, None).await;
    let ended = ended.unwrap();
    assert_eq!(ended.chat.status, ChatStatus::Finished);
    assert_eq!(ended.chat.disconnected_by, DisconnectedBy::Agent);
    assert!(matches!(
        h.service.end_chat(&tenant, chat.chat.id, DisconnectedBy::Agent, None).await,
        Err(ServiceError::Conflict("chat is not active"))
    ));
    // The lock went with the chat: the consumer can be texted again.
    let again = h.service.send(&tenant, SEND).await.unwrap();
    assert_ne!(again.chat.id, chat.chat.id);
}

async fn the_first_fault_in_order_wins(backend: Backend) {
    let h = harness(backend);
    let tenant = tenant(&h.service).await;
    let body = br#"{"chat_type": "SMS", "end_user_number": "4155550100", "outbound_number": "+1 415 555 0199",
        "message": " ", "agentId": 99}"#;
    // Not the tenant's number beats the blank message and the unknown agent.
    assert!(matches!(
        h.service.send(&tenant, body).await,
        Err(ServiceError::Rejected(SmsError::OutboundNumberNotFound))
    ));
    let body = br#"{"chat_type": "SMS", "end_user_number": "4155550100", "outbound_number": "+16285550199",
        "message": "hi", "agentId": 99}"#;
    assert!(matches!(h.service.send(&tenant, body).await, Err(ServiceError::Rejected(SmsError::AgentNotFound))));
    let agent = AgentInput {
        email: Some("jo@acme.test".into()),
        first_name: Some("Jo".into()),
        last_name: Some("Doe".into()),
        ..AgentInput::default()
    };
    let agent = h.service.add_agent("acme", agent.into_draft().unwrap()).await;
    let agent = agent.unwrap();
    let body = format!(
        r#"{{"chat_type": "SMS", "end_user_number": "4155550100", "outbound_number": "+16285550199",
        "message": "hi", "agent_email": "JO@acme.test", "agentId": {}}}"#,
        agent.id
    );
    let chat = h.service.send(&tenant, body.as_bytes()).await.unwrap();
    assert_eq!(chat.chat.status, ChatStatus::Assigned);
    assert_eq!(chat.agent.map(|a| a.id), Some(agent.id));
}

async fn an_idle_chat_ends_at_its_timeout(backend: Backend) {
    let h = harness(backend);
    let tenant = tenant(&h.service).await;
    let chat = h.service.send(&tenant, SEND).await.unwrap();
    assert_eq!(h.service.sweep_once().await.unwrap(), 0);
    h.clock.advance(Duration::minutes(2));
    assert_eq!(h.service.sweep_once().await.unwrap(), 1);
    let read = h.service.chat(&tenant, chat.chat.id).await.unwrap();
    assert_eq!(read.chat.status, ChatStatus::Finished);
    assert_eq!(read.chat.disconnected_by, DisconnectedBy::System);
    assert_eq!(read.chat.ends_at, Some(chat.chat.expires_at));
}

async fn a_chat_past_its_timeout_gives_way_to_a_send(backend: Backend) {
    let h = harness(backend);
    let tenant = tenant(&h.service).await;
    let first = h.service.send(&tenant, SEND).await.unwrap();
    h.clock.advance(Duration::minutes(2));
    // Nobody swept: the send itself ends the old chat, in its own transaction, and opens one.
    let second = h.service.send(&tenant, SEND).await.unwrap();
    assert_ne!(second.chat.id, first.chat.id);
    let old = h.service.chat(&tenant, first.chat.id).await.unwrap();
    assert_eq!(old.chat.status, ChatStatus::Finished);
    assert_eq!(old.chat.disconnected_by, DisconnectedBy::System);
}

/// The next live change a viewer hears about `chat`, within `within`.
async fn heard_of(viewing: &mut sms_service::live::Viewing, chat: i64, within: StdDuration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while let Ok(Ok(seen)) = tokio::time::timeout_at(deadline, viewing.receiver.recv()).await {
        if let Seen::Changed(changes) = seen {
            if changes.iter().any(|c| c.chat == Some(chat)) {
                return true;
            }
        }
    }
    false
}

/// The delivery worker's outcomes reach live pages only once they have committed: on SQLite
/// they are written inside the writer's group, whose commit comes after the work returns, and a
/// page that read the chat on hearing of it earlier would show the message still sending.
async fn outcomes_are_told_after_their_commit(backend: Backend) {
    let h = harness(backend);
    let tenant = tenant(&h.service).await;
    let live = h.service.clone();
    let running = tokio::spawn(async move { live.run_live().await });
    let mut viewing = h.service.watch_live();
    // The feed hears nothing before it runs: a send whose commit came before the spawned task's
    // first turn (a loaded machine) was told to nobody.
    tokio::task::yield_now().await;
    let chat = h.service.send(&tenant, SEND).await.unwrap();
    let id = chat.chat.id.get();
    assert!(heard_of(&mut viewing, id, StdDuration::from_secs(5)).await, "the send is told");

    let now = sms_domain::time::now_millis();
    let store = h.store.clone();
    let jobs = store
        .with_conn(|conn| {
            let ids = outbox::claim_ids(conn, now, now + Duration::seconds(60), 10)?;
            outbox::jobs(conn, &ids)
        })
        .unwrap();
    assert_eq!(jobs.len(), 1);
    let (message, outcomes) = (jobs[0].message.id, h.service.outbox_outcomes());
    let sent = Outcome::Sent { provider_message_id: Some("SM1".into()) };
    let recorded = tokio::task::spawn_blocking(move || {
        store.write(move |conn| outcomes.record(conn, &[(message, sent)], Recording { now, lease: None }))
    })
    .await
    .unwrap()
    .unwrap();
    assert!(!heard_of(&mut viewing, id, StdDuration::from_millis(300)).await, "nothing is told by the write itself");
    (recorded.committed)();
    assert!(heard_of(&mut viewing, id, StdDuration::from_secs(5)).await, "the outcome is told once committed");
    let (tenant_id, chat_id) = (tenant.id, chat.chat.id);
    let touched = h.store.with_conn(move |conn| sms_store::chats::find_chat(conn, tenant_id, chat_id)).unwrap();
    assert_eq!(touched.map(|c| c.updated_at), Some(now), "the message's chat changed when it was sent");
    running.abort();
}

/// On PostgreSQL the usual send writes its message leased to this instance's delivery worker
/// and hands it over once committed: the worker sends it without a claim (its claims here come
/// an hour apart, and none could take a leased message). On SQLite every send is written in its
/// transaction and its message waits for a claim.
async fn a_send_hands_its_message_to_the_delivery_worker(backend: Backend) {
    let db = TestDb::create(backend);
    let store = Store::new(&DbUrl::parse(db.url()).unwrap(), PoolOptions::default()).unwrap();
    store.migrate().unwrap();
    let lease = StdDuration::from_secs(60);
    let (handoff, handed) = sms_delivery::Worker::messages_handoff(8, lease);
    let parts = ServiceParts::new(store.clone(), Arc::new(InProcessLock::new()), JwtKeys::new(&[7; 32]));
    let service = ServiceParts { message_handoff: Some(handoff.clone()), ..parts }.build();
    let tenant = tenant(&service).await;
    let before = sms_domain::time::now_millis();
    let chat = service.send(&tenant, SEND).await.unwrap();
    let message = || {
        let chat_id = chat.chat.id;
        let read = store.with_conn(move |conn| sms_store::chats::messages(conn, chat_id, Default::default()));
        read.unwrap().0.into_iter().next().unwrap()
    };
    let written = message();
    if !store.writes_at_once() {
        assert_eq!((written.delivery_status.as_str(), written.attempts, written.locked_until), ("queued", 0, None));
        return;
    }
    assert_eq!((written.delivery_status.as_str(), written.attempts), ("sending", 1), "written leased");
    let until = written.locked_until.unwrap();
    assert!(until >= before + Duration::seconds(60) && until <= sms_domain::time::now_millis() + Duration::seconds(60));

    let settings = sms_delivery::DeliverySettings {
        poll: StdDuration::from_secs(3600),
        ..sms_delivery::DeliverySettings::default()
    };
    let worker = sms_delivery::Worker::new(
        store.clone(),
        Arc::new(sms_delivery::LogProvider),
        Arc::new(service.outbox_outcomes()),
        settings,
    )
    .with_handed_messages(handoff, handed);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.run(stopped, StdDuration::from_secs(1)));
    let deadline = std::time::Instant::now() + StdDuration::from_secs(5);
    while message().delivery_status.as_str() != "sent" {
        assert!(std::time::Instant::now() < deadline, "the handed message was never sent: {:?}", message());
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    let sent = message();
    assert_eq!((sent.attempts, sent.locked_until), (1, None), "one attempt, its lease ended");
    stop.send_replace(true);
    running.await.unwrap();
}

sms_test_support::on_both_backends!(
    attr = tokio::test;
    a_send_hands_its_message_to_the_delivery_worker,
    outcomes_are_told_after_their_commit,
    send_then_refuse_then_end,
    the_first_fault_in_order_wins,
    an_idle_chat_ends_at_its_timeout,
    a_chat_past_its_timeout_gives_way_to_a_send,
);
