//! `Store::write` and `Store::queue_write`: on SQLite the writes that queue while the writer is
//! busy commit together, each in a savepoint of its own; on PostgreSQL each in the transaction it
//! opens. Alike on both: every caller hears its own write's result (a write that panics panics
//! its caller, or is its awaiting task's answer), a write that fails or panics leaves nothing and
//! takes nothing of the others' with it, and what a caller was told is committed.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use sms_store::{tenants, DbConn, Store, StoreError, Window};
use sms_test_support::{Backend, TestDb};

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

/// Writes queued by async callers: on SQLite each task awaits its own write's answer with no
/// thread blocked, a panic comes back as the answer, and a write whose caller stopped waiting
/// is committed all the same; on PostgreSQL, which has no writer, the work comes back unrun.
fn queued_writes_answer_their_tasks(db: &TestDb, store: &Store) {
    let queue = |i: usize| {
        store.queue_write(move |conn| {
            sms_store::transaction(conn, |conn| {
                let made = tenants::create(conn, &new_tenant(&format!("q{i}")))?;
                match i {
                    0 => std::thread::sleep(Duration::from_millis(200)),
                    5 => return Err(StoreError::Conflict),
                    6 => panic!("a queued write that panics"),
                    _ => {}
                }
                Ok(made.subdomain)
            })
        })
    };
    if matches!(db, TestDb::Postgres { .. }) {
        let work = queue(1).err().expect("PostgreSQL has no writer: the work comes back");
        assert_eq!(ok(store.write(work)), "q1", "the work that came back runs as a write");
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let answers = runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..12 {
            let answer = queue(i).ok().expect("SQLite has a writer");
            if i == 9 {
                // Its caller stops waiting at once; the write is not withdrawn.
                drop(answer);
                continue;
            }
            tasks.push((i, tokio::spawn(answer)));
        }
        let mut answers = Vec::new();
        for (i, task) in tasks {
            answers.push((i, task.await.expect("the task ran")));
        }
        answers
    });
    let mut expected = vec!["q9".to_owned()];
    for (i, answer) in answers {
        match (i, answer) {
            (6, Err(panic)) => {
                assert_eq!(
                    panic.downcast_ref::<&str>(),
                    Some(&"a queued write that panics"),
                    "the panic, as the answer"
                );
            }
            (5, Ok(Err(StoreError::Conflict))) => {}
            (i, Ok(Ok(name))) if i != 5 && i != 6 => {
                assert_eq!(name, format!("q{i}"), "each task hears its own write");
                expected.push(name);
            }
            (i, other) => panic!("queued write {i} answered {:?}", other.map(|r| r.map(drop))),
        }
    }
    let mut stored: Vec<String> =
        ok(store.with_conn(|c| tenants::list(c, Window::default()))).0.into_iter().map(|t| t.subdomain).collect();
    stored.sort();
    expected.sort();
    assert_eq!(stored, expected, "the answered writes and the unawaited one are committed, and only those");
}

sms_test_support::on_both_backends!(attr = test, run = run; writes_commit_alone_or_together, queued_writes_answer_their_tasks);

/// Bytes written by [`sqlite_wal_starts_over_under_steady_writes`]: more than the WAL would
/// grow to before the writer's own backstop checkpoint (10,000 pages of 4 KiB).
const STEADY_BYTES: usize = 64 << 20;

/// Writes that never pause still let the WAL start over: the checkpointer asks, the writer
/// finishes the checkpoint between two groups. Without that the WAL only started over at the
/// backstop, 40 MB on, with the writer's commit checkpointing and syncing it all.
#[test]
fn sqlite_wal_starts_over_under_steady_writes() {
    run(Backend::Sqlite, |db, store| {
        db.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
        let body = 64 << 10;
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..STEADY_BYTES / body / 2 {
                        let wrote: Result<(), StoreError> = store.write(move |conn| {
                            let DbConn::Sqlite(c) = conn else { return Err(StoreError::Conflict) };
                            c.batch_execute(&format!("INSERT INTO scratch (body) VALUES (zeroblob({body}))"))
                                .map_err(StoreError::from)
                        });
                        ok(wrote);
                        // Steady, not a burst: about 60 MB/s in all, a busy server's pace.
                        std::thread::sleep(Duration::from_millis(2));
                    }
                })
            })
            .collect();
        writers.into_iter().for_each(|w| w.join().expect("a writer thread"));
        let path = db.url().trim_start_matches("sqlite://");
        let wal = std::fs::metadata(format!("{path}-wal")).expect("the WAL").len();
        assert!(wal < 24 << 20, "the WAL grew to {wal} bytes while {STEADY_BYTES} were written");
    });
}
