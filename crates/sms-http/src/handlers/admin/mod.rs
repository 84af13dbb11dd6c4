//! The admin API under `/admin/v1`, one module per resource. Every handler takes [`AdminAuth`]
//! first and calls one operation of the service, which finds the tenant.
//!
//! [`AdminAuth`]: crate::auth::AdminAuth

mod agents;
mod numbers;
mod opt_outs;
mod tenants;
mod tokens;

pub use agents::*;
pub use numbers::*;
pub use opt_outs::*;
pub use tenants::*;
pub use tokens::*;

use actix_web::HttpResponse;

/// A list answer: every record in its wire form.
fn list<'a, R, W: serde::Serialize>(records: &'a [R], wire: impl Fn(&'a R) -> W) -> HttpResponse {
    HttpResponse::Ok().json(records.iter().map(wire).collect::<Vec<_>>())
}
