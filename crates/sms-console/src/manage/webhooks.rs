//! The tenant's webhook endpoints and their deliveries.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use sms_service::console::Viewer;
use sms_service::Service;

use super::{all, field, pairs, params};
use super::{refused, CsrfOnly};
use crate::session::{check_csrf, see_other, PageError, PageResult};
use crate::views::manage::{event_choices, DeliveryView, EndpointRow, Pager, ShownOncePage, WebhookPage, WebhooksPage};
use crate::views::render;
use crate::views::{Choice, Chrome};
use sms_domain::events::{EndpointCreate, EndpointPatch};
use sms_domain::{DeliveryId, EndpointId};
use sms_service::admin::DeliveryPage;
use sms_service::console::{console_page, CONSOLE_PER_PAGE};

fn formats(selected: &str) -> Vec<Choice> {
    [("standard", "Standard Webhooks"), ("ccai", "CCAI Platform")]
        .iter()
        .map(|(v, l)| Choice { value: (*v).into(), label: (*l).into(), selected: *v == selected })
        .collect()
}

async fn webhooks_view(state: &Service, viewer: &Viewer, url: String, error: (StatusCode, String)) -> PageResult {
    let subdomain = viewer.supervised().map_err(refused(viewer))?.to_owned();
    let (endpoints, _) = state.webhooks(&subdomain, &console_page(1)).await.map_err(refused(viewer))?;
    let all = sms_domain::EventType::SUBSCRIBABLE.map(|t| t.as_str()).join(" ");
    let page = WebhooksPage {
        chrome: Chrome::new("Webhooks", Some(viewer), "webhooks"),
        rows: endpoints.iter().map(EndpointRow::from).collect(),
        events: event_choices(&all),
        formats: formats("standard"),
        url,
        error: error.1,
    };
    Ok(render(error.0, &page))
}

pub async fn webhooks(req: HttpRequest, state: web::Data<Service>) -> PageResult {
    let viewer = signed_in!(req, state);
    webhooks_view(&state, &viewer, String::new(), (StatusCode::OK, String::new())).await
}

pub async fn create_webhook(req: HttpRequest, state: web::Data<Service>, body: web::Bytes) -> PageResult {
    let viewer = signed_in!(req, state);
    let form = pairs(&body);
    check_csrf(&req, &viewer, field(&form, "csrf"))?;
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    let create = EndpointCreate {
        url: Some(field(&form, "url").to_owned()),
        events: Some(all(&form, "events").collect()),
        description: None,
        disabled: None,
        format: Some(field(&form, "format").to_owned()).filter(|f| !f.is_empty()),
    };
    let outcome = match create.into_draft() {
        Ok(draft) => state.create_webhook(&subdomain, draft).await,
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(endpoint) => {
            let page = ShownOncePage {
                chrome: Chrome::new("Endpoint created", Some(&viewer), "webhooks"),
                heading: format!("Endpoint {}", endpoint.url),
                label: "Signing secret".into(),
                value: endpoint.secret.clone(),
                details: "Give it to the receiver: it checks each delivery's signature with it.".into(),
                back: format!("/console/webhooks/{}", endpoint.id),
                back_label: "Open the endpoint".into(),
            };
            Ok(render(StatusCode::CREATED, &page))
        }
        Err(e) => {
            let e = PageError::from(e);
            webhooks_view(&state, &viewer, field(&form, "url").to_owned(), (e.status, e.message)).await
        }
    }
}

fn endpoint_id(raw: &str) -> Result<EndpointId, PageError> {
    raw.parse::<i64>()
        .ok()
        .map(EndpointId::new)
        .ok_or_else(|| PageError::new(StatusCode::NOT_FOUND, "webhook not found"))
}

async fn webhook_view(
    req: &HttpRequest,
    state: &Service,
    viewer: &Viewer,
    id: EndpointId,
    (status, error, notice): (StatusCode, String, &str),
) -> PageResult {
    let subdomain = viewer.supervised().map_err(refused(viewer))?.to_owned();
    let endpoint = state.webhook(&subdomain, id).await.map_err(refused(viewer))?;
    let param = params(req);
    let filter = param.status.clone().filter(|s| !s.is_empty());
    let page = param.number();
    let query =
        DeliveryPage { status: filter.clone(), page: Some(page.to_string()), per: Some(CONSOLE_PER_PAGE.to_string()) };
    let (rows, total) = state.webhook_deliveries(&subdomain, id, &query).await.map_err(refused(viewer))?;
    let current = filter.clone().unwrap_or_default();
    let statuses = [("", "Any status"), ("pending", "Pending"), ("delivered", "Delivered"), ("failed", "Failed")]
        .iter()
        .map(|(v, l)| Choice { value: (*v).into(), label: (*l).into(), selected: *v == current })
        .collect();
    let base = match &filter {
        Some(s) => format!("/console/webhooks/{id}?status={s}&"),
        None => format!("/console/webhooks/{id}?"),
    };
    let view = WebhookPage {
        chrome: Chrome::new(&format!("Endpoint {}", endpoint.url), Some(viewer), "webhooks"),
        events: event_choices(&endpoint.events),
        endpoint: EndpointRow::from(&endpoint),
        statuses,
        deliveries: rows.iter().map(|(d, _, kind)| DeliveryView::new(d, kind)).collect(),
        pager: Pager::new(&base, page, CONSOLE_PER_PAGE, rows.len(), total),
        error,
        notice: notice.into(),
    };
    Ok(render(status, &view))
}

