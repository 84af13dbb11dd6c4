//! The HTTP frontend of the outbound SMS service: actix-web handlers, authentication, the error
//! envelope and the OpenAPI document generated from the handlers.
//!
//! Handlers only translate: they read credentials and bodies, call one workflow of the
//! application crate (`sms-service`) and map its answer to JSON and a status. This crate
//! depends on no store, lock or delivery crate (CI checks it).

pub mod auth;
pub mod body;
pub mod client;
pub mod error;
mod fallback;
pub mod handlers;
mod limits;
mod observe;
mod openapi;
pub mod telemetry;
pub mod wire;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::ErrorHandlers;
use actix_web::{web, App};
use utoipa::OpenApi;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

pub use sms_service::{JwtKeys, Service as AppState};

/// Registers every API route; the OpenAPI document is collected from the same calls.
///
/// The router tries the routes in this order and runs each path with an id's regular expression
/// until one matches with its method: the busiest come first. An agent's reply, registered after
/// the chat's other routes, ran four of them (13 % of a reply's instructions, BENCHMARKS.md,
/// seventeenth session); first, it runs one. No two routes match the same path and method, so
/// the order decides nothing else.
fn routes(cfg: &mut ServiceConfig) {
    use handlers::{admin, chats, manager, ops, platform, sms, webhooks};
    cfg.service(sms::send_sms)
        .service(chats::reply)
        .service(platform::chat_message)
        .service(chats::list_chats)
        .service(chats::get_chat)
        .service(chats::end_chat)
        .service(chats::chat_messages)
        .service(chats::assign)
        .service(platform::update_chat)
        .service(manager::organization)
        .service(manager::export_chats)
        .service(manager::export_agents)
        .service(admin::create_tenant)
        .service(admin::list_tenants)
        .service(admin::get_tenant)
        .service(admin::patch_tenant)
        .service(admin::issue_tenant_jwt)
        .service(admin::revoke_tenant_jwts)
        .service(admin::create_api_token)
        .service(admin::list_api_tokens)
        .service(admin::revoke_api_token)
        .service(admin::create_outbound_number)
        .service(admin::list_outbound_numbers)
        .service(admin::delete_outbound_number)
        .service(admin::create_agent)
        .service(admin::list_agents)
        .service(admin::get_agent)
        .service(admin::patch_agent)
        .service(admin::set_agent_password)
        .service(admin::invite_agent)
        .service(admin::list_opt_outs)
        .service(admin::delete_opt_out)
        .service(admin::create_webhook)
        .service(admin::list_webhooks)
        .service(admin::get_webhook)
        .service(admin::patch_webhook)
        .service(admin::delete_webhook)
        .service(admin::rotate_webhook_secret)
        .service(admin::list_webhook_deliveries)
        .service(admin::retry_webhook_delivery)
        .service(admin::test_webhook)
        .service(webhooks::twilio_status)
        .service(webhooks::twilio_inbound)
        .service(ops::healthz)
        .service(ops::readyz)
        .service(ops::openapi_json)
        .service(telemetry::prometheus_metrics);
}

/// The OpenAPI document, as served at `/openapi.json` and committed in `openapi/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    finish(App::new().into_utoipa_app().openapi(openapi::ApiDoc::openapi()).configure(routes).split_for_parts().1)
}

fn finish(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let unknown = limits::apply(&mut api);
    debug_assert!(unknown.is_empty(), "limits of properties the document lacks: {unknown:?}");
    openapi::add_send_faults(&mut api);
    openapi::add_standard_errors(&mut api);
    openapi::add_links(&mut api);
    api
}

/// The document as pretty JSON with a trailing newline, the committed file's format.
pub fn openapi_json() -> String {
    let mut text = openapi::to_json(&openapi(), true);
    text.push('\n');
    text
}

/// What every HTTP worker serves from the OpenAPI document: built once per process, by the
/// first worker, and shared. (Each worker built its own, and kept 2 to 3 MB of it: BENCHMARKS.md.)
struct Docs {
    routes: web::Data<fallback::RouteTable>,
    document: web::Data<handlers::ops::OpenApiDocument>,
}

fn docs() -> &'static Docs {
    static DOCS: std::sync::OnceLock<Docs> = std::sync::OnceLock::new();
    DOCS.get_or_init(|| {
        let api = openapi();
        Docs {
            routes: web::Data::new(fallback::RouteTable::from_openapi(&api)),
            document: web::Data::new(handlers::ops::OpenApiDocument(openapi::to_json(&api, false))),
        }
    })
}

/// The whole application: routes, docs UI, JSON fallbacks and request logging.
pub fn app(
    state: sms_service::Service,
    settings: client::HttpSettings,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    telemetry::install();
    // Built once per HTTP worker, on the worker's thread.
    sms_service::serve_database_work_here();
    // The paths the routes add to an empty document are dropped: the document is the process's.
    let (app, _paths) = App::new()
        .into_utoipa_app()
        .app_data(web::Data::new(state))
        .app_data(web::Data::new(settings))
        .configure(routes)
        .split_for_parts();
    let docs = docs();
    app.service(web::redirect("/docs", "/docs/"))
        // The UI only: the document itself is the documented `/openapi.json` operation.
        .service(SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::from("/openapi.json")))
        .app_data(docs.routes.clone())
        .app_data(docs.document.clone())
        .default_service(web::to(fallback::unmatched))
        .wrap(ErrorHandlers::new().default_handler(fallback::json_envelope))
        .wrap(actix_web::middleware::from_fn(observe::observe))
}

/// `/metrics` alone, for the address of its own that `SMS_METRICS_BIND` gives it.
pub fn metrics_app(
    state: sms_service::Service,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    telemetry::install();
    App::new()
        .app_data(web::Data::new(state))
        .app_data(web::Data::new(client::HttpSettings::default()))
        .service(telemetry::prometheus_metrics)
        .default_service(web::to(|| async {
            use actix_web::ResponseError;
            error::ApiError::new(actix_web::http::StatusCode::NOT_FOUND, "not found").error_response()
        }))
}
