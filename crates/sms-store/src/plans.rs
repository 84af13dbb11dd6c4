//! The queues' statements as SQLite plans them, on the migrated schema. SQLite keeps no
//! statistics here: a statement uses a partial index only if its WHERE visibly implies the
//! index's predicate. The outbox's claim did not, and scanned every message ever sent on every
//! claim, slower as the table grew (BENCHMARKS.md); these tests keep the queues on their indexes.

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::MigrationHarness;

#[derive(QueryableByName)]
struct Step {
    #[diesel(sql_type = Text)]
    detail: String,
}

fn plan(sql: &str) -> Vec<String> {
    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    conn.run_pending_migrations(crate::conn::SQLITE_MIGRATIONS).unwrap();
    let steps: Vec<Step> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}")).load(&mut conn).unwrap();
    steps.into_iter().map(|s| s.detail).collect()
}

#[test]
fn the_outbox_claim_reads_the_outbox_index() {
    let steps = plan(crate::outbox::CLAIM_SQLITE);
    assert!(steps.iter().any(|s| s == "SCAN messages USING INDEX messages_outbox"), "{steps:?}");
    assert!(!steps.iter().any(|s| s == "SCAN messages"), "no scan of every message: {steps:?}");
}

#[test]
fn the_event_queue_reads_its_pending_index() {
    let due = "SELECT next_attempt_at, id FROM webhook_deliveries WHERE endpoint_id = 1 \
               AND status = 'pending' AND next_attempt_at <= '2026-12-05' ORDER BY next_attempt_at, id LIMIT 4";
    let steps = plan(due);
    assert!(steps.iter().any(|s| s.contains("USING INDEX webhook_deliveries_endpoint_due")), "{steps:?}");
    let settle = "UPDATE webhook_deliveries SET status = 'delivered' WHERE id IN (1, 2) AND status || '' = 'pending'";
    assert_eq!(plan(settle), ["SEARCH webhook_deliveries USING INTEGER PRIMARY KEY (rowid=?)"]);
}
