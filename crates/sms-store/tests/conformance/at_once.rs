//! The usual send and an agent's usual reply in one statement each (`chats::open_at_once`,
//! `chats::reply_at_once`): written on PostgreSQL only when every check the statement carries
//! passes, and never on SQLite, whose transaction writes every send and reply.

use chrono::{Duration, NaiveDateTime};
use sms_domain::time::now_millis;
use sms_domain::{ChatId, ChatStatus, DeliveryStatus, Direction, DisconnectedBy, EndpointFormat, TenantId};
use sms_store::chats::{self, Leases, NewChatSpec, OpenedAtOnce, Replied, Reserved, UsualReply};
use sms_store::endpoints::{self, NewEndpoint};
use sms_store::events::NewEvent;
use sms_store::{opt_outs, DbConn, Store, Window};
use sms_test_support::TestDb;

use crate::common::{
    conn, created, num, ok, run, sender, some, spec, CONSUMER, CONSUMER_2, CONSUMER_3, OTHER_OUTBOUND, OUTBOUND,
};
use crate::events::new_endpoint;

/// A `ccai` endpoint of the tenant, receiving `kinds`.
fn ccai_endpoint(conn: &mut DbConn, tenant_id: TenantId, kinds: &str, now: NaiveDateTime) {
    let format = EndpointFormat::Ccai.as_str().into();
    ok(endpoints::create(
        conn,
        &NewEndpoint { format, ..new_endpoint(tenant_id, "http://127.0.0.1:9/ccai", kinds, now) },
    ));
}

fn usual(now: NaiveDateTime) -> UsualReply<'static> {
    UsualReply {
        body: "Your order shipped today.",
        segments: 1,
        media: None,
        now,
        session_timeout: Duration::minutes(10),
        unless_ccai_receives: "message.received",
    }
}

fn at_once(c: &mut DbConn, tenant_id: TenantId, chat_id: ChatId, reply: &UsualReply<'_>) -> Option<Replied> {
    ok(chats::reply_at_once(c, tenant_id, chat_id, reply))
}

fn a_usual_reply_is_written_at_once(db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex) = (sender(&mut c, "acme", OUTBOUND), sender(&mut c, "globex", OTHER_OUTBOUND));
    let (from, opened) = (num(OUTBOUND), now_millis());
    let chat = created(&mut c, &spec(acme.id, &num(CONSUMER), &from, opened)).chat;
    let now = opened + Duration::seconds(30);
    let written = at_once(&mut c, acme.id, chat.id, &usual(now));
    if !store.writes_at_once() {
        assert!(written.is_none(), "SQLite writes every reply in its transaction");
        assert_eq!(db.count("messages"), 1);
        return;
    }
    let replied = some(written, "the reply");
    let m = &replied.message;
    assert_eq!(
        (m.chat_id, m.tenant_id, m.direction, m.delivery_status),
        (Some(chat.id), acme.id, Direction::Outbound, DeliveryStatus::Queued)
    );
    assert_eq!(
        (m.body.as_str(), m.segments, m.from_number.as_str(), m.to_number.as_str()),
        ("Your order shipped today.", 1, OUTBOUND, CONSUMER)
    );
    assert_eq!((m.agent_id, m.media.as_deref(), m.automatic.as_deref(), m.attempts), (None, None, None, 0));
    assert_eq!((m.created_at, m.updated_at, m.next_attempt_at), (now, now, None));
    let moved = &replied.chat;
    assert_eq!((moved.id, moved.status, moved.agent_id), (chat.id, ChatStatus::Selecting, None));
    assert_eq!((moved.last_activity_at, moved.expires_at, moved.updated_at), (now, now + Duration::minutes(10), now));
    assert_eq!((replied.end_user_number.as_str(), replied.assigned), (CONSUMER, false));
    let stored = some(ok(chats::find_chat(&mut c, acme.id, chat.id)), "the chat");
    assert_eq!((stored.expires_at, stored.created_at), (moved.expires_at, chat.created_at), "stored as answered");
    let messages = ok(chats::messages(&mut c, chat.id, Window::default())).0;
    assert_eq!(messages.iter().map(|m| m.id).collect::<Vec<_>>().last(), Some(&m.id));

    // Each refusal writes nothing.
    assert!(at_once(&mut c, globex.id, chat.id, &usual(now)).is_none(), "another tenant's chat");
    assert!(at_once(&mut c, acme.id, ChatId::new(chat.id.get() + 1000), &usual(now)).is_none(), "no such chat");
    let late = moved.expires_at + Duration::seconds(1);
    assert!(at_once(&mut c, acme.id, chat.id, &usual(late)).is_none(), "past its timeout");
    let quitter = created(&mut c, &spec(acme.id, &num(CONSUMER_2), &from, opened)).chat;
    assert!(ok(opt_outs::record(&mut c, acme.id, &num(CONSUMER_2), Default::default(), now)));
    assert!(at_once(&mut c, acme.id, quitter.id, &usual(now)).is_none(), "the consumer opted out");
    let ended = created(&mut c, &spec(acme.id, &num(CONSUMER_3), &from, opened)).chat;
    assert!(ok(chats::finish(&mut c, &ended, DisconnectedBy::Agent, now, now)));
    assert!(at_once(&mut c, acme.id, ended.id, &usual(now)).is_none(), "the chat ended");
    assert_eq!(db.count("messages"), 4, "three first messages and one reply");

    // A `ccai` endpoint that receives the type keeps the reply for the transaction; one of
    // another tenant, or one receiving other types, does not.
    ccai_endpoint(&mut c, globex.id, "message.received", now);
    ccai_endpoint(&mut c, acme.id, "chat.created message.received.x", now);
    assert!(at_once(&mut c, acme.id, chat.id, &usual(now)).is_some());
    ccai_endpoint(&mut c, acme.id, "chat.created message.received", now);
    assert!(at_once(&mut c, acme.id, chat.id, &usual(now)).is_none(), "a ccai endpoint receives the type");
    assert_eq!(db.count("messages"), 5);
}

