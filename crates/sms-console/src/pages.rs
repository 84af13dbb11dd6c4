//! The console's pages and actions. Each reads the request, calls one workflow for the
//! signed-in viewer, and renders a page or sends the browser on (`303`, so a reload never
//! repeats an action). Refusals show the API's own message.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use sms_domain::{AgentId, ChatId, SmsError};
use sms_service::console::{InboxQuery, NewSms, Viewer};
use sms_service::{Service, ServiceError};

use crate::session::{self, see_other, PageError, PageResult};
use crate::views::{
    render, ChatPage, ChatsPage, Chrome, ConversationFragment, ConversationView, Counter, ListFragment, ListView,
    NewSmsPage, NewSmsView, PrecheckFragment, PrecheckView,
};

/// An operator must choose a tenant before any tenant's page.
fn needs_tenant(viewer: &Viewer) -> Option<HttpResponse> {
    viewer.tenant.is_none().then(|| see_other("/console/tenant"))
}

fn chat_id(raw: &str) -> Result<ChatId, PageError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(ChatId::new)
        .ok_or_else(|| PageError::new(StatusCode::NOT_FOUND, "chat not found"))
}

pub async fn home(req: HttpRequest, state: web::Data<Service>) -> PageResult {
    Ok(match session::viewer(&req, &state).await? {
        Some(v) if v.tenant.is_none() => see_other("/console/tenant"),
        Some(_) => see_other("/console/chats"),
        None => see_other("/console/login"),
    })
}

pub async fn not_found(req: HttpRequest, state: web::Data<Service>) -> PageResult {
    let viewer = session::viewer(&req, &state).await.ok().flatten();
    let error = PageError::new(StatusCode::NOT_FOUND, "There is no such page.");
    Err(match viewer {
        Some(v) => error.for_viewer(&v),
        None => error,
    })
}

/// The query string without `page`, for the pager's links.
fn query_without_page(req: &HttpRequest) -> String {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let kept: Vec<(String, String)> = pairs.into_iter().filter(|(k, v)| k != "page" && !v.is_empty()).collect();
    serde_urlencoded::to_string(kept).unwrap_or_default()
}

pub async fn chats(req: HttpRequest, state: web::Data<Service>) -> PageResult {
    let viewer = signed_in!(req, state);
    if let Some(to) = needs_tenant(&viewer) {
        return Ok(to);
    }
    let query: InboxQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let page = state.console_inbox(&viewer, &query).await.map_err(|e| PageError::from(e).for_viewer(&viewer))?;
    let list = ListView::new(&page, &query_without_page(&req));
    if session::is_partial(&req) {
        return Ok(render(StatusCode::OK, &ListFragment { list }));
    }
    let chrome = Chrome::new("Conversations", Some(&viewer), "chats").live("list", 0);
    Ok(render(StatusCode::OK, &ChatsPage { chrome, list }))
}

async fn conversation_page(
    req: &HttpRequest,
    state: &Service,
    viewer: &Viewer,
    id: ChatId,
    (status, draft, error): (StatusCode, String, String),
) -> PageResult {
    let found = state.console_conversation(viewer, id).await.map_err(|e| PageError::from(e).for_viewer(viewer))?;
    let chat = ConversationView::new(&found, viewer);
    let chrome =
        Chrome::new(&format!("Conversation {}", chat.number), Some(viewer), "chats").live("conversation", chat.id);
    if session::is_partial(req) {
        let fragment = ConversationFragment { chat, sees_all: viewer.sees_all(), chrome };
        return Ok(render(StatusCode::OK, &fragment));
    }
    let page = ChatPage { chrome, chat, sees_all: viewer.sees_all(), counter: Counter::default(), draft, error };
    Ok(render(status, &page))
}

pub async fn conversation(req: HttpRequest, state: web::Data<Service>, id: web::Path<String>) -> PageResult {
    let viewer = signed_in!(req, state);
    if let Some(to) = needs_tenant(&viewer) {
        return Ok(to);
    }
    let id = chat_id(&id).map_err(|e| e.for_viewer(&viewer))?;
    conversation_page(&req, &state, &viewer, id, (StatusCode::OK, String::new(), String::new())).await
}

#[derive(Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    message: String,
}

pub async fn reply(
    req: HttpRequest,
    state: web::Data<Service>,
    id: web::Path<String>,
    form: web::Form<ReplyForm>,
) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    let id = chat_id(&id).map_err(|e| e.for_viewer(&viewer))?;
    match state.console_reply(&viewer, id, &form.message).await {
        Ok(_) => Ok(see_other(&format!("/console/chats/{id}"))),
        // The page again, with the text kept and the API's message.
        Err(e @ (ServiceError::Rejected(_) | ServiceError::Conflict(_) | ServiceError::Invalid(_))) => {
            let refused = PageError::from(e);
            let form = form.into_inner();
            conversation_page(&req, &state, &viewer, id, (refused.status, form.message, refused.message)).await
        }
        Err(e) => Err(PageError::from(e).for_viewer(&viewer)),
    }
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    agent: String,
}

