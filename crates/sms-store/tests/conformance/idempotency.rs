//! Idempotency keys: started, running, replayed, refused for another body, taken over once the
//! lease passes, purged when expired.

use chrono::{Duration, NaiveDateTime};
use sms_domain::time::now_millis;
use sms_store::idempotency::{self, Begin, Lease};
use sms_store::{DbConn, Store};
use sms_test_support::TestDb;

use crate::common::{conn, lease, ok, run, tenant};

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

sms_test_support::on_both_backends!(attr = test, run = run; idempotency_keys);
