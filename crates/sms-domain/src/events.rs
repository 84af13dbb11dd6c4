//! Event webhooks: the event types, and the rules for what an admin registers (the endpoint's
//! URL and the types it receives).

use crate::admin::{check_len, AdminInputError};

crate::names::stored_names! {
    /// What a tenant's systems can hear about.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum EventType as "event type" {
        /// A chat was opened (`POST /apps/api/v1/sms`).
        #[cfg_attr(feature = "openapi", schema(rename = "chat.created"))]
        ChatCreated = "chat.created",
        /// A chat without an agent got one (a reply that names an agent).
        #[cfg_attr(feature = "openapi", schema(rename = "chat.assigned"))]
        ChatAssigned = "chat.assigned",
        /// A chat ended: through the API, its timeout, or the consumer's opt-out.
        #[cfg_attr(feature = "openapi", schema(rename = "chat.ended"))]
        ChatEnded = "chat.ended",
        /// A consumer's reply arrived, routed to a chat or not.
        #[cfg_attr(feature = "openapi", schema(rename = "message.received"))]
        MessageReceived = "message.received",
        /// An outbound message's delivery status moved forward.
        #[cfg_attr(feature = "openapi", schema(rename = "message.status_updated"))]
        MessageStatusUpdated = "message.status_updated",
        /// A consumer opted out.
        #[cfg_attr(feature = "openapi", schema(rename = "consumer.opted_out"))]
        ConsumerOptedOut = "consumer.opted_out",
        /// A consumer opted back in.
        #[cfg_attr(feature = "openapi", schema(rename = "consumer.opted_in"))]
        ConsumerOptedIn = "consumer.opted_in",
        /// An admin asked for a test delivery (`POST …/webhooks/{id}/test`): sent to that endpoint
        /// alone, whatever its `events`; not a type to subscribe to.
        #[cfg_attr(feature = "openapi", schema(rename = "webhook.test"))]
        WebhookTest = "webhook.test",
    }
}

impl EventType {
    /// The types an endpoint can receive: every type but the test.
    pub const SUBSCRIBABLE: [EventType; 7] = [
        Self::ChatCreated,
        Self::ChatAssigned,
        Self::ChatEnded,
        Self::MessageReceived,
        Self::MessageStatusUpdated,
        Self::ConsumerOptedOut,
        Self::ConsumerOptedIn,
    ];
}

crate::names::stored_names! {
    /// What an endpoint's deliveries look like: this service's Standard Webhooks events, or the
    /// Contact Center AI Platform's own chat webhooks.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(rename_all = "snake_case"))]
    pub enum EndpointFormat as "endpoint format" {
        Standard = "standard",
        Ccai = "ccai",
    }
}

impl EndpointFormat {
    /// The formats this release sends.
    pub const SUPPORTED: [EndpointFormat; 2] = [Self::Standard, Self::Ccai];
}

/// The longest URL accepted, for an endpoint or a medium (as for an agent's avatar).
pub use crate::admin::MAX_URL_CHARS;
/// The longest description of an endpoint.
pub const MAX_DESCRIPTION_CHARS: usize = 255;

crate::names::stored_names! {
    /// A delivery's state.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(rename_all = "snake_case"))]
    pub enum DeliveryState as "delivery state" {
        Pending = "pending",
        Delivered = "delivered",
        Failed = "failed",
    }
}

/// The body of `POST /admin/v1/tenants/{subdomain}/webhooks`. Event types arrive as strings, so
/// that an unknown one answers `events is invalid`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = WebhookCreate,
    example = json!({"url": "https://crm.example.com/hooks/sms", "events": ["chat.created", "message.received"], "description": "CRM"})))]
pub struct EndpointCreate {
    /// Absolute `http` or `https`, at most 2048 characters, without a user name or password.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "https://crm.example.com/hooks/sms"))]
    pub url: Option<String>,
    /// The event types it receives: distinct, at least one; default all seven.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<EventType>>))]
    pub events: Option<Vec<String>>,
    /// Free text for people, at most 255 characters.
    pub description: Option<String>,
    /// Create it disabled (default false): its deliveries wait until it is enabled.
    pub disabled: Option<bool>,
    /// What its deliveries look like: `standard` (default, Standard Webhooks).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<EndpointFormat>))]
    pub format: Option<String>,
}

/// The body of `PATCH /admin/v1/tenants/{subdomain}/webhooks/{id}`: absent fields keep their value.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = WebhookPatch, example = json!({"disabled": false})))]
pub struct EndpointPatch {
    pub url: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<EventType>>))]
    pub events: Option<Vec<String>>,
    /// An empty string clears it.
    pub description: Option<String>,
    /// `true`: it receives nothing, its deliveries wait; `false`: they go out.
    pub disabled: Option<bool>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<EndpointFormat>))]
    pub format: Option<String>,
}

/// A valid endpoint to create, or a valid change to one (`None`: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointDraft {
    pub url: Option<String>,
    pub events: Option<Vec<EventType>>,
    /// An empty description is none (in a change: clears it).
    pub description: Option<String>,
    pub disabled: Option<bool>,
    pub format: Option<EndpointFormat>,
}

impl EndpointCreate {
    /// A new endpoint: `url` required, every event type by default, enabled unless told.
    pub fn into_draft(self) -> Result<EndpointDraft, AdminInputError> {
        let url = check_endpoint_url(self.url.as_deref())?;
        let events = check_event_types(self.events.as_deref())?;
        let description = check_description(self.description)?;
        let format = Some(check_format(self.format.as_deref())?.unwrap_or(EndpointFormat::Standard));
        Ok(EndpointDraft { url: Some(url), events: Some(events), description, disabled: self.disabled, format })
    }
}