/// The tables a send writes, counted.
fn written_rows(db: &TestDb) -> [i64; 6] {
    ["end_users", "chats", "participants", "messages", "events", "webhook_deliveries"].map(|t| db.count(t))
}

const FOR_CCAI: [&str; 2] = ["chat.created", "message.received"];

fn open_at_once(c: &mut DbConn, spec: &NewChatSpec<'_>, reserved: &Reserved) -> Option<OpenedAtOnce> {
    let leases = Leases { deliveries: Some(spec.now + Duration::seconds(30)), message: None };
    open_leased(c, spec, reserved, leases)
}

fn open_leased(c: &mut DbConn, spec: &NewChatSpec<'_>, reserved: &Reserved, leases: Leases) -> Option<OpenedAtOnce> {
    let event_id = format!("evt_{}", reserved.chat_id.get());
    let event = NewEvent {
        tenant_id: spec.tenant_id,
        event_id: &event_id,
        event_type: "chat.created",
        payload: "{\"type\":\"chat.created\"}",
        at: spec.now,
    };
    ok(chats::open_at_once(c, spec, reserved, &event, leases, &FOR_CCAI))
}

fn reserve(c: &mut DbConn, spec: &NewChatSpec<'_>) -> Reserved {
    some(ok(chats::reserve(c, spec.tenant_id, spec.end_user_number)), "ids reserved")
}

fn reserve_and_open(c: &mut DbConn, spec: &NewChatSpec<'_>) -> Option<OpenedAtOnce> {
    let reserved = reserve(c, spec);
    open_at_once(c, spec, &reserved)
}

