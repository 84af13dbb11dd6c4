//! The checks of this crate spelled as JSON Schema patterns, for the OpenAPI document (which
//! states them beside the length limits, from the same constants). White space is spelled out
//! as Rust's `char::is_whitespace` (Unicode White_Space), which is what the checks trim and
//! refuse; JSON Schema's `\s` is ECMAScript's, a different set.

/// Not blank: at least one character that is not white space ([`crate::admin::check_text`],
/// `message is required`), and no NUL character (refused in any body).
pub const NOT_BLANK: &str = "^[^\\u0000]*[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\u0000][^\\u0000]*$";

/// A plausible e-mail address ([`crate::admin::check_email`]): one `@` with text on both sides and
/// no white space.
pub const EMAIL: &str = "^[^@\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\u0000]+@[^@\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\u0000]+$";

/// A tenant's subdomain ([`crate::admin::check_subdomain`]).
/// Any text without the NUL character (which every string field refuses).
pub const NO_NUL: &str = "^[^\\u0000]*$";

pub const SUBDOMAIN: &str = "^[a-z0-9-]{1,63}$";

/// `"HH:MM"`, 24-hour ([`crate::quiet::is_hhmm`]).
pub const HHMM: &str = "^([01][0-9]|2[0-3]):[0-5][0-9]$";

/// The smallest id a row has: an id below it names nothing.
pub const MIN_ID: i64 = 1;