pub async fn assign(
    req: HttpRequest,
    state: web::Data<Service>,
    id: web::Path<String>,
    form: web::Form<AssignForm>,
) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    let id = chat_id(&id).map_err(|e| e.for_viewer(&viewer))?;
    let to = form.agent.trim().parse::<i64>().ok().map(AgentId::new);
    state.console_assign(&viewer, id, to).await.map_err(|e| PageError::from(e).for_viewer(&viewer))?;
    Ok(see_other(&format!("/console/chats/{id}")))
}

pub async fn end(
    req: HttpRequest,
    state: web::Data<Service>,
    id: web::Path<String>,
    form: web::Form<crate::signin::CsrfForm>,
) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    let id = chat_id(&id).map_err(|e| e.for_viewer(&viewer))?;
    state.console_end(&viewer, id).await.map_err(|e| PageError::from(e).for_viewer(&viewer))?;
    Ok(see_other(&format!("/console/chats/{id}")))
}

/// Names the rule a send's fault comes from.
fn rule_of(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::Rejected(SmsError::OptedOut) => "Opted out",
        ServiceError::Rejected(SmsError::QuietHours) => "Quiet hours",
        ServiceError::Rejected(SmsError::ActiveSession { .. }) => "Active conversation",
        ServiceError::Rejected(SmsError::OutboundNumberNotFound) => "Sending number",
        ServiceError::Rejected(_) | ServiceError::Body(_) | ServiceError::Invalid(_) => "Invalid message",
        _ => "Refused",
    }
}

async fn new_sms_view(
    state: &Service,
    viewer: &Viewer,
    form: &NewSms,
    precheck: PrecheckView,
    (status, error): (StatusCode, String),
) -> PageResult {
    let numbers = state.console_numbers(viewer).await.map_err(|e| PageError::from(e).for_viewer(viewer))?;
    let page = NewSmsPage {
        chrome: Chrome::new("New SMS", Some(viewer), "new"),
        form: NewSmsView::new(form, &numbers),
        precheck,
        counter: Counter::default(),
        error,
    };
    Ok(render(status, &page))
}

pub async fn new_sms_page(req: HttpRequest, state: web::Data<Service>) -> PageResult {
    let viewer = signed_in!(req, state);
    if let Some(to) = needs_tenant(&viewer) {
        return Ok(to);
    }
    let form: NewSms = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    new_sms_view(&state, &viewer, &form, PrecheckView::default(), (StatusCode::OK, String::new())).await
}

async fn precheck(state: &Service, viewer: &Viewer, form: &NewSms) -> Result<PrecheckView, PageError> {
    let found = match state.console_precheck(viewer, form).await {
        Ok(found) => found,
        Err(e) => {
            return Ok(PrecheckView {
                checked: true,
                rule: rule_of(&e).into(),
                refusal: PageError::from(e).message,
                ..Default::default()
            })
        }
    };
    let Some(fault) = found.fault else {
        return Ok(PrecheckView { checked: true, ..Default::default() });
    };
    let chat_link = match &fault {
        ServiceError::Rejected(SmsError::ActiveSession { chat_id: Some(id) }) => format!("/console/chats/{id}"),
        _ => String::new(),
    };
    let quiet_until = found.quiet_until.map(|at| at.format("%H:%M %Z on %a %-d %b").to_string()).unwrap_or_default();
    Ok(PrecheckView {
        checked: true,
        rule: rule_of(&fault).into(),
        refusal: PageError::from(fault).message,
        chat_link,
        quiet_until,
    })
}

#[derive(Deserialize)]
pub struct SendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    check: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    ticket: String,
}

impl SendForm {
    fn sms(&self) -> NewSms {
        NewSms {
            to: self.to.clone(),
            from: self.from.clone(),
            message: self.message.clone(),
            ticket: self.ticket.clone(),
        }
    }
}

pub async fn send_sms(req: HttpRequest, state: web::Data<Service>, form: web::Form<SendForm>) -> PageResult {
    let viewer = acting!(req, state, &form.csrf);
    if let Some(to) = needs_tenant(&viewer) {
        return Ok(to);
    }
    let (check, sms) = (!form.check.is_empty(), form.sms());
    if check {
        let found = precheck(&state, &viewer, &sms).await?;
        if session::is_partial(&req) {
            return Ok(render(StatusCode::OK, &PrecheckFragment { precheck: found }));
        }
        return new_sms_view(&state, &viewer, &sms, found, (StatusCode::OK, String::new())).await;
    }
    match state.console_send(&viewer, &sms).await {
        Ok(bundle) => Ok(see_other(&format!("/console/chats/{}", bundle.chat.id))),
        Err(
            e @ (ServiceError::Rejected(_) | ServiceError::Body(_) | ServiceError::Invalid(_) | ServiceError::Busy),
        ) => {
            let found = precheck(&state, &viewer, &sms).await?;
            let refused = PageError::from(e);
            new_sms_view(&state, &viewer, &sms, found, (refused.status, refused.message)).await
        }
        Err(e) => Err(PageError::from(e).for_viewer(&viewer)),
    }
}
