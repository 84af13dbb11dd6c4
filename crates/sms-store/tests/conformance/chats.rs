//! Chats: opened with their participants and first message (or not at all), read, ended once by
//! the conditional update, found past their timeout. (Which chats end, with which events, is the
//! application's chat life, tested in `sms-service`.)

use chrono::Duration;
use sms_domain::time::now_millis;
use sms_domain::{
    AgentId, ChatId, ChatStatus, ChatType, DeliveryStatus, Direction, DisconnectedBy, ParticipantKind,
    ParticipantStatus, TenantId,
};
use sms_store::chats::{self, ChatFilter, NewChatSpec, Opened, Refusal};
use sms_store::{agents, numbers, opt_outs, ChatBundle, DbConn, Store, Window};
use sms_test_support::TestDb;

use crate::common::{
    conn, created, new_agent, num, ok, open, run, sender, some, spec, tenant, CONSUMER, CONSUMER_2, CONSUMER_3,
    OTHER_OUTBOUND, OUTBOUND, UNREGISTERED,
};

fn kinds(bundle: &ChatBundle) -> Vec<(ParticipantKind, ParticipantStatus, Option<AgentId>)> {
    bundle.participants.iter().map(|p| (p.kind, p.status, p.user_id)).collect()
}

fn page(conn: &mut DbConn, tenant_id: TenantId, filter: ChatFilter) -> (Vec<ChatId>, i64) {
    let (rows, total) = ok(chats::list(conn, tenant_id, &filter));
    (rows.into_iter().map(|bundle| bundle.chat.id).collect(), total)
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
    assert!(ok(opt_outs::record(&mut c, acme.id, &stranger, Default::default(), now)));
    let opted_out = open(&mut c, &spec(acme.id, &stranger, &from, now));
    assert!(matches!(opted_out, Opened::Refused(Refusal::OptedOut)), "{opted_out:?}");
    let counts = ["chats", "participants", "messages", "end_users"].map(|table| db.count(table));
    assert_eq!(counts, [2, 3, 2, 2], "a busy consumer or a refusal writes nothing");
}

fn reading_chats(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex) = (sender(&mut c, "acme", OUTBOUND), sender(&mut c, "globex", OTHER_OUTBOUND));
    let (from, now) = (num(OUTBOUND), now_millis());
    let mut ids: Vec<ChatId> = [CONSUMER, CONSUMER_2, CONSUMER_3]
        .into_iter()
        .map(|to| created(&mut c, &spec(acme.id, &num(to), &from, now)).chat.id)
        .collect();
    let first = some(ok(chats::find_chat(&mut c, acme.id, ids[0])), "the first chat");
    assert!(ok(chats::finish(&mut c, &first, DisconnectedBy::Agent, now, now)));
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
    assert!(ok(chats::messages(&mut c, ChatId::new(theirs.get() + 1000), Window::default())).0.is_empty());
}

/// What an agent's reply must know of its chat, read together: the consumer's number, the
/// outbound number still the tenant's, the consumer's opt-out, and nothing of another tenant.
fn a_chats_context_is_read_in_one(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex) = (sender(&mut c, "acme", OUTBOUND), sender(&mut c, "globex", OTHER_OUTBOUND));
    let (to, from, now) = (num(CONSUMER), num(OUTBOUND), now_millis());
    let chat = created(&mut c, &spec(acme.id, &to, &from, now)).chat;
    let read = |c: &mut DbConn| {
        let context = some(ok(chats::context(c, acme.id, chat.id)), "the chat's context");
        assert_eq!((context.chat.id, context.end_user_number.as_str()), (chat.id, CONSUMER));
        (context.outbound_owned, context.opted_out)
    };
    assert_eq!(read(&mut c), (true, false));
    assert!(ok(opt_outs::record(&mut c, globex.id, &to, Default::default(), now)));
    assert_eq!(read(&mut c), (true, false), "another tenant's opt-out is theirs");
    assert!(ok(opt_outs::record(&mut c, acme.id, &to, Default::default(), now)));
    assert_eq!(read(&mut c), (true, true));
    let numbers = ok(numbers::list(&mut c, acme.id, Window::default())).0;
    for number in numbers {
        assert!(ok(numbers::delete(&mut c, acme.id, number.id)).is_some());
    }
    assert_eq!(read(&mut c), (false, true), "the tenant no longer owns the number");
    assert!(ok(chats::context(&mut c, globex.id, chat.id)).is_none(), "another tenant's chat");
    assert!(ok(chats::context(&mut c, acme.id, ChatId::new(chat.id.get() + 1000))).is_none());
}

