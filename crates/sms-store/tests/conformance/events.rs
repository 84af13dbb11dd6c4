//! Event deliveries: recorded for each subscribed endpoint, leased, settled, retried.

use chrono::{Duration, NaiveDateTime};
use sms_domain::time::now_millis;
use sms_domain::TenantId;
use sms_store::endpoints::NewEndpoint;
use sms_store::{DbConn, Store};
use sms_test_support::TestDb;

use crate::common::{claim_deliveries, conn, lease, ok, run, some, tenant};

/// An enabled endpoint of the standard format, receiving `kinds`.
pub(crate) fn new_endpoint(tenant_id: TenantId, url: &str, kinds: &str, now: NaiveDateTime) -> NewEndpoint {
    NewEndpoint {
        tenant_id,
        url: url.into(),
        events: kinds.into(),
        description: None,
        disabled: false,
        secret: "whsec_test".into(),
        created_at: now,
        updated_at: now,
        format: "standard".into(),
        disabled_at: None,
    }
}

fn event_deliveries_leased(_db: &TestDb, store: &Store) {
    use sms_store::deliveries::{self, Attempt, ClaimLimits};
    use sms_store::endpoints;
    use sms_store::events::{self, NewEvent};
    let mut c = conn(store);
    let acme = tenant(&mut c, "acme");
    let now = now_millis();
    let endpoint = |url: &str, kinds: &str| new_endpoint(acme.id, url, kinds, now);
    ok(endpoints::create(&mut c, &endpoint("http://127.0.0.1:9/crm", "chat.created chat.ended")));
    ok(endpoints::create(&mut c, &endpoint("http://127.0.0.1:9/other", "chat.ended")));
    // An endpoint of the platform's format gets none of these deliveries: its events are written
    // apart, in their own shape; the record tells what it receives.
    let platform =
        NewEndpoint { format: "ccai".into(), ..endpoint("http://127.0.0.1:9/ccai", "chat.ended message.received") };
    ok(endpoints::create(&mut c, &platform));
    let event = |id: &'static str, kind: &'static str| NewEvent {
        tenant_id: acme.id,
        event_id: id,
        event_type: kind,
        payload: "{}",
        at: now,
    };
    let recorded = |c: &mut DbConn, id, kind| ok(events::record_for_subscribers(c, &event(id, kind), None));
    assert_eq!(recorded(&mut c, "evt_1", "chat.created").deliveries, 1, "one subscriber");
    let ended = recorded(&mut c, "evt_2", "chat.ended");
    assert_eq!(ended.deliveries, 2, "two subscribers");
    assert!(ended.ccai_receives("chat.ended") && ended.ccai_receives("message.received"));
    assert!(!ended.ccai_receives("chat.created") && !ended.ccai_receives("chat"));
    assert_eq!(recorded(&mut c, "evt_3", "message.received").deliveries, 0, "none");
    assert_eq!(ok(events::ccai_types(&mut c, acme.id)), "chat.ended message.received");

    let claim = |c: &mut DbConn, at: NaiveDateTime| {
        ok(claim_deliveries(c, at, lease(at), ClaimLimits { limit: 10, per_endpoint: 10, busy: &[] }))
    };
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
        |c: &mut DbConn, d: &deliveries::Claimed| some(ok(deliveries::find(c, d.endpoint_id, d.id)), "the delivery").0;
    assert_eq!(row(&mut c, &first[0]).next_attempt_at, Some(lease(now)), "a lease is the time it is due again");

    let later = now + Duration::seconds(45);
    let again = claim(&mut c, later);
    assert_eq!(again.iter().map(|d| d.attempts).collect::<Vec<_>>(), [2, 2, 2], "lapsed leases are claimed again");
    assert!(
        !ok(deliveries::settle(
            &mut c,
            &first[0],
            &Attempt::Failed { status_code: Some(500), error: "500".into() },
            later
        )),
        "the first claimer's late outcome is left alone"
    );
    let retry_at = later + Duration::seconds(60);
    let retry = Attempt::Retry { status_code: Some(503), error: "503".into(), next: retry_at };
    assert!(ok(deliveries::settle(&mut c, &again[1], &retry, later)));
    ok(deliveries::settle_all(&mut c, &[(again[0].clone(), Attempt::Delivered { status_code: 204 })], later));
    let delivered = row(&mut c, &again[0]);
    assert_eq!(
        (delivered.status.as_str(), delivered.next_attempt_at, delivered.delivered_at),
        ("delivered", None, Some(later))
    );
    let waiting = row(&mut c, &again[1]);
    assert_eq!((waiting.status.as_str(), waiting.next_attempt_at, waiting.attempts), ("pending", Some(retry_at), 2));
    let third = claim(&mut c, later + Duration::seconds(40));
    assert_eq!(
        third.iter().map(|d| d.id).collect::<Vec<_>>(),
        [again[2].id],
        "the one still leased comes back when its lease lapses; the retry waits"
    );
    // Handed back by an instance that shuts down: due at once, the interrupted attempt not
    // counted, claimed again without waiting for the lease.
    let back_at = later + Duration::seconds(41);
    ok(deliveries::settle_all(&mut c, &[(third[0].clone(), Attempt::Interrupted)], back_at));
    let back = row(&mut c, &third[0]);
    assert_eq!((back.status.as_str(), back.next_attempt_at, back.attempts), ("pending", Some(back_at), 2));
    assert_eq!(claim(&mut c, back_at).iter().map(|d| (d.id, d.attempts)).collect::<Vec<_>>(), [(third[0].id, 3)]);
    assert_eq!(
        claim(&mut c, retry_at).iter().map(|d| (d.id, d.attempts)).collect::<Vec<_>>(),
        [(again[1].id, 3)],
        "a settled retry is due at its time, no lease left"
    );
    assert_eq!(ok(deliveries::backlog(&mut c)), 2);
}

