//! The pool and `sms_store::transaction`: a failed transaction rolls back as a whole, an inner one
//! joins the outer one, a suspect connection is tested before reuse.

use sms_store::{tenants, DbUrl, Fault, Store, StoreError, Window, DEFAULT_POOL_SIZE};
use sms_test_support::TestDb;

use crate::common::{conn, ok, run, tenant};

fn pool_and_transactions(db: &TestDb, store: &Store) {
    let sqlite = matches!(db, TestDb::Sqlite { .. });
    let backend = if sqlite { sms_store::Backend::Sqlite } else { sms_store::Backend::Postgres };
    assert_eq!((store.backend(), ok(DbUrl::parse(db.url())).backend()), (backend, backend));
    ok(store.ping());
    ok(store.migrate());
    assert_eq!(store.pool_state(), (0, DEFAULT_POOL_SIZE), "nothing checked out");
    let (mut c, other) = (conn(store), conn(store));
    assert_eq!(store.pool_state(), (2, DEFAULT_POOL_SIZE));
    drop(other);
    assert_eq!(store.pool_state(), (1, DEFAULT_POOL_SIZE));

    let failed: Result<(), StoreError> = sms_store::transaction(&mut c, |conn| {
        tenant(conn, "ghost");
        Err(StoreError::Conflict)
    });
    assert!(matches!(failed, Err(StoreError::Conflict)), "the closure's error is answered");
    assert!(ok(tenants::find_by_subdomain(&mut c, "ghost")).is_none(), "and everything is rolled back");
    assert_eq!(db.count("tenants"), 0);

    let joined = sms_store::transaction(&mut c, |conn| {
        let outer = tenant(conn, "outer");
        let inner: Result<(), StoreError> = sms_store::transaction(conn, |conn| {
            tenant(conn, "inner");
            Err(StoreError::Conflict)
        });
        assert!(matches!(inner, Err(StoreError::Conflict)));
        Ok::<_, StoreError>(outer.id)
    });
    assert!(ok(joined).get() > 0);
    let names: Vec<String> =
        ok(store.with_conn(|c| tenants::list(c, Window::default()))).0.into_iter().map(|t| t.subdomain).collect();
    assert_eq!(names, ["outer", "inner"], "the inner call joined the outer transaction: no savepoint undid it");

    c.mark_suspect();
    drop(c);
    ok(store.ping());
    assert_eq!(store.pool_state(), (0, DEFAULT_POOL_SIZE), "a suspect connection is tested, then reused");
    assert!(StoreError::Unavailable("down".into()).connection_fault() && !StoreError::Conflict.connection_fault());
    assert!(!StoreError::ActiveChat { chat_id: None }.may_be_connection_fault());
}

sms_test_support::on_both_backends!(attr = test, run = run; pool_and_transactions);