impl EndpointPatch {
    /// A change: each field sent must be valid on its own.
    pub fn into_update(self) -> Result<EndpointDraft, AdminInputError> {
        let url = self.url.as_deref().map(|u| check_endpoint_url(Some(u))).transpose()?;
        let events = self.events.as_deref().map(|e| check_event_types(Some(e))).transpose()?;
        if let Some(d) = &self.description {
            check_len("description", d, MAX_DESCRIPTION_CHARS)?;
        }
        let format = check_format(self.format.as_deref())?;
        Ok(EndpointDraft { url, events, description: self.description, disabled: self.disabled, format })
    }
}

/// A format this release sends.
fn check_format(raw: Option<&str>) -> Result<Option<EndpointFormat>, AdminInputError> {
    match raw {
        None => Ok(None),
        Some(name) => EndpointFormat::parse(name)
            .filter(|f| EndpointFormat::SUPPORTED.contains(f))
            .map(Some)
            .ok_or(AdminInputError::Format),
    }
}

fn check_description(value: Option<String>) -> Result<Option<String>, AdminInputError> {
    let value = value.filter(|d| !d.is_empty());
    if let Some(d) = &value {
        check_len("description", d, MAX_DESCRIPTION_CHARS)?;
    }
    Ok(value)
}

/// Whether `raw` is an absolute `http` or `https` URL of at most 2048 characters with a host and
/// no user name or password in it.
pub fn is_web_url(raw: &str) -> bool {
    if raw.chars().count() > MAX_URL_CHARS || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    // As written, not as a browser would repair it (`http:///x` or `http:/x` would get host `x`).
    let lower = raw.get(..8).unwrap_or(raw).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &raw[8..]
    } else if lower.starts_with("http://") {
        &raw[7..]
    } else {
        return false;
    };
    if rest.starts_with(['/', '\\']) {
        return false;
    }
    match url::Url::parse(raw) {
        Ok(url) => {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some_and(|h| !h.is_empty())
                && url.username().is_empty()
                && url.password().is_none()
        }
        Err(_) => false,
    }
}

/// An endpoint's URL.
pub fn check_endpoint_url(raw: Option<&str>) -> Result<String, AdminInputError> {
    match raw {
        Some(url) if is_web_url(url) => Ok(url.to_owned()),
        _ => Err(AdminInputError::Url),
    }
}

/// The event types an endpoint receives: a non-empty list of distinct known types; every type
/// when none is given.
pub fn check_event_types(raw: Option<&[String]>) -> Result<Vec<EventType>, AdminInputError> {
    let Some(names) = raw else { return Ok(EventType::SUBSCRIBABLE.to_vec()) };
    let mut types = Vec::with_capacity(names.len());
    for name in names {
        let t =
            EventType::parse(name).filter(|t| EventType::SUBSCRIBABLE.contains(t)).ok_or(AdminInputError::Events)?;
        if types.contains(&t) {
            return Err(AdminInputError::Events);
        }
        types.push(t);
    }
    if types.is_empty() {
        return Err(AdminInputError::Events);
    }
    Ok(types)
}

/// The types as stored: their names, separated by spaces.
pub fn join_event_types(types: &[EventType]) -> String {
    types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" ")
}

/// The types an endpoint stored, in their stored order; names no longer known are skipped.
pub fn split_event_types(stored: &str) -> Vec<EventType> {
    stored.split(' ').filter_map(EventType::parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_absolute_web_urls_without_credentials() {
        for good in ["https://crm.example.com/hooks", "http://127.0.0.1:9000/x?y=1", "https://a.b/c#d"] {
            assert!(is_web_url(good), "{good}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2048));
        for bad in [
            "",
            "example.com/hooks",
            "/hooks",
            "ftp://example.com/x",
            "https://user:pw@example.com/x",
            "https://user@example.com/x",
            "javascript:alert(1)",
            "https:// example.com",
            "http:///path",
            long.as_str(),
        ] {
            assert!(!is_web_url(bad), "{bad}");
        }
    }

    #[test]
    fn event_types_are_a_non_empty_list_of_distinct_known_types() {
        assert_eq!(check_event_types(None), Ok(EventType::SUBSCRIBABLE.to_vec()));
        assert_eq!(check_event_types(Some(&["webhook.test".to_owned()])), Err(AdminInputError::Events));
        let one = vec!["chat.ended".to_owned()];
        assert_eq!(check_event_types(Some(&one)), Ok(vec![EventType::ChatEnded]));
        for bad in [vec![], vec!["chat.nope".to_owned()], vec!["chat.ended".to_owned(), "chat.ended".to_owned()]] {
            assert_eq!(check_event_types(Some(&bad)), Err(AdminInputError::Events), "{bad:?}");
        }
        assert_eq!(AdminInputError::Events.to_string(), "events is invalid");
        assert_eq!(AdminInputError::Url.to_string(), "url is invalid");
        let stored = join_event_types(&[EventType::ChatCreated, EventType::ConsumerOptedIn]);
        assert_eq!(stored, "chat.created consumer.opted_in");
        assert_eq!(split_event_types(&stored), [EventType::ChatCreated, EventType::ConsumerOptedIn]);
    }
}