/// Deliveries written leased to the writer's event worker (the hand-off): not claimable while
/// the lease runs, read back for their attempt (those of a disabled endpoint apart), handed back
/// due at once with the attempt not counted, and claimed by anyone once a lease lapses.
fn deliveries_written_leased(_db: &TestDb, store: &Store) {
    use sms_store::deliveries::{self, ClaimLimits};
    use sms_store::endpoints::{self, EndpointChanges};
    use sms_store::events::{self, NewEvent};
    let mut c = conn(store);
    let acme = tenant(&mut c, "acme");
    let now = now_millis();
    let endpoint = |url: &str| new_endpoint(acme.id, url, "chat.created", now);
    let crm = ok(endpoints::create(&mut c, &endpoint("http://127.0.0.1:9/crm")));
    let off = ok(endpoints::create(&mut c, &endpoint("http://127.0.0.1:9/off")));
    let event = |id: &'static str| NewEvent {
        tenant_id: acme.id,
        event_id: id,
        event_type: "chat.created",
        payload: "{}",
        at: now,
    };
    let until = lease(now);
    let recorded = ok(events::record_for_subscribers(&mut c, &event("evt_1"), Some(until)));
    assert_eq!((recorded.deliveries, recorded.leased.len()), (2, 2), "both deliveries written leased");
    let batch = [(event("evt_2"), vec![crm.id])];
    let more = ok(events::record_many(&mut c, &batch, Some(until)));
    assert_eq!(more.len(), 1);
    assert!(
        ok(events::record_many(&mut c, &[(event("evt_3"), vec![crm.id])], None)).is_empty(),
        "due at once: none leased"
    );
    let claim = |c: &mut DbConn, at: NaiveDateTime| {
        let limits = ClaimLimits { limit: 10, per_endpoint: 10, busy: &[] };
        let mut claimed: Vec<_> =
            ok(claim_deliveries(c, at, lease(at), limits)).into_iter().map(|d| (d.event_id, d.attempts)).collect();
        claimed.sort();
        claimed
    };
    assert_eq!(claim(&mut c, now), [("evt_3".to_owned(), 1)], "a claim takes only the delivery written due");

    let disable = EndpointChanges { disabled: Some(true), disabled_at: Some(Some(now)), ..Default::default() };
    some(ok(endpoints::update(&mut c, acme.id, off.id, &disable)), "the endpoint");
    let mut handed = recorded.leased.clone();
    handed.extend(more.iter().copied());
    let (ready, waiting) = ok(deliveries::handed(&mut c, &handed, now));
    let mut ready: Vec<_> = ready.iter().map(|d| (d.event_id.as_str(), d.url.as_str(), d.attempts)).collect();
    ready.sort();
    assert_eq!(ready, [("evt_1", "http://127.0.0.1:9/crm", 1), ("evt_2", "http://127.0.0.1:9/crm", 1)]);
    assert_eq!(waiting.iter().map(|d| d.endpoint_id).collect::<Vec<_>>(), [off.id], "a disabled endpoint's waits");

    let back_at = now + Duration::seconds(1);
    let back: Vec<_> = waiting.iter().map(|d| d.id).collect();
    assert_eq!(ok(deliveries::hand_back(&mut c, &back, back_at)), 1);
    assert_eq!(
        ok(deliveries::hand_back(&mut c, &back, back_at)),
        0,
        "handed back once: its attempt is not counted twice"
    );
    let row = some(ok(deliveries::find(&mut c, off.id, back[0])), "the handed-back delivery").0;
    assert_eq!((row.status.as_str(), row.attempts, row.next_attempt_at), ("pending", 0, Some(back_at)));

    // The writer died with the rest: once their lease lapses, any instance claims them, as it
    // claims the one claimed at the start.
    assert_eq!(claim(&mut c, until - Duration::seconds(1)), Vec::<(String, i32)>::new(), "leased until the lease ends");
    assert_eq!(
        claim(&mut c, until + Duration::seconds(1)),
        [("evt_1".to_owned(), 2), ("evt_2".to_owned(), 2), ("evt_3".to_owned(), 2)]
    );
}

