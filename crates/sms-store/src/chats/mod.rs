//! Chats, their participants and messages, by concern: opening a chat ([`open`], one module
//! per backend where their SQL differs), ending one ([`finish`]), writing inside one ([`reply`])
//! and reading them ([`read`]; the console's list, [`inbox`]).
//!
//! The unique partial index `chats_one_active_per_end_user` over active chats refuses a second
//! active chat for a consumer; [`open`] answers that refusal as [`Opened::Busy`].

mod at_once;
mod end;
mod inbox;
mod open;
mod read;
mod reply;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use sms_domain::{E164Number, TenantId};

use crate::{Agent, ChatBundle};

pub use at_once::{reply_at_once, UsualReply};
pub use end::{due_to_expire, finish, touch};
pub use inbox::{inbox, InboxFilter, InboxRow, Owner};
pub use open::{open, open_at_once, CreatedEvent, Leases, OpenedAtOnce, StandIns, Template};
pub(crate) use read::bundles;
pub use read::{
    active_chat, active_count_from, active_from, agents_of, context, end_user_number, find, find_chat, list,
    lock_owner, message, messages, ChatContext, ChatFilter,
};
pub use reply::{assign, reply, Assigned, NewReply, Replied};

/// The SQL of "the chat is active", written exactly as the predicate of the partial indexes
/// `chats_one_active_per_end_user` and `chats_active_expiry`. A planner uses a partial index
/// only when it can prove the query implies the index's predicate, and a bound list
/// (`status = ANY($1)`) proves nothing: every active-chat lookup would scan all the tenant's
/// chats. With the literal, each is one index probe.
pub(crate) const ACTIVE_PREDICATE: &str = "chats.status IN ('selecting', 'queued', 'assigned')";

/// A predicate written as SQL, as a diesel expression of its own type. Unlike
/// `diesel::dsl::sql`, it has a static query id, so the statements that use it stay in diesel's
/// prepared-statement cache (keyed by type: each predicate needs a type of its own).
macro_rules! sql_predicate {
    ($(#[$doc:meta])* $name:ident = $sql:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
        pub(crate) struct $name;

        impl diesel::Expression for $name {
            type SqlType = diesel::sql_types::Bool;
        }

        impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for $name {
            fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
                out.push_sql($sql);
                Ok(())
            }
        }

        impl<QS> diesel::AppearsOnTable<QS> for $name {}
        impl<QS> diesel::SelectableExpression<QS> for $name {}

        impl diesel::expression::ValidGrouping<()> for $name {
            type IsAggregate = diesel::expression::is_aggregate::Never;
        }
    };
}

sql_predicate!(
    /// [`ACTIVE_PREDICATE`].
    IsActive = ACTIVE_PREDICATE
);
sql_predicate!(
    /// The tenant still owns the chat's outbound number (in a query over `chats`).
    OutboundOwned = "EXISTS (SELECT 1 FROM outbound_numbers o \
                     WHERE o.tenant_id = chats.tenant_id AND o.number = chats.outbound_number)"
);
sql_predicate!(
    /// The chat's consumer opted out of the tenant's texts (in a query over `chats` joined to
    /// `end_users`).
    ConsumerOptedOut = "EXISTS (SELECT 1 FROM opt_outs x \
                        WHERE x.tenant_id = chats.tenant_id AND x.number = end_users.number)"
);

fn is_active() -> IsActive {
    IsActive
}

/// Everything needed to open a chat.
#[derive(Debug, Clone)]
pub struct NewChatSpec<'a> {
    pub tenant_id: TenantId,
    pub lang: &'a str,
    pub chat_type: sms_domain::ChatType,
    pub end_user_number: &'a E164Number,
    pub outbound_number: &'a E164Number,
    pub ticket_id: Option<&'a str>,
    pub agent: Option<&'a Agent>,
    pub message: &'a str,
    pub segments: i32,
    /// The session lock's token, kept so whoever ends the chat can release the lock as owner.
    pub lock_token: Option<&'a str>,
    pub now: NaiveDateTime,
    pub session_timeout: Duration,
}

/// Why the tenant's tables refuse a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The outbound number is not one of the tenant's.
    OutboundNotRegistered,
    /// The consumer opted out of the tenant's messages.
    OptedOut,
}

/// What [`open`] did, all of it decided inside the caller's transaction.
#[derive(Debug, Clone)]
pub enum Opened {
    /// The chat, its participants and its first (queued) message are written.
    Created(Box<ChatBundle>),
    /// Nothing was written: the outbound number is not the tenant's, or the consumer opted out.
    Refused(Refusal),
    /// The consumer has an active chat (the unique index refused the insert): that chat, or
    /// `None` when it was committed by a concurrent transaction this one cannot see yet.
    Busy(Option<Box<crate::Chat>>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use sms_domain::ChatStatus;

    /// The literal names exactly the active statuses, in the migrations' order.
    #[test]
    fn the_active_predicate_lists_the_active_statuses() {
        let names = ChatStatus::active_names().map(|n| format!("'{n}'")).join(", ");
        assert_eq!(ACTIVE_PREDICATE, format!("chats.status IN ({names})"));
    }

    /// The migrations' partial indexes carry the same predicate, so planners can use them.
    #[test]
    fn the_partial_indexes_use_the_same_predicate() {
        for sql in [
            include_str!("../../../../migrations/postgres/2026-11-23-000001_init/up.sql"),
            include_str!("../../../../migrations/sqlite/2026-11-23-000001_init/up.sql"),
        ] {
            let predicate = ACTIVE_PREDICATE.trim_start_matches("chats.");
            assert_eq!(sql.matches(&format!("WHERE {predicate};")).count(), 2, "{sql}");
        }
    }
}
