//! What consumers send: a reply joins the active chat or is kept aside; an opt-out ends the chat.

use chrono::Duration;
use sms_domain::time::now_millis;
use sms_domain::{DeliveryStatus, Direction};
use sms_store::chats;
use sms_store::inbound::{self, Inbound, Reply};
use sms_store::opt_outs;
use sms_store::{Store, Window};
use sms_test_support::TestDb;

use crate::common::{
    conn, created, num, ok, run, sender, some, spec, tenant, CONSUMER, CONSUMER_2, OTHER_OUTBOUND, OUTBOUND,
};

fn replies_and_opt_outs(db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex) = (sender(&mut c, "acme", OUTBOUND), tenant(&mut c, "globex"));
    let (to, from, now) = (num(CONSUMER), num(OUTBOUND), now_millis());
    let chat = created(&mut c, &spec(acme.id, &to, &from, now)).chat;
    let (at, timeout) = (now + Duration::minutes(1), Duration::minutes(10));
    let reply = Reply { from: &to, to: &from, body: "Yes please", segments: 1, sid: Some("SM-in-1"), media: None };
    match ok(inbound::record(&mut c, acme.id, &reply, at, timeout)) {
        Inbound::Joined { chat: joined, end_user_number, message } => {
            assert_eq!((joined.id, joined.last_activity_at, joined.expires_at), (chat.id, at, at + timeout));
            assert_eq!(end_user_number.as_str(), CONSUMER);
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
        let inbound = ok(inbound::record(&mut c, tenant_id, &reply, when, timeout));
        assert!(matches!(inbound, Inbound::Unrouted(_)), "no active chat for it: {inbound:?}");
    }
    assert_eq!((db.count("unrouted_messages"), db.count("messages")), (4, 2), "kept aside, out of the chat");
    // Kept for their retention only: those that arrived before the cut are purged.
    assert_eq!(ok(inbound::purge_unrouted(&mut c, at)), 0, "none arrived before");
    assert_eq!(ok(inbound::purge_unrouted(&mut c, at + Duration::seconds(1))), 3);
    assert_eq!(db.count("unrouted_messages"), 1, "the later one stays");

    assert!(ok(opt_outs::record(&mut c, acme.id, &to, Default::default(), at)), "a new opt-out");
    assert!(ok(opt_outs::contains(&mut c, acme.id, &to)));
    assert!(!ok(opt_outs::record(&mut c, acme.id, &to, Default::default(), at)), "opted out already");
    let listed = ok(opt_outs::list(&mut c, acme.id, Window::default())).0;
    let listed: Vec<_> = listed.iter().map(|o| (o.tenant_id, o.number.as_str(), o.created_at)).collect();
    assert_eq!(listed, [(acme.id, CONSUMER, at)], "one opt-out, however often");
    assert!(ok(opt_outs::list(&mut c, globex.id, Window::default())).0.is_empty());
    assert!(!ok(opt_outs::contains(&mut c, globex.id, &to)), "the opt-out is the tenant's");
    assert!(!ok(opt_outs::remove(&mut c, globex.id, &to)), "not opted out of that tenant");
    assert!(ok(opt_outs::remove(&mut c, acme.id, &to)));
    assert!(!ok(opt_outs::remove(&mut c, acme.id, &to)), "opted in already");
    assert!(ok(opt_outs::list(&mut c, acme.id, Window::default())).0.is_empty());
}

sms_test_support::on_both_backends!(attr = test, run = run; replies_and_opt_outs);