/// The sweep's purge: deliveries that ended before the cutoff go, at most so many at a time,
/// and then the events left with none; pending deliveries, their events, and anything newer
/// stay.
fn finished_deliveries_purged(db: &TestDb, store: &Store) {
    use sms_store::deliveries::{self, Attempt, ClaimLimits};
    use sms_store::endpoints;
    use sms_store::events::{self, NewEvent};
    let mut c = conn(store);
    let acme = tenant(&mut c, "acme");
    let now = now_millis();
    let (old, cutoff) = (now - Duration::days(8), now - Duration::days(7));
    ok(endpoints::create(&mut c, &new_endpoint(acme.id, "http://127.0.0.1:9/crm", "chat.created", old)));
    let record = |c: &mut DbConn, event_id: &'static str, event_type: &'static str, at: NaiveDateTime| {
        let event = NewEvent { tenant_id: acme.id, event_id, event_type, payload: "{}", at };
        ok(events::record_for_subscribers(c, &event, None)).deliveries
    };
    for id in ["evt_1", "evt_2", "evt_3", "evt_4"] {
        assert_eq!(record(&mut c, id, "chat.created", old), 1);
    }
    assert_eq!(record(&mut c, "evt_new", "chat.created", now), 1);
    let claimed = ok(claim_deliveries(&mut c, old, lease(old), ClaimLimits { limit: 10, per_endpoint: 10, busy: &[] }));
    let outcome = |d: &deliveries::Claimed| match d.event_id.as_str() {
        "evt_1" | "evt_2" => Attempt::Delivered { status_code: 200 },
        "evt_3" => Attempt::Failed { status_code: Some(410), error: "gone".into() },
        _ => Attempt::Retry { status_code: Some(503), error: "503".into(), next: now + Duration::minutes(1) },
    };
    let settled: Vec<_> = claimed.iter().map(|d| (d.clone(), outcome(d))).collect();
    ok(deliveries::settle_all(&mut c, &settled, old));
    let (deliveries_at_first, events_at_first) = (db.count("webhook_deliveries"), db.count("events"));
    assert_eq!((deliveries_at_first, events_at_first), (5, 5));

    assert_eq!(ok(deliveries::purge_finished(&mut c, cutoff, 2)), (2, 2), "two ended deliveries, then their events");
    assert_eq!(ok(deliveries::purge_finished(&mut c, cutoff, 2)), (1, 1), "the last one ended before the cutoff");
    assert_eq!(ok(deliveries::purge_finished(&mut c, cutoff, 2)), (0, 0), "nothing more to purge");
    assert_eq!((db.count("webhook_deliveries"), db.count("events")), (2, 2), "the pending one and the new one stay");
    assert_eq!(ok(deliveries::purge_finished(&mut c, now + Duration::days(1), 10)), (0, 0), "a pending delivery stays");
    assert_eq!(ok(deliveries::backlog(&mut c)), 2);
}

