//! The usual send and an agent's usual reply in one statement each (`chats::open_at_once`,
//! `chats::reply_at_once`): written on PostgreSQL only when every check the statement carries
//! passes, and never on SQLite, whose transaction writes every send and reply.

use chrono::{Duration, NaiveDateTime};
use sms_domain::time::now_millis;
use sms_domain::{ChatId, ChatStatus, DeliveryStatus, Direction, DisconnectedBy, EndpointFormat, TenantId};
use sms_store::chats::{
    self, CreatedEvent, Leases, NewChatSpec, OpenedAtOnce, Replied, StandIns, Template, UsualReply,
};
use sms_store::endpoints::{self, NewEndpoint};
use sms_store::{opt_outs, ChatBundle, DbConn, Store, Window};
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

/// A payload naming the chat's ids as `chat.created` does: the chat's, its end user's (twice)
/// and its participant's.
fn payload_of(bundle: &ChatBundle) -> String {
    let (chat, participant) = (&bundle.chat, &bundle.participants[0]);
    format!(
        "{{\"type\":\"chat.created\",\"chat\":{{\"id\":{},\"ticket\":\"{}\",\"end_user\":{{\"id\":{}}},\
         \"participants\":[{{\"id\":{},\"end_user_id\":{}}}]}}}}",
        chat.id.get(),
        chat.ticket_id.as_deref().unwrap_or_default(),
        chat.end_user_id.get(),
        participant.id,
        chat.end_user_id.get(),
    )
}

fn open_at_once(c: &mut DbConn, spec: &NewChatSpec<'_>) -> Option<OpenedAtOnce> {
    let leases = Leases { deliveries: Some(spec.now + Duration::seconds(30)), message: None };
    open_leased(c, spec, leases)
}

