//! The platform's Manager API exports (SPEC section 13.2): the tenant's settings, chats and
//! agents for reporting, paged as the platform pages them, with the figures reports ask for and
//! the links to the neighbouring pages.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::Serialize;
use sms_domain::time::format_timestamp;
use sms_domain::{ChatStatus, Direction};
use sms_store::exports::{self, AgentQuery, AgentSort, ChatQuery, ChatSort, ExportedChat, MessageFact, Page, Range};
use sms_store::{Agent, Tenant};
use utoipa::ToSchema;

use crate::error::{Result, ServiceError};
use crate::views::ChatObject;
use crate::{PageQuery, Service};

/// `GET /manager/api/v1/settings/organization`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"subdomain": "acme", "name": "Acme", "lang": "en", "time_zone": "UTC"}))]
pub struct Organization {
    pub subdomain: String,
    pub name: String,
    pub lang: String,
    pub time_zone: String,
}

impl From<&Tenant> for Organization {
    fn from(t: &Tenant) -> Self {
        Self { subdomain: t.subdomain.clone(), name: t.name.clone(), lang: t.lang.clone(), time_zone: "UTC".into() }
    }
}

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

/// A chat as the Manager API exports it: the chat object and the figures of reports.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatExport {
    #[serde(flatten)]
    pub chat: ChatObject,
    /// The last change of any kind; never earlier than `last_msg_sent_at`.
    pub updated_at: String,
    /// When the first outbound message was sent.
    pub first_msg_sent_at: Option<String>,
    /// When the last outbound message was sent.
    pub last_msg_sent_at: Option<String>,
    /// Messages both ways.
    pub message_count: i64,
    /// As `wait_duration`.
    pub queue_duration: i64,
    /// Whether the chat has messages.
    pub transcript: bool,
    /// Whole seconds from a consumer's message to the next agent message, on average.
    pub average_response_time: Option<i64>,
    /// The longest of those.
    pub longest_response_time: Option<i64>,
}

impl From<&ExportedChat> for ChatExport {
    fn from(e: &ExportedChat) -> Self {
        let chat = ChatObject::from(&e.bundle);
        let sent: Vec<NaiveDateTime> = e.messages.iter().filter_map(|m| m.sent_at).collect();
        let (first, last) = (sent.iter().min().copied(), sent.iter().max().copied());
        let responses = response_times(&e.messages);
        let updated = last.map_or(e.bundle.chat.updated_at, |l| l.max(e.bundle.chat.updated_at));
        Self {
            queue_duration: chat.wait_duration,
            chat,
            updated_at: format_timestamp(updated),
            first_msg_sent_at: first.map(format_timestamp),
            last_msg_sent_at: last.map(format_timestamp),
            message_count: i64::try_from(e.messages.len()).unwrap_or(i64::MAX),
            transcript: !e.messages.is_empty(),
            average_response_time: (!responses.is_empty())
                .then(|| responses.iter().sum::<i64>() / i64::try_from(responses.len()).unwrap_or(1) / 1000),
            longest_response_time: responses.iter().max().map(|ms| ms / 1000),
        }
    }
}

/// Milliseconds from each consumer message to the creation of the next message an agent wrote
/// (a consumer message no agent answered has none).
fn response_times(messages: &[MessageFact]) -> Vec<i64> {
    messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.direction == Direction::Inbound)
        .filter_map(|(i, asked)| {
            let answer = messages[i + 1..].iter().find(|m| m.direction == Direction::Outbound && m.by_agent)?;
            Some((answer.created_at - asked.created_at).num_milliseconds().max(0))
        })
        .collect()
}

/// An agent as the Manager API exports it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentExport {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub middle_name: Option<String>,
    /// A string, as the platform answers it.
    pub agent_number: Option<String>,
    pub avatar_url: Option<String>,
    pub created_at: String,
    /// When its status (active, deactivated) last changed, else its creation.
    pub status_updated_at: String,
    pub roles: Vec<String>,
    pub online: bool,
    pub status: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub teams: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub channels: Vec<serde_json::Value>,
    /// Its chats.
    pub chat_count: i64,
    pub call_count: i64,
    pub wrap_up: bool,
    pub crm_authenticated: bool,
    pub location: Option<String>,
    /// Its last console sign-in.
    pub last_login_time: Option<String>,
}

impl AgentExport {
    fn new(agent: &Agent, chat_count: i64) -> Self {
        Self {
            id: agent.id.get(),
            email: agent.email.clone(),
            first_name: agent.first_name.clone(),
            last_name: agent.last_name.clone(),
            middle_name: None,
            agent_number: agent.agent_number.map(|n| n.to_string()),
            avatar_url: agent.avatar_url.clone(),
            created_at: format_timestamp(agent.created_at),
            status_updated_at: format_timestamp(agent.status_updated_at),
            roles: vec!["agent".into()],
            online: false,
            status: None,
            teams: Vec::new(),
            channels: Vec::new(),
            chat_count,
            call_count: 0,
            wrap_up: false,
            crm_authenticated: false,
            location: None,
            last_login_time: None,
        }
    }
}

/// One page of an export and what its paging headers say.
#[derive(Debug, Clone)]
pub struct Exported<T> {
    pub items: Vec<T>,
    /// Rows matching over all pages.
    pub total: i64,
    pub per: i64,
    /// `Link` entries: `<absolute URL>; rel="next"` and `rel="prev"`, where they apply.
    pub links: Vec<String>,
}

