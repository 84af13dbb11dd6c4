//! An agent's usual reply in one statement (`chats::reply_at_once`): written on PostgreSQL only
//! when every check the statement carries passes, and never on SQLite, whose transaction
//! writes every reply.

use chrono::{Duration, NaiveDateTime};
use sms_domain::time::now_millis;
use sms_domain::{ChatId, ChatStatus, DeliveryStatus, Direction, DisconnectedBy, EndpointFormat, TenantId};
use sms_store::chats::{self, Replied, UsualReply};
use sms_store::endpoints::{self, NewEndpoint};
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

sms_test_support::on_both_backends!(
    attr = test, run = run;
    a_usual_reply_is_written_at_once,
);
