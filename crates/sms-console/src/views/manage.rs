//! What the supervisors' and operators' pages show: opt-outs, settings, numbers, agents,
//! webhooks and tenants, prepared as text for their templates.

use askama::Template;
use chrono::{DateTime, Utc};
use sms_domain::QuietHours;
use sms_service::console::NumberLoad;
use sms_service::records::{Agent, OptOut, Tenant, WebhookDelivery, WebhookEndpoint};

use super::{Choice, Chrome, Moment};

/// Links to the previous and next page of a list.
#[derive(Debug, Clone, Default)]
pub struct Pager {
    pub summary: String,
    pub prev: String,
    pub next: String,
}

impl Pager {
    /// `base` is the page's path with its query, ending in `?` or `&`.
    pub fn new(base: &str, page: i64, per: i64, shown: usize, total: i64) -> Self {
        let first = (page - 1) * per;
        let shown = i64::try_from(shown).unwrap_or(0);
        let summary = if total == 0 {
            "None yet.".to_owned()
        } else {
            format!("{} to {} of {}", first + 1, first + shown, total)
        };
        Self {
            summary,
            prev: if page > 1 { format!("{base}page={}", page - 1) } else { String::new() },
            next: if first + shown < total { format!("{base}page={}", page + 1) } else { String::new() },
        }
    }
}

/// One opt-out as the page lists it.
#[derive(Debug, Clone)]
pub struct OptOutRow {
    pub number: String,
    pub keyword: String,
    pub outbound_number: String,
    pub at: Moment,
    pub message: String,
}

impl From<&OptOut> for OptOutRow {
    fn from(o: &OptOut) -> Self {
        Self {
            number: o.number.as_str().to_owned(),
            keyword: o.keyword.clone().unwrap_or_else(|| "(carrier or admin)".into()),
            outbound_number: o.outbound_number.clone().unwrap_or_default(),
            at: Moment::of(o.created_at),
            message: o.message_id.map(|id| format!("#{id}")).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "opt_outs.html")]
pub struct OptOutsPage {
    pub chrome: Chrome,
    pub rows: Vec<OptOutRow>,
    pub pager: Pager,
    pub may_lift: bool,
    pub notice: String,
}

/// The next quiet window in one zone.
#[derive(Debug, Clone)]
pub struct QuietWindow {
    pub zone: &'static str,
    pub text: String,
}

/// US zones whose next quiet window the settings page shows.
const SHOWN_ZONES: [(&str, &str); 6] = [
    ("Eastern", "America/New_York"),
    ("Central", "America/Chicago"),
    ("Mountain", "America/Denver"),
    ("Pacific", "America/Los_Angeles"),
    ("Alaska", "America/Anchorage"),
    ("Hawaii", "Pacific/Honolulu"),
];

/// Each shown zone's quiet window under way or next, as local times.
pub fn quiet_windows(quiet: Option<QuietHours>, at: DateTime<Utc>) -> Vec<QuietWindow> {
    let Some(quiet) = quiet else { return Vec::new() };
    SHOWN_ZONES
        .iter()
        .filter_map(|(name, zone)| {
            let tz: chrono_tz::Tz = zone.parse().ok()?;
            let (start, end) = quiet.window_in(tz, at)?;
            let under_way = start.with_timezone(&Utc) <= at;
            let text = if under_way {
                format!("now, until {}", end.format("%a %H:%M %Z"))
            } else {
                format!("{} to {}", start.format("%a %H:%M"), end.format("%a %H:%M %Z"))
            };
            Some(QuietWindow { zone: name, text })
        })
        .collect()
}

/// The settings form, as stored or as sent back.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    pub help_text: String,
    #[serde(default)]
    pub opt_out_text: String,
    #[serde(default)]
    pub opt_in_text: String,
    #[serde(default)]
    pub quiet_hours_start: String,
    #[serde(default)]
    pub quiet_hours_end: String,
    #[serde(default)]
    pub session_timeout_minutes: String,
    #[serde(default)]
    pub rate_limit_per_second: String,
    #[serde(default)]
    pub rate_limit_burst: String,
}

impl From<&Tenant> for SettingsForm {
    fn from(t: &Tenant) -> Self {
        Self {
            help_text: t.help_text.clone().unwrap_or_default(),
            opt_out_text: t.opt_out_text.clone().unwrap_or_default(),
            opt_in_text: t.opt_in_text.clone().unwrap_or_default(),
            quiet_hours_start: t.quiet_hours_start.clone().unwrap_or_default(),
            quiet_hours_end: t.quiet_hours_end.clone().unwrap_or_default(),
            session_timeout_minutes: t.session_timeout_minutes.to_string(),
            rate_limit_per_second: t.rate_limit_per_second.to_string(),
            rate_limit_burst: t.rate_limit_burst.to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub chrome: Chrome,
    pub form: SettingsForm,
    pub windows: Vec<QuietWindow>,
    pub error: String,
    pub notice: String,
}

/// A number as the page lists it.
#[derive(Debug, Clone)]
pub struct NumberRow {
    pub id: i64,
    pub number: String,
    pub active_chats: i64,
    pub unsent: i64,
}

impl From<&NumberLoad> for NumberRow {
    fn from(n: &NumberLoad) -> Self {
        Self {
            id: n.number.id.get(),
            number: n.number.number.as_str().to_owned(),
            active_chats: n.active_chats,
            unsent: n.unsent,
        }
    }
}

#[derive(Template)]
#[template(path = "numbers.html")]
pub struct NumbersPage {
    pub chrome: Chrome,
    pub rows: Vec<NumberRow>,
    pub draft: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "number_remove.html")]
pub struct NumberRemovePage {
    pub chrome: Chrome,
    pub row: NumberRow,
}

/// An agent as the page lists it.
#[derive(Debug, Clone)]
pub struct AgentRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub active: bool,
    pub supervisor: bool,
    pub has_password: bool,
}

