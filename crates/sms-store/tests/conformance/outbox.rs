//! The outbox: each message leased to one claimant, retried once due, its status moving only forward.

use chrono::{Duration, NaiveDateTime};
use sms_domain::time::now_millis;
use sms_domain::{ChatId, DeliveryStatus, E164Number, TenantId};
use sms_store::outbox::{self, StatusReport};
use sms_store::{DbConn, Store, StoreError};
use sms_test_support::TestDb;

use crate::common::{
    claim_jobs, conn, created, lease, num, ok, outbound, run, sender, spec, tenant, CONSUMER, CONSUMER_2, CONSUMER_3,
    OTHER_OUTBOUND, OUTBOUND,
};

/// A chat opened for each of the three consumers, from `from`: their ids, in that order.
fn three_chats(c: &mut DbConn, tenant_id: TenantId, from: &E164Number, now: NaiveDateTime) -> Vec<ChatId> {
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
    let jobs = ok(claim_jobs(&mut c, now, lease(now), 2));
    let seen: Vec<_> = jobs.iter().map(|j| (j.message.chat_id, j.message.attempts, j.subdomain.as_str())).collect();
    assert_eq!(
        seen,
        [(Some(chat_ids[0]), 1, "acme"), (Some(chat_ids[1]), 1, "acme")],
        "the first two, one attempt each"
    );
    let leased = |j: &outbox::Job| (j.message.delivery_status, j.message.locked_until);
    assert!(jobs.iter().all(|j| leased(j) == (DeliveryStatus::Sending, Some(lease(now)))), "leased: {jobs:?}");
    let (m1, m2) = (jobs[0].message.id, jobs[1].message.id);
    let claim = |c: &mut DbConn, at: NaiveDateTime| -> Vec<(Option<ChatId>, i32)> {
        ok(claim_jobs(c, at, lease(at), 10)).into_iter().map(|j| (j.message.chat_id, j.message.attempts)).collect()
    };
    assert_eq!(claim(&mut c, now), [(Some(chat_ids[2]), 1)], "the rest, within the limit");
    assert!(claim(&mut c, now).is_empty(), "nothing is claimed twice while leased");
    let m3 = outbound(&mut c, chat_ids[2]).id;

    ok(outbox::mark_sent(&mut c, m1, Some("SM1"), now));
    let due = now + Duration::seconds(60);
    ok(outbox::mark_retry(&mut c, m2, due, "timeout", now));
    let (sent, retry) = (outbound(&mut c, chat_ids[0]), outbound(&mut c, chat_ids[1]));
    assert_eq!((sent.delivery_status, sent.provider_message_id.as_deref()), (DeliveryStatus::Sent, Some("SM1")));
    assert_eq!((retry.delivery_status, retry.error.as_deref()), (DeliveryStatus::Queued, Some("timeout")));
    assert_eq!((sent.locked_until, retry.locked_until, retry.next_attempt_at), (None, None, Some(due)), "leases end");
    assert!(claim(&mut c, now + Duration::seconds(10)).is_empty(), "the retry is not due, the lease holds");
    assert_eq!(claim(&mut c, now + Duration::seconds(45)), [(Some(chat_ids[2]), 2)], "a lapsed lease is claimed again");
    assert_eq!(claim(&mut c, now + Duration::seconds(61)), [(Some(chat_ids[1]), 2)], "the retry, once due");
    ok(outbox::mark_failed(&mut c, m3, "unreachable", now));
    ok(outbox::mark_sent(&mut c, m1, Some("SM-late"), now));
    let failed = outbound(&mut c, chat_ids[2]);
    assert_eq!((failed.delivery_status, failed.error.as_deref()), (DeliveryStatus::Failed, Some("unreachable")));
    assert_eq!(outbound(&mut c, chat_ids[0]).provider_message_id.as_deref(), Some("SM1"), "a settled message stays");

    // What a report did: the status it moved the message to, or why it did nothing.
    let report = |c: &mut DbConn, tenant_id: TenantId, sid: &str, status: DeliveryStatus, error: Option<&str>| match ok(
        outbox::apply_status(c, tenant_id, sid, status, error, now),
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
    ok(outbox::mark_sent(&mut c, m2, Some("SM2"), now));
    assert_eq!(outbound(&mut c, chat_ids[1]).error, None, "a send clears the last attempt's error");
    assert_eq!(report(&mut c, acme.id, "SM2", DeliveryStatus::Undelivered, Some("30003")), "applied undelivered");
    let last = outbound(&mut c, chat_ids[1]);
    assert_eq!((last.delivery_status, last.error.as_deref()), (DeliveryStatus::Undelivered, Some("30003")));
}

fn delivery_sent_together(db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let acme = sender(&mut c, "acme", OUTBOUND);
    let (from, now) = (num(OUTBOUND), now_millis());
    let chat_ids = three_chats(&mut c, acme.id, &from, now);
    let jobs = ok(claim_jobs(&mut c, now, lease(now), 10));
    let [a, b, late] = [0, 1, 2].map(|i| jobs[i].message.id);
    ok(outbox::mark_failed(&mut c, late, "unreachable", now));
    let later = now + Duration::seconds(1);
    let settled = ok(outbox::mark_sent_many(&mut c, &[(a, Some("SM-a")), (b, None), (late, Some("SM-late"))], later));
    let mut seen: Vec<_> =
        settled.iter().map(|m| (m.id, m.delivery_status, m.provider_message_id.as_deref(), m.locked_until)).collect();
    seen.sort_by_key(|s| s.0);
    assert_eq!(
        seen,
        [(a, DeliveryStatus::Sent, Some("SM-a"), None), (b, DeliveryStatus::Sent, None, None)],
        "the messages still being sent, each with its provider id, leases ended"
    );
    assert!(settled.iter().all(|m| m.updated_at == later && m.error.is_none()));
    let changed =
        |c: &mut DbConn, i: usize| ok(sms_store::chats::find_chat(c, acme.id, chat_ids[i])).map(|x| x.updated_at);
    assert_eq!(changed(&mut c, 0), Some(now), "the chats are left for the caller to touch");
    ok(sms_store::chats::touch(&mut c, &outbox::chat_ids(&settled), later));
    assert_eq!([0, 1, 2].map(|i| changed(&mut c, i)), [Some(later), Some(later), Some(now)], "those sent, at once");
    let failed = outbound(&mut c, chat_ids[2]);
    assert_eq!((failed.delivery_status, failed.provider_message_id), (DeliveryStatus::Failed, None), "left alone");
    assert!(ok(outbox::mark_sent_many(&mut c, &[], later)).is_empty(), "nothing to settle");
    assert!(ok(outbox::mark_sent_many(&mut c, &[(a, Some("SM-again"))], later)).is_empty(), "settled once");
    assert_eq!(outbound(&mut c, chat_ids[0]).provider_message_id.as_deref(), Some("SM-a"));

    // Settled in a transaction whose chats are not touched yet, nobody waits for their rows: a
    // reply into one of them (another connection) is not held back by the batch's other writes.
    if let TestDb::Postgres { .. } = db {
        let globex = sender(&mut c, "globex", OTHER_OUTBOUND);
        let chat = created(&mut c, &spec(globex.id, &num(CONSUMER), &num(OTHER_OUTBOUND), later)).chat.id;
        let job = ok(claim_jobs(&mut c, later, lease(later), 1));
        let replied_meanwhile = ok(sms_store::transaction(&mut c, |c| {
            let settled = outbox::mark_sent_many(c, &[(job[0].message.id, Some("SM-g"))], later)?;
            let reply = format!(
                "SET lock_timeout = '2s'; UPDATE chats SET last_activity_at = updated_at WHERE id = {}",
                chat.get()
            );
            let replied = db.try_execute(&reply);
            sms_store::chats::touch(c, &outbox::chat_ids(&settled), later + Duration::seconds(1))?;
            Ok(replied)
        }));
        assert_eq!(replied_meanwhile, Ok(()), "the chat's row was free until the touch");
        let touched = ok(sms_store::chats::find_chat(&mut c, globex.id, chat)).map(|x| x.updated_at);
        assert_eq!(touched, Some(later + Duration::seconds(1)));
    }
}

/// A worker that shuts down hands back what it claimed and did not finish: queued, due at once,
/// the interrupted attempt not counted, at once claimable by another; a message settled meanwhile
/// stays as it is.
fn delivery_handed_back(_db: &TestDb, store: &Store) {
    let mut c = conn(store);
    let acme = sender(&mut c, "acme", OUTBOUND);
    let (from, now) = (num(OUTBOUND), now_millis());
    let chat_ids = three_chats(&mut c, acme.id, &from, now);
    let ids: Vec<_> = ok(claim_jobs(&mut c, now, lease(now), 10)).into_iter().map(|j| j.message.id).collect();
    ok(outbox::mark_sent(&mut c, ids[0], Some("SM1"), now));
    let later = now + Duration::seconds(1);
    assert_eq!(ok(outbox::hand_back(&mut c, &ids, later)), 2, "the two still sending");
    let state = |c: &mut DbConn, chat| {
        let m = outbound(c, chat);
        (m.delivery_status, m.attempts, m.locked_until, m.next_attempt_at)
    };
    assert_eq!(state(&mut c, chat_ids[0]), (DeliveryStatus::Sent, 1, None, None));
    for chat in &chat_ids[1..] {
        assert_eq!(state(&mut c, *chat), (DeliveryStatus::Queued, 0, None, Some(later)));
    }
    let again: Vec<_> = ok(claim_jobs(&mut c, later, lease(later), 10)).into_iter().map(|j| j.message.id).collect();
    assert_eq!(again, ids[1..], "claimed again at once, without waiting for the lease");
    assert_eq!(ok(outbox::hand_back(&mut c, &[], later)), 0);
}

/// Each job's message, tenant, and whether the tenant is active, the consumer opted out and the
/// number is still the tenant's.
fn flags(jobs: &[outbox::Job]) -> Vec<(sms_domain::MessageId, &str, bool, bool, bool)> {
    jobs.iter().map(|j| (j.message.id, j.subdomain.as_str(), j.tenant_active, j.opted_out, j.number_owned)).collect()
}

/// A claim apart from its read, as the worker makes it: the claim leases and counts the
/// attempt as a claim with its read does and answers only ids; the read after it answers the jobs
/// as they are then (a consumer who opted out meanwhile is seen), and claims nothing.
fn claims_read_apart(_db: &TestDb, store: &Store) {
    use sms_store::opt_outs::{self, Origin};
    let mut c = conn(store);
    let acme = sender(&mut c, "acme", OUTBOUND);
    let (from, now) = (num(OUTBOUND), now_millis());
    let chat_ids = three_chats(&mut c, acme.id, &from, now);
    let mut ids = ok(outbox::claim_ids(&mut c, now, lease(now), 2));
    ids.sort();
    let firsts = [outbound(&mut c, chat_ids[0]), outbound(&mut c, chat_ids[1])];
    assert_eq!(ids, [firsts[0].id, firsts[1].id], "the first two, oldest first");
    for m in &firsts {
        assert_eq!((m.delivery_status, m.locked_until, m.attempts), (DeliveryStatus::Sending, Some(lease(now)), 1));
    }
    let origin = Origin { keyword: Some("STOP"), outbound_number: None, message_id: None };
    assert!(ok(opt_outs::record(&mut c, acme.id, &num(CONSUMER), origin, now)));
    let jobs = ok(outbox::jobs(&mut c, &ids));
    assert_eq!(flags(&jobs), [(ids[0], "acme", true, true, true), (ids[1], "acme", true, false, true)]);
    assert_eq!(jobs[0].message.body, firsts[0].body);
    // Another tenant's opt-out says nothing of acme's messages; acme deactivated and its
    // number taken away are seen by the next read.
    let globex = tenant(&mut c, "globex");
    assert!(ok(opt_outs::record(&mut c, globex.id, &num(CONSUMER_2), origin, now)));
    let owned = ok(sms_store::numbers::list(&mut c, acme.id, sms_store::Window::default())).0;
    assert!(ok(sms_store::numbers::delete(&mut c, acme.id, owned[0].id)).is_some());
    let off = sms_store::TenantChanges { active: Some(false), ..Default::default() };
    assert!(ok(sms_store::tenants::update(&mut c, acme.id, &off)).is_some());
    assert_eq!(
        flags(&ok(outbox::jobs(&mut c, &ids))),
        [(ids[0], "acme", false, true, false), (ids[1], "acme", false, false, false)]
    );
    assert_eq!(ok(outbox::claim_ids(&mut c, now, lease(now), 10)), [outbound(&mut c, chat_ids[2]).id], "the rest");
    assert!(ok(outbox::claim_ids(&mut c, now, lease(now), 10)).is_empty(), "nothing is claimed twice while leased");
    assert!(ok(outbox::jobs(&mut c, &[])).is_empty());
    assert_eq!(outbound(&mut c, chat_ids[0]).attempts, 1, "reading claims nothing");
}

/// A worker's claim whose read fails ([`Store::claim_then_read`]): what it claimed is handed
/// back at once, due now and the attempt not counted, rather than leased to no one; the next
/// claim takes it and reads it.
fn claim_read_fails(_db: &TestDb, store: &Store) {
    let (acme, now) = (sender(&mut conn(store), "acme", OUTBOUND), now_millis());
    let chat_ids = three_chats(&mut conn(store), acme.id, &num(OUTBOUND), now);
    let failed: Result<Vec<outbox::Job>, StoreError> = store.claim_then_read(
        move |c| outbox::claim_ids(c, now, lease(now), 10),
        |_, _| Err(StoreError::Unavailable("the read failed".into())),
        move |c, ids| outbox::hand_back(c, ids, now),
    );
    assert!(matches!(failed, Err(StoreError::Unavailable(ref why)) if why == "the read failed"), "{failed:?}");
    let mut c = conn(store);
    for chat in &chat_ids {
        let m = outbound(&mut c, *chat);
        assert_eq!(
            (m.delivery_status, m.attempts, m.locked_until, m.next_attempt_at),
            (DeliveryStatus::Queued, 0, None, Some(now))
        );
    }
    drop(c);
    let jobs = ok(store.claim_then_read(
        move |c| outbox::claim_ids(c, now, lease(now), 10),
        outbox::jobs,
        move |c, ids| outbox::hand_back(c, ids, now),
    ));
    let seen: Vec<_> = jobs.iter().map(|j| (j.message.chat_id, j.message.attempts)).collect();
    assert_eq!(seen, chat_ids.iter().map(|id| (Some(*id), 1)).collect::<Vec<_>>(), "claimed again at once");
    let none: Vec<outbox::Job> = ok(store.claim_then_read(
        move |c| outbox::claim_ids(c, now, lease(now), 10),
        |_, _| panic!("nothing claimed, nothing read"),
        move |c, ids| outbox::hand_back(c, ids, now),
    ));
    assert!(none.is_empty());
}

sms_test_support::on_both_backends!(attr = test, run = run; delivery_outbox, delivery_sent_together, delivery_handed_back, claims_read_apart, claim_read_fails);
