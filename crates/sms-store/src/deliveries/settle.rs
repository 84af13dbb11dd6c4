//! Recording what became of each attempt at a delivery.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Claimed, DELIVERED, FAILED, PENDING};
use crate::schema::{webhook_deliveries, webhook_endpoints};
use crate::{DbConn, StoreError};

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The endpoint answered 2xx.
    Delivered { status_code: i32 },
    /// To be tried again at `next`.
    Retry { status_code: Option<i32>, error: String, next: NaiveDateTime },
    /// The last attempt failed.
    Failed { status_code: Option<i32>, error: String },
    /// The endpoint answered 410 Gone: it is disabled, and the delivery waits for it (this
    /// attempt does not count).
    Gone,
    /// The instance shut down before the endpoint answered: the delivery is handed back, due at
    /// once for another instance, and this attempt does not count.
    Interrupted,
}

/// `status = 'pending'`, spelled so that no planner takes it for the predicate of the pending
/// index: with it, PostgreSQL read a settle's 32 rows through the whole of
/// `webhook_deliveries_endpoint_due` (2,866 buffers, the id being its last column) instead of
/// the primary key, whenever its statistics lagged behind the queue (BENCHMARKS.md).
pub(crate) fn still_pending(
) -> diesel::dsl::Eq<diesel::dsl::Concat<webhook_deliveries::status, &'static str>, &'static str> {
    webhook_deliveries::status.concat("").eq(PENDING)
}

/// Records an attempt on a delivery claimed with `claimed.attempts`; a delivery claimed again
/// since (this claimer's lease ran out) is left alone. Answers whether it took effect.
pub fn settle(conn: &mut DbConn, claimed: &Claimed, attempt: &Attempt, now: NaiveDateTime) -> Result<bool, StoreError> {
    let target = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(claimed.id.get()))
        .filter(still_pending())
        .filter(webhook_deliveries::attempts.eq(claimed.attempts));
    let changed = match attempt {
        Attempt::Delivered { status_code } => db_run!(conn, |c| diesel::update(target)
            .set((
                webhook_deliveries::status.eq(DELIVERED),
                webhook_deliveries::last_status_code.eq(Some(*status_code)),
                webhook_deliveries::last_error.eq(None::<String>),
                webhook_deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
                webhook_deliveries::delivered_at.eq(Some(now)),
            ))
            .execute(c))?,
        Attempt::Retry { status_code, error, next } => db_run!(conn, |c| diesel::update(target)
            .set((
                webhook_deliveries::last_status_code.eq(*status_code),
                webhook_deliveries::last_error.eq(Some(error)),
                webhook_deliveries::next_attempt_at.eq(Some(*next)),
            ))
            .execute(c))?,
        Attempt::Failed { status_code, error } => db_run!(conn, |c| diesel::update(target)
            .set((
                webhook_deliveries::status.eq(FAILED),
                webhook_deliveries::last_status_code.eq(*status_code),
                webhook_deliveries::last_error.eq(Some(error)),
                webhook_deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
            ))
            .execute(c))?,
        Attempt::Interrupted => db_run!(conn, |c| diesel::update(target)
            .set((
                webhook_deliveries::attempts.eq(claimed.attempts - 1),
                webhook_deliveries::next_attempt_at.eq(Some(now)),
            ))
            .execute(c))?,
        Attempt::Gone => crate::transaction(conn, |conn| {
            let changed = db_run!(conn, |c| diesel::update(target)
                .set((
                    webhook_deliveries::attempts.eq(claimed.attempts - 1),
                    webhook_deliveries::last_status_code.eq(Some(410)),
                    webhook_deliveries::last_error.eq(Some("410 Gone: the endpoint is disabled")),
                    webhook_deliveries::next_attempt_at.eq(Some(now)),
                ))
                .execute(c))?;
            db_run!(conn, |c| diesel::update(
                webhook_endpoints::table.filter(webhook_endpoints::id.eq(claimed.endpoint_id.get()))
            )
            .set((
                webhook_endpoints::disabled.eq(true),
                webhook_endpoints::disabled_at.eq(Some(now)),
                webhook_endpoints::updated_at.eq(now),
            ))
            .execute(c))?;
            Ok::<_, StoreError>(changed)
        })?,
    };
    Ok(changed > 0)
}

/// Records a batch of attempts in one transaction; the deliveries that succeeded with the same
/// status, the usual case, in one statement. A delivery claimed again since (its claimer's
/// lease ran out) and delivered is delivered all the same; its other outcomes are left to its
/// newer claimer.
pub fn settle_all(conn: &mut DbConn, batch: &[(Claimed, Attempt)], now: NaiveDateTime) -> Result<(), StoreError> {
    crate::transaction(conn, |conn| {
        let mut delivered: Vec<(i32, Vec<i64>)> = Vec::new();
        for (claimed, attempt) in batch {
            match attempt {
                Attempt::Delivered { status_code } => {
                    match delivered.iter_mut().find(|(code, _)| code == status_code) {
                        Some((_, ids)) => ids.push(claimed.id.get()),
                        None => delivered.push((*status_code, vec![claimed.id.get()])),
                    }
                }
                other => {
                    settle(conn, claimed, other, now)?;
                }
            }
        }
        for (status_code, ids) in delivered {
            let target = webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(ids)).filter(still_pending());
            db_run!(conn, |c| diesel::update(target)
                .set((
                    webhook_deliveries::status.eq(DELIVERED),
                    webhook_deliveries::last_status_code.eq(Some(status_code)),
                    webhook_deliveries::last_error.eq(None::<String>),
                    webhook_deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
                    webhook_deliveries::delivered_at.eq(Some(now)),
                ))
                .execute(c))?;
        }
        Ok(())
    })
}