/// Where an export was asked: its path and its query as sent, so the links repeat the query.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    pub path: &'a str,
    pub query: &'a str,
}

impl Service {
    /// The tenant's settings as the Manager API names them.
    pub fn organization(&self, tenant: &Tenant) -> Organization {
        Organization::from(tenant)
    }

    /// A page of the tenant's chats, for reporting.
    pub async fn export_chats(
        &self,
        tenant: &Tenant,
        query: &ChatExportQuery,
        asked: Asked<'_>,
    ) -> Result<Exported<ChatExport>> {
        let page = page_of(&query.page, &query.per, &query.sort_direction)?;
        let sort = match query.sort_column.as_deref() {
            None | Some("id") => ChatSort::Id,
            Some("created_at") => ChatSort::CreatedAt,
            Some("updated_at") => ChatSort::UpdatedAt,
            Some(_) => return Err(invalid("sort_column must be one of id, created_at, updated_at")),
        };
        let status = match query.status.as_deref() {
            None => None,
            Some(s) => Some(
                ChatStatus::parse(s)
                    .ok_or_else(|| invalid("status must be one of selecting, queued, assigned, finished"))?,
            ),
        };
        let filter = ChatQuery {
            status,
            created: range("created_at", &query.created_from, &query.created_to)?,
            updated: range("updated_at", &query.updated_from, &query.updated_to)?,
            sort,
        };
        let tenant_id = tenant.id;
        let (rows, total) = self.db(move |conn| Ok(exports::chats(conn, tenant_id, &filter, page)?)).await?;
        Ok(self.exported(rows.iter().map(ChatExport::from).collect(), total, page, asked))
    }

    /// A page of the tenant's agents, for reporting.
    pub async fn export_agents(
        &self,
        tenant: &Tenant,
        query: &AgentExportQuery,
        asked: Asked<'_>,
    ) -> Result<Exported<AgentExport>> {
        let page = page_of(&query.page, &query.per, &query.sort_direction)?;
        let sort = match query.sort_column.as_deref() {
            None | Some("id") => AgentSort::Id,
            Some("created_at") => AgentSort::CreatedAt,
            Some("status_updated_at") => AgentSort::StatusUpdatedAt,
            Some(_) => return Err(invalid("sort_column must be one of id, created_at, status_updated_at")),
        };
        let filter = AgentQuery {
            created: range("created_at", &query.created_from, &query.created_to)?,
            status_updated: range("status_updated_at", &query.status_updated_from, &query.status_updated_to)?,
            sort,
        };
        let tenant_id = tenant.id;
        let (rows, total) = self.db(move |conn| Ok(exports::agents(conn, tenant_id, &filter, page)?)).await?;
        let items = rows.iter().map(|(agent, chats)| AgentExport::new(agent, *chats)).collect();
        Ok(self.exported(items, total, page, asked))
    }

    fn exported<T>(&self, items: Vec<T>, total: i64, page: Page, asked: Asked<'_>) -> Exported<T> {
        let base = format!("{}{}", self.inner.callbacks.public_url.trim_end_matches('/'), asked.path);
        let link = |number: i64, rel: &str| format!("<{base}?{}>; rel=\"{rel}\"", with_page(asked.query, number));
        let mut links = Vec::new();
        if page.page.saturating_mul(page.per) < total {
            links.push(link(page.page + 1, "next"));
        }
        if page.page > 1 {
            // A page past the end links back to the last one that has rows.
            let last = ((total + page.per - 1) / page.per).max(1);
            links.push(link((page.page - 1).min(last), "prev"));
        }
        Exported { items, total, per: page.per, links }
    }
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

fn invalid(message: &str) -> ServiceError {
    ServiceError::Invalid(message.to_owned())
}

fn page_of(page: &Option<String>, per: &Option<String>, direction: &Option<String>) -> Result<Page> {
    let (page, per) = PageQuery { page: page.clone(), per: per.clone() }.numbers()?;
    let descending = match direction.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(_) => return Err(invalid("sort_direction must be ASC or DESC")),
    };
    Ok(Page { page, per, descending })
}

/// An inclusive range from `[from]` and `[to]` of the parameter `name`.
fn range(name: &str, from: &Option<String>, to: &Option<String>) -> Result<Range> {
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
fn with_page(query: &str, number: i64) -> String {
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
    use chrono::NaiveDate;

    fn at(h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 5).unwrap().and_hms_opt(h, m, s).unwrap()
    }

    fn fact(direction: Direction, by_agent: bool, created_at: NaiveDateTime) -> MessageFact {
        MessageFact { direction, by_agent, created_at, sent_at: None }
    }

    #[test]
    fn responses_run_from_each_consumer_message_to_the_next_agent_message() {
        let chat = [
            fact(Direction::Outbound, false, at(9, 0, 0)),
            fact(Direction::Inbound, false, at(9, 1, 0)),
            fact(Direction::Outbound, false, at(9, 1, 1)), // an automatic answer
            fact(Direction::Outbound, true, at(9, 1, 30)),
            fact(Direction::Inbound, false, at(9, 2, 0)),
            fact(Direction::Inbound, false, at(9, 3, 0)),
            fact(Direction::Outbound, true, at(9, 4, 0)),
            fact(Direction::Inbound, false, at(9, 5, 0)),
        ];
        assert_eq!(response_times(&chat), vec![30_000, 120_000, 60_000]);
        assert!(response_times(&chat[..3]).is_empty());
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