pub async fn webhook(req: HttpRequest, state: web::Data<Service>, id: web::Path<String>) -> PageResult {
    let viewer = signed_in!(req, state);
    let id = endpoint_id(&id).map_err(|e| e.for_viewer(&viewer))?;
    let notice = match params(&req).notice.as_deref() {
        Some("saved") => "Endpoint saved.",
        Some("tested") => "A webhook.test event is on its way: it is listed below.",
        Some("retried") => "The delivery goes out again now.",
        _ => "",
    };
    webhook_view(&req, &state, &viewer, id, (StatusCode::OK, String::new(), notice)).await
}

pub async fn update_webhook(
    req: HttpRequest,
    state: web::Data<Service>,
    id: web::Path<String>,
    body: web::Bytes,
) -> PageResult {
    let viewer = signed_in!(req, state);
    let form = pairs(&body);
    check_csrf(&req, &viewer, field(&form, "csrf"))?;
    let id = endpoint_id(&id).map_err(|e| e.for_viewer(&viewer))?;
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    let patch = EndpointPatch {
        url: Some(field(&form, "url").to_owned()),
        events: Some(all(&form, "events").collect()),
        description: Some(field(&form, "description").to_owned()),
        disabled: Some(field(&form, "disabled") == "true"),
        format: None,
    };
    let outcome = match patch.into_update() {
        Ok(draft) => state.update_webhook(&subdomain, id, draft).await,
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(_) => Ok(see_other(&format!("/console/webhooks/{id}?notice=saved"))),
        Err(e) => {
            let e = PageError::from(e);
            if e.status != StatusCode::BAD_REQUEST {
                return Err(e.for_viewer(&viewer));
            }
            webhook_view(&req, &state, &viewer, id, (e.status, e.message, "")).await
        }
    }
}

pub async fn rotate_webhook(
    req: HttpRequest,
    state: web::Data<Service>,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    let id = endpoint_id(&id).map_err(|e| e.for_viewer(&viewer))?;
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    let secret = state.rotate_webhook_secret(&subdomain, id).await.map_err(refused(&viewer))?;
    let endpoint = state.webhook(&subdomain, id).await.map_err(refused(&viewer))?;
    let until = endpoint.previous_secret_until.map(|at| crate::views::Moment::of(at).text).unwrap_or_default();
    let page = ShownOncePage {
        chrome: Chrome::new("Secret rotated", Some(&viewer), "webhooks"),
        heading: format!("New secret for {}", endpoint.url),
        label: "Signing secret".into(),
        value: secret,
        details: format!(
            "The previous secret still signs every delivery until {until}: switch the receiver before then."
        ),
        back: format!("/console/webhooks/{id}"),
        back_label: "Back to the endpoint".into(),
    };
    Ok(render(StatusCode::OK, &page))
}

pub async fn test_webhook(
    req: HttpRequest,
    state: web::Data<Service>,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    let id = endpoint_id(&id).map_err(|e| e.for_viewer(&viewer))?;
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    state.test_webhook(&subdomain, id).await.map_err(refused(&viewer))?;
    Ok(see_other(&format!("/console/webhooks/{id}?notice=tested")))
}

pub async fn retry_delivery(
    req: HttpRequest,
    state: web::Data<Service>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    let id = endpoint_id(&path.0).map_err(|e| e.for_viewer(&viewer))?;
    let delivery = path
        .1
        .parse::<i64>()
        .ok()
        .map(DeliveryId::new)
        .ok_or_else(|| PageError::new(StatusCode::NOT_FOUND, "delivery not found").for_viewer(&viewer))?;
    let subdomain = viewer.supervised().map_err(refused(&viewer))?.to_owned();
    state.retry_webhook_delivery(&subdomain, id, delivery).await.map_err(refused(&viewer))?;
    Ok(see_other(&format!("/console/webhooks/{id}?notice=retried")))
}
