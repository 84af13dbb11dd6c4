//! The limits and patterns the OpenAPI document states, taken from the very constants the
//! domain's checks use: the request bodies derive their schemas (`ToSchema`) without restating a
//! number, and this table adds each constraint to the property it governs. A limit changed in the
//! domain changes in the document, and a property named here that the document lacks fails the
//! document's test (`every_limit_names_a_property`).

use sms_domain::admin::PASSWORD_CHARS;
use sms_domain::admin::{
    MAX_EMAIL_CHARS, MAX_LANG_CHARS, MAX_NAME_CHARS, MAX_RATE_LIMIT, MAX_REPLY_TEXT_CHARS, MAX_SESSION_TIMEOUT_MINUTES,
    MAX_URL_CHARS, MIN_SESSION_TIMEOUT_MINUTES,
};
use sms_domain::events::MAX_DESCRIPTION_CHARS;
use sms_domain::patterns::{EMAIL, HHMM, MIN_ID, NOT_BLANK, NO_NUL, SUBDOMAIN};
use sms_domain::reply::MAX_MEDIA;
use sms_domain::sms::{MAX_MESSAGE_CHARS, MAX_TICKET_ID_CHARS};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{OpenApi, RefOr};
use utoipa::Number;

/// One property's constraint.
#[derive(Debug, Clone, Copy)]
enum Limit {
    /// A string: its length in characters and its pattern.
    Text { min: Option<usize>, max: usize, pattern: Option<&'static str> },
    /// A string of a pattern alone.
    Pattern(&'static str),
    /// A number's range.
    Range { min: i64, max: Option<i64> },
    /// An array's length.
    Items { min: Option<usize>, max: Option<usize> },
}

/// Free text that must not be blank, of at most `max` characters.
const fn not_blank(max: usize) -> Limit {
    Limit::Text { min: Some(1), max, pattern: Some(NOT_BLANK) }
}

/// At most `max` characters.
const fn at_most(max: usize) -> Limit {
    Limit::Text { min: None, max, pattern: None }
}

/// An id: at least the smallest a row has.
const ID: Limit = Limit::Range { min: MIN_ID, max: None };

/// The tenant's automatic answers: 1 to 320 characters (blank refused by the check).
const REPLY_TEXT: Limit = Limit::Text { min: Some(1), max: MAX_REPLY_TEXT_CHARS, pattern: None };

/// Every (schema, property, limit) of the request bodies.
fn table(jwt_max_ttl: i64) -> Vec<(&'static str, &'static str, Limit)> {
    let mut rows = vec![
        ("SendSmsRequest", "message", not_blank(MAX_MESSAGE_CHARS)),
        ("SendSmsRequest", "ticket_id", at_most(MAX_TICKET_ID_CHARS)),
        ("SendSmsRequest", "agentId", ID),
        ("SendSmsRequest", "agent_id", ID),
        ("ReplyRequest", "message", at_most(MAX_MESSAGE_CHARS)),
        ("ReplyRequest", "media_urls", Limit::Items { min: None, max: Some(MAX_MEDIA) }),
        ("ReplyRequest", "agentId", ID),
        ("ReplyRequest", "agent_id", ID),
        ("AssignRequest", "agentId", ID),
        ("AssignRequest", "agent_id", ID),
        (
            "PasswordSet",
            "password",
            Limit::Text { min: Some(*PASSWORD_CHARS.start()), max: *PASSWORD_CHARS.end(), pattern: Some(NO_NUL) },
        ),
        ("TenantCreate", "subdomain", Limit::Pattern(SUBDOMAIN)),
        ("TenantJwtRequest", "ttl_seconds", Limit::Range { min: 1, max: Some(jwt_max_ttl) }),
    ];
    for tenant in ["TenantCreate", "TenantPatch"] {
        rows.extend([
            (tenant, "name", not_blank(MAX_NAME_CHARS)),
            (tenant, "lang", not_blank(MAX_LANG_CHARS)),
            (
                tenant,
                "session_timeout_minutes",
                Limit::Range {
                    min: i64::from(MIN_SESSION_TIMEOUT_MINUTES),
                    max: Some(i64::from(MAX_SESSION_TIMEOUT_MINUTES)),
                },
            ),
            (tenant, "rate_limit_per_second", Limit::Range { min: 0, max: Some(i64::from(MAX_RATE_LIMIT)) }),
            (tenant, "rate_limit_burst", Limit::Range { min: 1, max: Some(i64::from(MAX_RATE_LIMIT)) }),
            (tenant, "help_text", REPLY_TEXT),
            (tenant, "opt_out_text", REPLY_TEXT),
            (tenant, "opt_in_text", REPLY_TEXT),
            (tenant, "quiet_hours_start", Limit::Pattern(HHMM)),
            (tenant, "quiet_hours_end", Limit::Pattern(HHMM)),
        ]);
    }
    for agent in ["AgentCreate", "AgentPatch"] {
        rows.extend([
            (agent, "email", Limit::Text { min: None, max: MAX_EMAIL_CHARS, pattern: Some(EMAIL) }),
            (agent, "first_name", not_blank(MAX_NAME_CHARS)),
            (agent, "last_name", not_blank(MAX_NAME_CHARS)),
            (agent, "name", not_blank(MAX_NAME_CHARS)),
            (agent, "agent_number", Limit::Range { min: 0, max: None }),
            (agent, "avatar_url", not_blank(MAX_URL_CHARS)),
        ]);
    }
    for endpoint in ["WebhookCreate", "WebhookPatch"] {
        rows.extend([
            (endpoint, "url", at_most(MAX_URL_CHARS)),
            (endpoint, "events", Limit::Items { min: Some(1), max: None }),
            (endpoint, "description", at_most(MAX_DESCRIPTION_CHARS)),
        ]);
    }
    rows
}

fn number(value: i64) -> Number {
    Number::Int(isize::try_from(value).unwrap_or(isize::MAX))
}

/// Adds every limit of the table to its property, and the paging limits to every list's `page`
/// and `per`. Answers the (schema, property) pairs the document does not have.
pub fn apply(api: &mut OpenApi) -> Vec<(&'static str, &'static str)> {
    let jwt_max_ttl = i64::try_from(sms_service::DEFAULT_JWT_MAX_TTL_SECS).unwrap_or(i64::MAX);
    let mut missing = Vec::new();
    let schemas = api.components.as_mut().map(|c| &mut c.schemas);
    let Some(schemas) = schemas else { return table(jwt_max_ttl).into_iter().map(|(s, p, _)| (s, p)).collect() };
    for (schema, property, limit) in table(jwt_max_ttl) {
        let target = match schemas.get_mut(schema) {
            Some(RefOr::T(Schema::Object(object))) => object.properties.get_mut(property),
            _ => None,
        };
        match target {
            Some(RefOr::T(property_schema)) => constrain(property_schema, limit),
            _ => missing.push((schema, property)),
        }
    }
    for item in api.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        for operation in operations.into_iter().flatten() {
            for parameter in operation.parameters.iter_mut().flatten() {
                let limit = match parameter.name.as_str() {
                    "page" => Limit::Range { min: 1, max: None },
                    "per" => Limit::Range { min: 1, max: Some(sms_service::MAX_PER_PAGE) },
                    _ => continue,
                };
                if let Some(RefOr::T(schema)) = parameter.schema.as_mut() {
                    constrain(schema, limit);
                }
            }
        }
    }
    missing
}

fn constrain(schema: &mut Schema, limit: Limit) {
    match (schema, limit) {
        (Schema::Object(object), Limit::Text { min, max, pattern }) => {
            object.min_length = min;
            object.max_length = Some(max);
            object.pattern = pattern.map(str::to_owned);
        }
        (Schema::Object(object), Limit::Pattern(pattern)) => object.pattern = Some(pattern.to_owned()),
        (Schema::Object(object), Limit::Range { min, max }) => {
            object.minimum = Some(number(min));
            object.maximum = max.map(number);
        }
        (Schema::Array(array), Limit::Items { min, max }) => {
            array.min_items = min;
            array.max_items = max;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_limit_names_a_property() {
        let mut api = crate::openapi();
        assert_eq!(super::apply(&mut api), Vec::<(&str, &str)>::new());
    }
}