fn a_usual_send_is_written_at_once(db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex) = (sender(&mut c, "acme", OUTBOUND), sender(&mut c, "globex", OTHER_OUTBOUND));
    let (from, to, now) = (num(OUTBOUND), num(CONSUMER), now_millis());
    let first = spec(acme.id, &to, &from, now);
    if !store.writes_at_once() {
        assert!(ok(chats::reserve(&mut c, acme.id, &to)).is_none(), "SQLite opens every chat in its transaction");
        return;
    }
    let hook = new_endpoint(acme.id, "http://127.0.0.1:9/crm", "chat.created", now);
    ok(endpoints::create(&mut c, &hook));
    ok(endpoints::create(&mut c, &new_endpoint(acme.id, "http://127.0.0.1:9/other", "chat.ended", now)));

    // The chat as written is exactly the one its event was rendered from.
    let reserved = reserve(&mut c, &first);
    let opened = some(open_at_once(&mut c, &first, &reserved), "the chat");
    let predicted = reserved.bundle(&first);
    assert_eq!(format!("{:?}", opened.bundle), format!("{predicted:?}"));
    let stored = some(ok(chats::find(&mut c, acme.id, reserved.chat_id)), "the stored chat");
    assert_eq!(format!("{stored:?}"), format!("{predicted:?}"), "stored as rendered");
    let chat = &stored.chat;
    assert_eq!((chat.status, chat.agent_id, chat.lock_token.as_deref()), (ChatStatus::Selecting, None, Some("lock-1")));
    assert_eq!((chat.created_at, chat.expires_at), (now, now + Duration::minutes(10)));
    let message = crate::common::outbound(&mut c, chat.id);
    assert_eq!(
        (message.body.as_str(), message.delivery_status, message.from_number.as_str(), message.to_number.as_str()),
        ("Hello there", DeliveryStatus::Queued, OUTBOUND, CONSUMER)
    );
    assert_eq!((message.attempts, message.locked_until, opened.message_leased), (0, None, None), "due for a claim");
    assert_eq!((opened.deliveries, opened.leased.len()), (1, 1), "one endpoint receives chat.created");
    assert_eq!(
        db.text("SELECT event_type || ' ' || event_id || ' ' || payload FROM events"),
        format!("chat.created evt_{} {{\"type\":\"chat.created\"}}", chat.id.get())
    );
    assert_eq!(
        db.text("SELECT status || ' ' || CAST(attempts AS TEXT) || ' ' || CAST(endpoint_id = (SELECT min(id) FROM webhook_endpoints) AS TEXT) FROM webhook_deliveries"),
        "pending 1 true",
        "leased to this instance, its first attempt counted"
    );
    assert_eq!(written_rows(db), [1, 1, 1, 1, 1, 1]);

    // Each refusal writes nothing.
    let busy = spec(acme.id, &to, &from, now + Duration::seconds(1));
    assert!(reserve_and_open(&mut c, &busy).is_none(), "the consumer has an active chat");
    let (to_2, to_3) = (num(CONSUMER_2), num(CONSUMER_3));
    let unowned = spec(globex.id, &to_2, &from, now);
    assert!(reserve_and_open(&mut c, &unowned).is_none(), "not the tenant's number");
    assert!(ok(opt_outs::record(&mut c, acme.id, &to_2, Default::default(), now)));
    let quitter = spec(acme.id, &to_2, &from, now);
    assert!(reserve_and_open(&mut c, &quitter).is_none(), "the consumer opted out");
    let third = spec(acme.id, &to_3, &from, now);
    let stale = reserve(&mut c, &third);
    let agent = ok(sms_store::agents::create(&mut c, &crate::common::new_agent(acme.id, "ana@example.com")));
    assert!(open_at_once(&mut c, &NewChatSpec { agent: Some(&agent), ..third.clone() }, &stale).is_none(), "an agent");
    assert_eq!(written_rows(db), [1, 1, 1, 1, 1, 1]);

    // An end user written after the reservation, by anyone, stops it; a known one is reused.
    let meanwhile = created(&mut c, &third);
    assert!(ok(chats::finish(&mut c, &meanwhile.chat, DisconnectedBy::Agent, now, now)));
    assert!(open_at_once(&mut c, &third, &stale).is_none(), "the end user is not the reserved one");
    let again = reserve(&mut c, &third);
    assert_eq!(again.end_user_id, meanwhile.chat.end_user_id);
    let reopened = some(open_at_once(&mut c, &third, &again), "a chat for a known consumer");
    assert_eq!(format!("{:?}", reopened.bundle), format!("{:?}", again.bundle(&third)));
    assert_eq!(written_rows(db), [2, 3, 3, 3, 2, 2]);

    // A `ccai` endpoint that receives chat.created or message.received keeps the send for the
    // transaction; one of another tenant, or one receiving other types, does not.
    assert!(ok(chats::finish(&mut c, &reopened.bundle.chat, DisconnectedBy::Agent, now, now)));
    ccai_endpoint(&mut c, globex.id, "chat.created", now);
    ccai_endpoint(&mut c, acme.id, "chat.ended message.status_updated", now);
    assert!(reserve_and_open(&mut c, &third).is_some());
    let active = some(ok(chats::active_chat(&mut c, acme.id, &to_3)), "the chat opened at once");
    assert!(ok(chats::finish(&mut c, &active, DisconnectedBy::Agent, now, now)));
    ccai_endpoint(&mut c, acme.id, "message.received", now);
    assert!(reserve_and_open(&mut c, &third).is_none(), "a ccai endpoint receives it");
}

/// A send whose message this instance's delivery worker has room for writes it leased to that
/// worker, as a claim would have left it: `sending`, its first attempt counted, no other
/// worker's claim taking it until the lease runs out.
fn a_usual_send_leases_its_message(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    if !store.writes_at_once() {
        return;
    }
    let acme = sender(&mut c, "acme", OUTBOUND);
    let (from, to, now) = (num(OUTBOUND), num(CONSUMER), now_millis());
    let first = spec(acme.id, &to, &from, now);
    let lease = now + Duration::seconds(90);
    let reserved = reserve(&mut c, &first);
    let opened =
        some(open_leased(&mut c, &first, &reserved, Leases { deliveries: None, message: Some(lease) }), "the chat");
    let message = crate::common::outbound(&mut c, opened.bundle.chat.id);
    assert_eq!(opened.message_leased, Some(message.id));
    assert_eq!(
        (message.delivery_status, message.attempts, message.locked_until),
        (DeliveryStatus::Sending, 1, Some(lease)),
        "leased to this instance's worker, its first attempt counted"
    );
    assert_eq!(opened.leased, Vec::new(), "the event's deliveries were not leased");
    let claimed = ok(sms_store::outbox::claim_ids(&mut c, now + Duration::seconds(1), now + Duration::seconds(60), 10));
    assert_eq!(claimed, Vec::new(), "no claim takes a leased message");
    let claimed =
        ok(sms_store::outbox::claim_ids(&mut c, lease + Duration::seconds(1), lease + Duration::seconds(60), 10));
    assert_eq!(claimed, vec![message.id], "once its lease runs out, any worker claims it");
}

sms_test_support::on_both_backends!(
    attr = test, run = run;
    a_usual_send_is_written_at_once,
    a_usual_send_leases_its_message,
    a_usual_reply_is_written_at_once,
);
