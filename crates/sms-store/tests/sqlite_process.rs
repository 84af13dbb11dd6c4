//! `sms_store::configure_sqlite`, in a test binary of its own: the setting holds for a whole
//! process and only before SQLite's first use, so this binary has one test and nothing in it
//! touches SQLite first.
//!
//! What it shows: set up first, SQLite takes both settings; a store in that mode keeps every
//! write when several threads write through its writer and read through its pool at once; once
//! SQLite is in use, setting it up again is refused and changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use sms_store::{DbConn, DbUrl, PoolOptions, Store, StoreError};
use sms_test_support::{Backend, TestDb};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn rows(conn: &mut DbConn) -> Result<i64, StoreError> {
    let DbConn::Sqlite(c) = conn else { return Err(StoreError::Conflict) };
    Ok(diesel::sql_query("SELECT COUNT(*) AS n FROM scratch").get_result::<Count>(c)?.n)
}

#[test]
#[allow(unsafe_code)]
fn sqlite_set_up_for_the_process_keeps_every_write() {
    // SAFETY: the first use of SQLite in this process (the binary's only test).
    assert!(unsafe { sms_store::configure_sqlite() }, "SQLite took both settings before its first use");

    let db = TestDb::create(Backend::Sqlite);
    let store = Store::new(&DbUrl::parse(db.url()).unwrap(), PoolOptions::default()).unwrap();
    store.migrate().unwrap();
    db.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY, writer INTEGER NOT NULL)");

    const THREADS: i64 = 4;
    const EACH: i64 = 250;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..EACH {
                    let wrote: Result<(), StoreError> = store.write(move |conn| {
                        let DbConn::Sqlite(c) = conn else { return Err(StoreError::Conflict) };
                        Ok(c.batch_execute(&format!("INSERT INTO scratch (writer) VALUES ({t})"))?)
                    });
                    wrote.unwrap();
                    // Reads on the pool's connections, on this thread, while the writer writes.
                    if i % 25 == 0 {
                        let seen = store.with_conn(rows).unwrap();
                        assert!((1..=THREADS * EACH).contains(&seen), "a read saw {seen} rows");
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().expect("a writing thread"));
    assert_eq!(store.with_conn(rows).unwrap(), THREADS * EACH, "every acknowledged write is there");

    // The store's writer and checkpointer threads end with it (the checkpointer within a pass).
    drop(store);
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: no other thread uses SQLite now; once initialised, SQLite refuses the call.
    assert!(!unsafe { sms_store::configure_sqlite() }, "SQLite in use refuses to be set up again");
}
