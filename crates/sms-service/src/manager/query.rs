//! The Manager API's query strings, as the platform's clients send them: paging, sort, ranges of
//! dates; and the links to the neighbouring pages that repeat them.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use sms_store::exports::{Page, Range};

use crate::error::{Result, ServiceError};
use crate::PageQuery;

/// The query of `GET /manager/api/v1/chats`, each value as sent.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChatExportQuery {
    /// From 1; default 1.
    #[param(value_type = Option<i64>)]
    pub page: Option<String>,
    /// 1 to 100; default 100.
    #[param(value_type = Option<i64>)]
    pub per: Option<String>,
    /// `id` (default), `created_at` or `updated_at`; ties are broken by `id`.
    #[param(schema_with = chat_sort_columns)]
    pub sort_column: Option<String>,
    /// `ASC` (default) or `DESC`, any case.
    #[param(schema_with = sort_directions)]
    pub sort_direction: Option<String>,
    /// Only chats in this status.
    #[param(inline, value_type = Option<sms_domain::ChatStatus>)]
    pub status: Option<String>,
    /// Created at or after (RFC 3339, or `YYYY-MM-DD` for midnight UTC).
    #[serde(rename = "created_at[from]")]
    #[param(rename = "created_at[from]", schema_with = moment_schema)]
    pub created_from: Option<String>,
    /// Created at or before (RFC 3339, or `YYYY-MM-DD` for the whole day).
    #[serde(rename = "created_at[to]")]
    #[param(rename = "created_at[to]", schema_with = moment_schema)]
    pub created_to: Option<String>,
    /// Changed at or after: ask for the last `updated_at` seen to miss no change.
    #[serde(rename = "updated_at[from]")]
    #[param(rename = "updated_at[from]", schema_with = moment_schema)]
    pub updated_from: Option<String>,
    /// Changed at or before.
    #[serde(rename = "updated_at[to]")]
    #[param(rename = "updated_at[to]", schema_with = moment_schema)]
    pub updated_to: Option<String>,
}

/// The query of `GET /manager/api/v1/agents`, each value as sent.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgentExportQuery {
    /// From 1; default 1.
    #[param(value_type = Option<i64>)]
    pub page: Option<String>,
    /// 1 to 100; default 100.
    #[param(value_type = Option<i64>)]
    pub per: Option<String>,
    /// `id` (default), `created_at` or `status_updated_at`; ties are broken by `id`.
    #[param(schema_with = agent_sort_columns)]
    pub sort_column: Option<String>,
    /// `ASC` (default) or `DESC`, any case.
    #[param(schema_with = sort_directions)]
    pub sort_direction: Option<String>,
    /// Created at or after (RFC 3339, or `YYYY-MM-DD` for midnight UTC).
    #[serde(rename = "created_at[from]")]
    #[param(rename = "created_at[from]", schema_with = moment_schema)]
    pub created_from: Option<String>,
    /// Created at or before (RFC 3339, or `YYYY-MM-DD` for the whole day).
    #[serde(rename = "created_at[to]")]
    #[param(rename = "created_at[to]", schema_with = moment_schema)]
    pub created_to: Option<String>,
    /// Status changed at or after.
    #[serde(rename = "status_updated_at[from]")]
    #[param(rename = "status_updated_at[from]", schema_with = moment_schema)]
    pub status_updated_from: Option<String>,
    /// Status changed at or before.
    #[serde(rename = "status_updated_at[to]")]
    #[param(rename = "status_updated_at[to]", schema_with = moment_schema)]
    pub status_updated_to: Option<String>,
}

/// The schema of a range's end: an RFC 3339 date-time, or a date.
fn moment_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
    let string =
        |format| ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(format)));
    utoipa::openapi::schema::Schema::OneOf(
        OneOfBuilder::new().item(string(KnownFormat::DateTime)).item(string(KnownFormat::Date)).build(),
    )
}

fn names_schema(names: &[&str]) -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(names.iter().copied()))
        .build()
}

fn chat_sort_columns() -> utoipa::openapi::schema::Object {
    names_schema(&["id", "created_at", "updated_at"])
}

fn agent_sort_columns() -> utoipa::openapi::schema::Object {
    names_schema(&["id", "created_at", "status_updated_at"])
}

/// `ASC` or `DESC` in any case.
fn sort_directions() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some("^([Aa][Ss][Cc]|[Dd][Ee][Ss][Cc])$"))
        .build()
}

pub(super) fn invalid(message: &str) -> ServiceError {
    ServiceError::Invalid(message.to_owned())
}

pub(super) fn page_of(page: &Option<String>, per: &Option<String>, direction: &Option<String>) -> Result<Page> {
    let (page, per) = PageQuery { page: page.clone(), per: per.clone() }.numbers()?;
    let descending = match direction.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(_) => return Err(invalid("sort_direction must be ASC or DESC")),
    };
    Ok(Page { page, per, descending })
}

/// An inclusive range from `[from]` and `[to]` of the parameter `name`.
pub(super) fn range(name: &str, from: &Option<String>, to: &Option<String>) -> Result<Range> {
    let bad = |end: &str| invalid(&format!("{name}[{end}] must be an RFC 3339 date-time or a date (YYYY-MM-DD)"));
    let from = from.as_deref().map(|v| moment(v, false).ok_or_else(|| bad("from"))).transpose()?;
    let to = to.as_deref().map(|v| moment(v, true).ok_or_else(|| bad("to"))).transpose()?;
    Ok(Range { from, to })
}

/// An RFC 3339 date-time in UTC, or a date: its first moment, or for the end of a range, its
/// last.
fn moment(value: &str, end_of_day: bool) -> Option<NaiveDateTime> {
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let time = if end_of_day { NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999)? } else { NaiveTime::MIN };
        return Some(date.and_time(time));
    }
    // A `+` sent unencoded in a query arrives as a space.
    let value = value.replace(' ', "+");
    chrono::DateTime::parse_from_rfc3339(&value).ok().map(|t| t.naive_utc())
}

/// `query` (as sent) with `page` set to `number`, each pair percent-encoded (`+` as `%2B`).
pub(super) fn with_page(query: &str, number: i64) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != "page") {
        out.append_pair(&key, &value);
    }
    out.append_pair("page", &number.to_string());
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 5).unwrap().and_hms_opt(h, m, s).unwrap()
    }

    #[test]
    fn dates_and_date_times() {
        assert_eq!(moment("2026-12-05", false), Some(at(0, 0, 0)));
        assert_eq!(moment("2026-12-05", true), Some(at(23, 59, 59) + chrono::Duration::microseconds(999_999)));
        assert_eq!(moment("2026-12-05T10:00:00+01:00", false), Some(at(9, 0, 0)));
        assert_eq!(
            moment("2026-12-05T09:00:00.123456Z", false),
            Some(at(9, 0, 0) + chrono::Duration::microseconds(123_456))
        );
        assert_eq!(moment("2026-12-05T10:00:00 01:00", false), Some(at(9, 0, 0)));
        for bad in ["yesterday", "2026-13-01", "2026-12-05 09:00"] {
            assert_eq!(moment(bad, false), None, "{bad}");
        }
    }

    #[test]
    fn links_repeat_the_query_with_another_page() {
        assert_eq!(
            with_page("sort_column=updated_at&updated_at[from]=2026-12-05T09:00:00.000%2B00:00&page=2", 3),
            "sort_column=updated_at&updated_at%5Bfrom%5D=2026-12-05T09%3A00%3A00.000%2B00%3A00&page=3"
        );
        assert_eq!(with_page("", 2), "page=2");
    }
}