fn ending_chats(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let (acme, globex) = (sender(&mut c, "acme", OUTBOUND), tenant(&mut c, "globex"));
    let ada = ok(agents::create(&mut c, &new_agent(acme.id, "ada@example.com")));
    let (to, from, now) = (num(CONSUMER), num(OUTBOUND), now_millis());
    let chat = created(&mut c, &NewChatSpec { agent: Some(&ada), ..spec(acme.id, &to, &from, now) }).chat;
    let later = now + Duration::seconds(90);
    assert!(ok(chats::finish(&mut c, &chat, DisconnectedBy::Agent, later, later)), "an active chat ends");
    let bundle = some(ok(chats::find(&mut c, acme.id, chat.id)), "the ended chat");
    let row = &bundle.chat;
    assert_eq!((row.status, row.disconnected_by), (ChatStatus::Finished, DisconnectedBy::Agent));
    assert_eq!((row.ends_at, row.duration_seconds()), (Some(later), 90));
    let parts: Vec<_> = bundle.participants.iter().map(|p| (p.status, p.ended_at, p.chat_duration)).collect();
    assert_eq!(parts, [(ParticipantStatus::Disconnected, Some(later), Some(90)); 2], "both disconnected");
    assert!(!ok(chats::finish(&mut c, &chat, DisconnectedBy::System, later, later)), "a chat ends once");
    assert_eq!(some(ok(chats::find_chat(&mut c, acme.id, chat.id)), "the chat").disconnected_by, DisconnectedBy::Agent);
    // Who held the consumer's lock, whatever the chat's status now; nobody for another token,
    // another consumer or another tenant.
    let owner = some(ok(chats::lock_owner(&mut c, acme.id, &to, "lock-1")), "the lock's chat");
    assert_eq!((owner.id, owner.status), (chat.id, ChatStatus::Finished));
    assert!(ok(chats::lock_owner(&mut c, acme.id, &to, "lock-2")).is_none());
    assert!(ok(chats::lock_owner(&mut c, acme.id, &num(CONSUMER_2), "lock-1")).is_none());
    assert!(ok(chats::lock_owner(&mut c, globex.id, &to, "lock-1")).is_none());
    assert!(ok(chats::active_chat(&mut c, acme.id, &to)).is_none());
    assert_ne!(created(&mut c, &spec(acme.id, &to, &from, later)).chat.id, chat.id, "the consumer is free again");
}

fn idle_chats_are_found(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let acme = sender(&mut c, "acme", OUTBOUND);
    let (a, b, patient, from, now) = (num(CONSUMER), num(CONSUMER_2), num(CONSUMER_3), num(OUTBOUND), now_millis());
    let short = Duration::seconds(1);
    let first = created(&mut c, &NewChatSpec { session_timeout: short, ..spec(acme.id, &a, &from, now) }).chat;
    let second =
        created(&mut c, &NewChatSpec { session_timeout: Duration::seconds(2), ..spec(acme.id, &b, &from, now) }).chat;
    let keeps = created(&mut c, &spec(acme.id, &patient, &from, now)).chat;
    let after = now + Duration::seconds(5);
    assert!(ok(chats::due_to_expire(&mut c, now, 10)).is_empty(), "not past their timeout yet");
    let due: Vec<ChatId> = ok(chats::due_to_expire(&mut c, after, 10)).iter().map(|chat| chat.id).collect();
    assert_eq!(due, [first.id, second.id], "only the active chats past their timeout, longest idle first");
    let limited: Vec<ChatId> = ok(chats::due_to_expire(&mut c, after, 1)).iter().map(|chat| chat.id).collect();
    assert_eq!(limited, [first.id], "at most `limit`");
    assert!(ok(chats::finish(&mut c, &first, DisconnectedBy::System, first.expires_at, now)));
    let row = some(ok(chats::find(&mut c, acme.id, first.id)), "the expired chat");
    assert_eq!((row.chat.status, row.chat.disconnected_by), (ChatStatus::Finished, DisconnectedBy::System));
    assert_eq!(row.chat.ends_at, Some(now + short), "ended when its timeout elapsed");
    assert_eq!(row.participants.iter().map(|p| p.chat_duration).collect::<Vec<_>>(), [Some(1)]);
    let due: Vec<ChatId> = ok(chats::due_to_expire(&mut c, after, 10)).iter().map(|chat| chat.id).collect();
    assert_eq!(due, [second.id], "an ended chat is no longer due");
    assert_eq!(ok(chats::active_chat(&mut c, acme.id, &patient)).map(|c| c.id), Some(keeps.id));
}

sms_test_support::on_both_backends!(
    attr = test, run = run;
    opening_chats,
    reading_chats,
    a_chats_context_is_read_in_one,
    ending_chats,
    idle_chats_are_found,
);