fn open_leased(c: &mut DbConn, spec: &NewChatSpec<'_>, leases: Leases) -> Option<OpenedAtOnce> {
    static EVENTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let event_id = format!("evt_{}", EVENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let (first, second) = (payload_of(&StandIns::FIRST.bundle(spec)), payload_of(&StandIns::SECOND.bundle(spec)));
    let payload = some(Template::cut(&first, &second), "the payload cut alike");
    let event = CreatedEvent { event_id: &event_id, event_type: "chat.created", payload, at: spec.now };
    ok(chats::open_at_once(c, spec, &event, leases, &FOR_CCAI))
}

/// `bundle` with the stand-ins' digits in its text replaced by the ids `as_written` has.
fn with_ids_of(bundle: &ChatBundle, as_written: &ChatBundle) -> String {
    let ids = |b: &ChatBundle| [b.chat.id.get(), b.chat.end_user_id.get(), b.participants[0].id].map(|i| i.to_string());
    ids(bundle).iter().zip(ids(as_written)).fold(format!("{bundle:?}"), |text, (from, to)| text.replace(from, &to))
}

fn a_usual_send_is_written_at_once(db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex) = (sender(&mut c, "acme", OUTBOUND), sender(&mut c, "globex", OTHER_OUTBOUND));
    let (from, to, now) = (num(OUTBOUND), num(CONSUMER), now_millis());
    let first = spec(acme.id, &to, &from, now);
    if !store.writes_at_once() {
        assert!(open_at_once(&mut c, &first).is_none(), "SQLite opens every chat in its transaction");
        assert_eq!(written_rows(db), [0, 0, 0, 0, 0, 0]);
        return;
    }
    // Each kind of id from its own range, so that one in another's place shows.
    db.execute(
        "SELECT setval('chats_id_seq', 100), setval('end_users_id_seq', 2000), setval('participants_id_seq', 30000)",
    );
    let hook = new_endpoint(acme.id, "http://127.0.0.1:9/crm", "chat.created", now);
    ok(endpoints::create(&mut c, &hook));
    ok(endpoints::create(&mut c, &new_endpoint(acme.id, "http://127.0.0.1:9/other", "chat.ended", now)));

    // The chat as written is the one its event was rendered from, with the ids the statement
    // took, and the event's payload names them where the stand-ins stood.
    let opened = some(open_at_once(&mut c, &first), "the chat");
    let predicted = with_ids_of(&StandIns::FIRST.bundle(&first), &opened.bundle);
    assert_eq!(format!("{:?}", opened.bundle), predicted);
    let chat_id = opened.bundle.chat.id;
    let stored = some(ok(chats::find(&mut c, acme.id, chat_id)), "the stored chat");
    assert_eq!(format!("{stored:?}"), predicted, "stored as rendered");
    let ids = db.text(
        "SELECT (SELECT id FROM chats) || ' ' || (SELECT id FROM end_users) || ' ' || (SELECT id FROM participants)",
    );
    assert_eq!(
        ids,
        format!("{} {} {}", chat_id.get(), stored.chat.end_user_id.get(), stored.participants[0].id),
        "the ids are the rows'"
    );
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
        db.text("SELECT event_type || ' ' || payload FROM events"),
        format!("chat.created {}", payload_of(&stored)),
        "the payload names the written ids"
    );
    assert_eq!(
        db.text("SELECT status || ' ' || CAST(attempts AS TEXT) || ' ' || CAST(endpoint_id = (SELECT min(id) FROM webhook_endpoints) AS TEXT) FROM webhook_deliveries"),
        "pending 1 true",
        "leased to this instance, its first attempt counted"
    );
    assert_eq!(written_rows(db), [1, 1, 1, 1, 1, 1]);

    // Each refusal writes nothing.
    let busy = spec(acme.id, &to, &from, now + Duration::seconds(1));
    assert!(open_at_once(&mut c, &busy).is_none(), "the consumer has an active chat");
    let (to_2, to_3) = (num(CONSUMER_2), num(CONSUMER_3));
    let unowned = spec(globex.id, &to_2, &from, now);
    assert!(open_at_once(&mut c, &unowned).is_none(), "not the tenant's number");
    assert!(ok(opt_outs::record(&mut c, acme.id, &to_2, Default::default(), now)));
    let quitter = spec(acme.id, &to_2, &from, now);
    assert!(open_at_once(&mut c, &quitter).is_none(), "the consumer opted out");
    let third = spec(acme.id, &to_3, &from, now);
    let agent = ok(sms_store::agents::create(&mut c, &crate::common::new_agent(acme.id, "ana@example.com")));
    assert!(open_at_once(&mut c, &NewChatSpec { agent: Some(&agent), ..third.clone() }).is_none(), "an agent");
    let odd = NewChatSpec { ticket_id: Some("7391026458310274401"), ..third.clone() };
    let (first_text, second_text) =
        (payload_of(&StandIns::FIRST.bundle(&odd)), payload_of(&StandIns::SECOND.bundle(&odd)));
    assert_eq!(Template::cut(&first_text, &second_text), None, "a ticket id with a stand-in's digits");
    assert_eq!(written_rows(db), [1, 1, 1, 1, 1, 1]);

    // An end user for the number written by someone else while the statement runs stops it;
    // a known one is reused.
    end_user_written_meanwhile(db, &mut c, &third);
    assert_eq!(written_rows(db), [2, 1, 1, 1, 1, 1], "the other's end user, nothing of the send");
    let known = db.text(&format!("SELECT CAST(id AS TEXT) FROM end_users WHERE number = '{CONSUMER_3}'"));
    let reopened = some(open_at_once(&mut c, &third), "a chat for a known consumer");
    assert_eq!(reopened.bundle.chat.end_user_id.get().to_string(), known);
    assert_eq!(format!("{:?}", reopened.bundle), with_ids_of(&StandIns::FIRST.bundle(&third), &reopened.bundle));
    assert_eq!(written_rows(db), [2, 2, 2, 2, 2, 2]);

    // A `ccai` endpoint that receives chat.created or message.received keeps the send for the
    // transaction; one of another tenant, or one receiving other types, does not.
    assert!(ok(chats::finish(&mut c, &reopened.bundle.chat, DisconnectedBy::Agent, now, now)));
    ccai_endpoint(&mut c, globex.id, "chat.created", now);
    ccai_endpoint(&mut c, acme.id, "chat.ended message.status_updated", now);
    assert!(open_at_once(&mut c, &third).is_some());
    let active = some(ok(chats::active_chat(&mut c, acme.id, &to_3)), "the chat opened at once");
    assert!(ok(chats::finish(&mut c, &active, DisconnectedBy::Agent, now, now)));
    ccai_endpoint(&mut c, acme.id, "message.received", now);
    assert!(open_at_once(&mut c, &third).is_none(), "a ccai endpoint receives it");
}

/// Another session inserts the end user for `spec`'s consumer and commits only once the
/// statement waits for it: the statement, which found no end user, writes nothing.
fn end_user_written_meanwhile(db: &TestDb, c: &mut DbConn, spec: &NewChatSpec<'_>) {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection};
    let mut other = PgConnection::establish(db.url()).unwrap_or_else(|e| panic!("another session: {e}"));
    let insert = format!(
        "BEGIN; INSERT INTO end_users (tenant_id, number, created_at) VALUES ({}, '{}', now())",
        spec.tenant_id.get(),
        spec.end_user_number.as_str()
    );
    other.batch_execute(&insert).unwrap_or_else(|e| panic!("{insert}: {e}"));
    let written = std::thread::scope(|s| {
        let statement = s.spawn(|| open_at_once(c, spec));
        let waiting = "SELECT CAST(count(*) AS TEXT) FROM pg_stat_activity \
                       WHERE datname = current_database() AND wait_event_type = 'Lock'";
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while db.text(waiting) == "0" {
            assert!(std::time::Instant::now() < deadline, "the statement never waited for the other session");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        other.batch_execute("COMMIT").unwrap_or_else(|e| panic!("COMMIT: {e}"));
        statement.join().unwrap_or_else(|_| panic!("the statement's thread panicked"))
    });
    assert!(written.is_none(), "an end user written meanwhile stops the statement");
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
    let opened = some(open_leased(&mut c, &first, Leases { deliveries: None, message: Some(lease) }), "the chat");
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
