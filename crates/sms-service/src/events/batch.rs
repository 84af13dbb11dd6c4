//! Events gathered to be written together (a delivery worker's batch of outcomes).

use chrono::NaiveDateTime;
use sms_domain::{EndpointFormat, EndpointId, EventType, TenantId};
use sms_store::events::{self, NewEvent};
use sms_store::{DbConn, StoreError};

use super::{body_of, chat_of, new_event_id, value_of, EventData};
use crate::ccai;

/// Events gathered to be written together (a delivery worker's batch of outcomes): the
/// endpoints are looked up once per tenant, and the events and their deliveries written in two
/// statements.
#[derive(Default)]
pub(crate) struct Batch {
    events: Vec<Gathered>,
}

struct Gathered {
    tenant_id: TenantId,
    kind: EventType,
    at: NaiveDateTime,
    data: EventData,
}

impl Batch {
    pub(crate) fn add(&mut self, tenant_id: TenantId, kind: EventType, data: impl Into<EventData>, at: NaiveDateTime) {
        let data = data.into();
        crate::live::note(tenant_id, chat_of(&data));
        self.events.push(Gathered { tenant_id, kind, at, data });
    }

    /// Writes the events that some endpoint receives, with their deliveries: in the standard
    /// format to standard endpoints, in the platform's to `ccai` ones. An event no endpoint
    /// receives is not even rendered.
    pub(crate) fn write(self, conn: &mut DbConn) -> Result<(), StoreError> {
        if self.events.is_empty() {
            return Ok(());
        }
        let mut subscribed: Vec<(TenantId, Vec<sms_store::endpoints::Subscriber>)> = Vec::new();
        for event in &self.events {
            if !subscribed.iter().any(|(t, _)| *t == event.tenant_id) {
                subscribed.push((event.tenant_id, sms_store::endpoints::subscribers(conn, event.tenant_id)?));
            }
        }
        let receiving = |event: &Gathered, format: EndpointFormat| -> Vec<EndpointId> {
            subscribed
                .iter()
                .filter(|(t, _)| *t == event.tenant_id)
                .flat_map(|(_, endpoints)| endpoints.iter())
                .filter(|s| s.receives(event.kind.as_str(), format))
                .map(|s| s.id)
                .collect()
        };
        let mut rendered: Vec<(&Gathered, ccai::PlatformEvent, Vec<EndpointId>)> = Vec::new();
        for event in &self.events {
            let standard = receiving(event, EndpointFormat::Standard);
            if !standard.is_empty() {
                let payload = body_of(event.kind, &event.data, event.at)?;
                let id = new_event_id();
                let as_is = ccai::PlatformEvent { event_id: id, event_type: event.kind.as_str().to_owned(), payload };
                rendered.push((event, as_is, standard));
            }
            let platform = receiving(event, EndpointFormat::Ccai);
            if !platform.is_empty() {
                let data = value_of(&event.data)?;
                let chat_id = data.get("chat_id").and_then(serde_json::Value::as_i64);
                rendered.push((event, ccai::other(event.kind, chat_id, &data, event.at)?, platform));
            }
        }
        let batch: Vec<(NewEvent<'_>, Vec<EndpointId>)> = rendered
            .iter()
            .map(|(event, r, endpoints)| {
                metrics::counter!("sms_events_total", "type" => event.kind.as_str()).increment(1);
                let new = NewEvent {
                    tenant_id: event.tenant_id,
                    event_id: &r.event_id,
                    event_type: &r.event_type,
                    payload: &r.payload,
                    at: event.at,
                };
                (new, endpoints.clone())
            })
            .collect();
        crate::handoff::leased(events::record_many(conn, &batch, crate::handoff::lease())?);
        Ok(())
    }
}
