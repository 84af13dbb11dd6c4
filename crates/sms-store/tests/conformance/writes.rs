//! `Store::write`: on SQLite the writes that queue while the writer is busy commit together, each
//! in a savepoint of its own; on PostgreSQL each in the transaction it opens. Alike on both: every
//! caller hears its own write's result (a write that panics panics its caller), a write that
//! fails or panics leaves nothing and takes nothing of the others' with it, and what a caller
//! was told is committed.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use sms_store::{tenants, Store, StoreError, Window};
use sms_test_support::TestDb;

use crate::common::{new_tenant, ok, run};

/// Writes at once: more than a group takes, so the writer runs several groups.
const WRITERS: usize = 80;

fn writes_commit_alone_or_together(db: &TestDb, store: &Store) {
    // The first write holds the writer for a while, so the others queue behind it and commit
    // in groups on SQLite, the failing ones among them.
    let start = Arc::new(Barrier::new(WRITERS + 1));
    let threads: Vec<_> = (0..=WRITERS)
        .map(|i| {
            let (store, start) = (store.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                if i > 0 {
                    std::thread::sleep(Duration::from_millis(20));
                }
                store.write(move |conn| {
                    sms_store::transaction(conn, |conn| {
                        let made = tenants::create(conn, &new_tenant(&format!("t{i}")))?;
                        match i {
                            0 => std::thread::sleep(Duration::from_millis(200)),
                            _ if i % 3 == 0 => return Err(StoreError::Conflict),
                            _ if i == 7 => panic!("a write that panics"),
                            _ => {}
                        }
                        Ok(made.subdomain)
                    })
                })
            })
        })
        .collect();
    let answers: Vec<_> = threads.into_iter().map(std::thread::JoinHandle::join).collect();
    let mut expected = Vec::new();
    for (i, answer) in answers.iter().enumerate() {
        match (i, answer) {
            (7, Err(panic)) => {
                assert_eq!(
                    panic.downcast_ref::<&str>(),
                    Some(&"a write that panics"),
                    "the write's panic, raised again"
                );
            }
            (i, Ok(Err(StoreError::Conflict))) if i > 0 && i % 3 == 0 => {}
            (i, Ok(Ok(name))) if i != 7 && (i == 0 || i % 3 != 0) => {
                assert_eq!(name, &format!("t{i}"), "each caller hears its own write");
                expected.push(name.clone());
            }
            (i, other) => panic!("write {i} answered {other:?}"),
        }
    }
    let mut stored: Vec<String> =
        ok(store.with_conn(|c| tenants::list(c, Window::default()))).0.into_iter().map(|t| t.subdomain).collect();
    stored.sort();
    expected.sort();
    assert_eq!(stored.len(), WRITERS + 1 - WRITERS / 3 - 1, "the failed and the panicked writes left nothing");
    assert_eq!(stored, expected, "every write its caller was told of is committed, and only those");
    assert_eq!(db.count("tenants"), stored.len() as i64);

    // The writer is still at work after the panic, and a lone write commits at once.
    let lone = store.write(|conn| Ok::<_, StoreError>(tenants::create(conn, &new_tenant("lone"))?.subdomain));
    assert_eq!(ok(lone), "lone");
    let inner: Result<(), StoreError> = store.write(|conn| {
        sms_store::transaction(conn, |conn| {
            tenants::create(conn, &new_tenant("outer"))?;
            sms_store::transaction(conn, |conn| tenants::create(conn, &new_tenant("joined")).map(drop))?;
            Err(StoreError::Conflict)
        })
    });
    assert!(matches!(inner, Err(StoreError::Conflict)));
    for name in ["outer", "joined"] {
        let found = ok(store.with_conn(|c| tenants::find_by_subdomain(c, name)));
        assert!(found.is_none(), "{name}: a transaction inside a write joins it and goes with it");
    }
}

sms_test_support::on_both_backends!(attr = test, run = run; writes_commit_alone_or_together);