impl From<&Agent> for AgentRow {
    fn from(a: &Agent) -> Self {
        Self {
            id: a.id.get(),
            name: a.name.clone(),
            email: a.email.clone(),
            active: a.is_active(),
            supervisor: a.console_role == sms_domain::admin::ConsoleRole::Supervisor,
            has_password: a.password_set_at.is_some(),
        }
    }
}

/// The new agent form.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AgentForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
}

#[derive(Template)]
#[template(path = "agents.html")]
pub struct AgentsPage {
    pub chrome: Chrome,
    pub rows: Vec<AgentRow>,
    pub pager: Pager,
    pub form: AgentForm,
    pub error: String,
}

/// Something shown once: an invitation link or a webhook's secret.
#[derive(Template)]
#[template(path = "shown_once.html")]
pub struct ShownOncePage {
    pub chrome: Chrome,
    pub heading: String,
    pub label: String,
    pub value: String,
    pub details: String,
    pub back: String,
    pub back_label: String,
}

/// An endpoint as the pages show it.
#[derive(Debug, Clone)]
pub struct EndpointRow {
    pub id: i64,
    pub url: String,
    pub format: String,
    pub events: String,
    pub description: String,
    pub disabled: bool,
    pub previous_until: String,
}

impl From<&WebhookEndpoint> for EndpointRow {
    fn from(e: &WebhookEndpoint) -> Self {
        Self {
            id: e.id.get(),
            url: e.url.clone(),
            format: e.format.as_str().to_owned(),
            events: e.events.replace(' ', ", "),
            description: e.description.clone().unwrap_or_default(),
            disabled: e.disabled,
            previous_until: e
                .previous_secret_until
                .filter(|until| e.previous_secret.is_some() && *until > Utc::now().naive_utc())
                .map(|until| Moment::of(until).text)
                .unwrap_or_default(),
        }
    }
}

/// An event type to tick.
#[derive(Debug, Clone)]
pub struct EventChoice {
    pub name: &'static str,
    pub checked: bool,
}

pub fn event_choices(selected: &str) -> Vec<EventChoice> {
    sms_domain::EventType::SUBSCRIBABLE
        .iter()
        .map(|t| EventChoice { name: t.as_str(), checked: selected.split([' ', ',']).any(|s| s.trim() == t.as_str()) })
        .collect()
}

#[derive(Template)]
#[template(path = "webhooks.html")]
pub struct WebhooksPage {
    pub chrome: Chrome,
    pub rows: Vec<EndpointRow>,
    pub events: Vec<EventChoice>,
    pub formats: Vec<Choice>,
    pub url: String,
    pub error: String,
}

/// A delivery as the page lists it.
#[derive(Debug, Clone)]
pub struct DeliveryView {
    pub id: i64,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub last_status_code: String,
    pub last_error: String,
    pub next_attempt: String,
    pub at: Moment,
}

impl DeliveryView {
    pub fn new(d: &WebhookDelivery, event_type: &str) -> Self {
        Self {
            id: d.id.get(),
            event_type: event_type.to_owned(),
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            last_status_code: d.last_status_code.map(|c| c.to_string()).unwrap_or_default(),
            last_error: d.last_error.clone().unwrap_or_default(),
            next_attempt: d.next_attempt_at.map(|at| Moment::of(at).text).unwrap_or_default(),
            at: Moment::of(d.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "webhook.html")]
pub struct WebhookPage {
    pub chrome: Chrome,
    pub endpoint: EndpointRow,
    pub events: Vec<EventChoice>,
    pub statuses: Vec<Choice>,
    pub deliveries: Vec<DeliveryView>,
    pub pager: Pager,
    pub error: String,
    pub notice: String,
}

/// A tenant as the operators' page lists it.
#[derive(Debug, Clone)]
pub struct TenantRow {
    pub subdomain: String,
    pub name: String,
    pub active: bool,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "tenants.html")]
pub struct TenantsPage {
    pub chrome: Chrome,
    pub rows: Vec<TenantRow>,
    pub q: String,
    pub subdomain: String,
    pub name: String,
    pub error: String,
}
