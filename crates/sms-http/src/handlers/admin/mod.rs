//! The admin API under `/admin/v1`, one module per resource. Every handler takes [`AdminAuth`]
//! first and calls one operation of the service, which finds the tenant.
//!
//! [`AdminAuth`]: crate::auth::AdminAuth

mod agents;
mod numbers;
mod opt_outs;
mod tenants;
mod tokens;
mod webhooks;

pub use agents::*;
pub use numbers::*;
pub use opt_outs::*;
pub use tenants::*;
pub use tokens::*;
pub use webhooks::*;
