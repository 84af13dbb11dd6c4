//! Database rows, by concern. Wire types live in the HTTP crate and convert from these; ids and
//! numbers are the domain's typed values, mapped to the columns (`crate::ids`).

mod chats;
mod tenants;
mod webhooks;

pub use chats::*;
pub use tenants::*;
pub use webhooks::*;