/// A delivery left pending for an endpoint that is gone is purged like a finished one (on
/// PostgreSQL no key ties a delivery to its endpoint: an endpoint deleted as an event was
/// written can leave one; on SQLite the key's cascade takes it with the endpoint), and the
/// tables every send writes keep no key to the tenant's or the endpoint's row on PostgreSQL:
/// checking one locked that row, shared by all of the tenant's writes.
fn deliveries_of_a_deleted_endpoint_purged(db: &TestDb, store: &Store) {
    use sms_store::deliveries;
    use sms_store::endpoints;
    use sms_store::events::{self, NewEvent};
    let mut c = conn(store);
    let acme = tenant(&mut c, "acme");
    let now = now_millis();
    let old = now - Duration::days(8);
    for url in ["http://127.0.0.1:9/gone", "http://127.0.0.1:9/kept"] {
        ok(endpoints::create(&mut c, &new_endpoint(acme.id, url, "chat.created", old)));
    }
    let event = NewEvent { tenant_id: acme.id, event_id: "evt_1", event_type: "chat.created", payload: "{}", at: old };
    assert_eq!(ok(events::record_for_subscribers(&mut c, &event, None)).deliveries, 2);
    // Gone without the store's own delete, which takes the deliveries first.
    db.execute("DELETE FROM webhook_endpoints WHERE url = 'http://127.0.0.1:9/gone'");
    ok(deliveries::purge_finished(&mut c, now, 10));
    assert_eq!((db.count("webhook_deliveries"), db.count("events")), (1, 1), "the kept endpoint's delivery stays");
    assert_eq!(ok(deliveries::backlog(&mut c)), 1);
    if let TestDb::Postgres { .. } = db {
        let keys = db.count(
            "pg_constraint WHERE contype = 'f' AND confrelid IN ('tenants'::regclass, 'webhook_endpoints'::regclass) \
             AND conrelid::regclass::text IN ('end_users', 'chats', 'messages', 'events', 'webhook_deliveries', \
             'idempotency_keys', 'inbound_receipts')",
        );
        assert_eq!(keys, 0, "a key of a hot table to the tenant's or the endpoint's row");
    }
}

/// A claim of deliveries apart from its read, as the event worker makes it: the claim leases
/// and counts the attempt and answers only ids; the read answers what an attempt needs, as a
/// claim does, and claims nothing.
fn deliveries_claimed_read_apart(_db: &TestDb, store: &Store) {
    use sms_store::deliveries::{self, ClaimLimits};
    use sms_store::endpoints;
    use sms_store::events::{self, NewEvent};
    let mut c = conn(store);
    let acme = tenant(&mut c, "acme");
    let now = now_millis();
    ok(endpoints::create(&mut c, &new_endpoint(acme.id, "http://127.0.0.1:9/crm", "chat.created", now)));
    for id in ["evt_1", "evt_2"] {
        let event = NewEvent { tenant_id: acme.id, event_id: id, event_type: "chat.created", payload: "{}", at: now };
        ok(events::record_for_subscribers(&mut c, &event, None));
    }
    let limits = ClaimLimits { limit: 10, per_endpoint: 10, busy: &[] };
    let mut ids = ok(deliveries::claim_ids(&mut c, now, lease(now), limits));
    ids.sort();
    assert_eq!(ids.len(), 2);
    let read = ok(deliveries::claimed(&mut c, &ids, now));
    let seen: Vec<_> = read.iter().map(|d| (d.id, d.event_id.as_str(), d.attempts, d.url.as_str())).collect();
    let url = "http://127.0.0.1:9/crm";
    assert_eq!(seen, [(ids[0], "evt_1", 1, url), (ids[1], "evt_2", 1, url)], "in the order they were written");
    assert!(ok(deliveries::claim_ids(&mut c, now, lease(now), limits)).is_empty(), "nothing is claimed twice");
    assert_eq!(ok(deliveries::claimed(&mut c, &ids, now))[0].attempts, 1, "reading claims nothing");
    assert!(ok(deliveries::claimed(&mut c, &[], now)).is_empty());
}

sms_test_support::on_both_backends!(attr = test, run = run; event_deliveries_leased, deliveries_written_leased, finished_deliveries_purged, deliveries_claimed_read_apart, deliveries_of_a_deleted_endpoint_purged);
