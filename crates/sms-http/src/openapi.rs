//! The parts of the OpenAPI document that are not generated from handlers.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::server::{ServerBuilder, ServerVariableBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Outbound SMS API",
        description = "A self-hosted, drop-in implementation of the Contact Center AI Platform's Outbound SMS API.\n\n\
A CRM or agent desktop calls `POST /apps/api/v1/sms`; the service checks the tenant's settings and numbers, finds the agent, \
guarantees that a consumer has at most one active SMS session, stores the chat, queues the text for delivery and answers the chat object.\n\n\
Choices where the source document is silent: `out_ticket_id` echoes `ticket_id`; an empty `ticket_id` counts as absent; \
an `agentEmail` that is an empty string names no agent (`agent is not found`); errors always answer `{\"message\": ...}`; \
ids in paths that are not integers answer 404.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "sms", description = "Send an outbound SMS (the CCAI-compatible endpoint)."),
        (name = "chats", description = "Chats after creation."),
        (name = "platform", description = "The Contact Center AI Platform's own Apps API routes for a chat (update, message): each is the twin of a route of `chats`, in the platform's shapes."),
        (name = "manager", description = "The Contact Center AI Platform's Manager API exports for reporting: bare arrays with the platform's paging headers (`total`, `per-page`, `Link`). The platform's other Manager API resources (calls, menus, teams, user statuses, activity logs) answer 404."),
        (name = "admin", description = "Tenants, API tokens, outbound numbers, agents, opt-outs and event webhook endpoints. Admin JWT. Event deliveries carry the `Event` schema."),
        (name = "operations", description = "Health, readiness and this document. No auth."),
        (name = "webhooks", description = "Provider callbacks: delivery reports and consumer replies, checked with `X-Twilio-Signature` against `SMS_PUBLIC_URL`."),
    ),
    components(schemas(sms_service::EventBody)),
    modifiers(&Security, &Servers)
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut basic = Http::new(HttpAuthScheme::Basic);
        basic.description = Some("The tenant's subdomain as user name and one of its API tokens as password.".into());
        components.add_security_scheme("basic", SecurityScheme::Http(basic));
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".into());
        bearer.description = Some(
            "An HS256 JWT signed with SMS_JWT_SECRET: role \"tenant\" with claim \"tenant\" for the tenant API, role \"admin\" for the admin API."
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

struct Servers;

impl Modify for Servers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let hosted = ServerBuilder::new()
            .url("https://{subdomain}.{domain}")
            .description(Some("A hosted deployment: one subdomain per tenant."))
            .parameter(
                "subdomain",
                ServerVariableBuilder::new().default_value("acme").description(Some("The tenant's subdomain.")),
            )
            .parameter(
                "domain",
                ServerVariableBuilder::new().default_value("example.com").description(Some("The deployment's domain.")),
            )
            .build();
        let local = ServerBuilder::new()
            .url("http://127.0.0.1:8080")
            .description(Some("The embedded default of `sms-server`."))
            .build();
        openapi.servers = Some(vec![hosted, local]);
    }
}

/// The answers every operation shares, added after the handlers' own so each operation lists
/// every status it can answer, with an example: 500 everywhere; 503 wherever the database or
/// the session lock is used; 401 and 403 on authenticated operations; 400, 413 and 415 on
/// operations that take a JSON body. An operation's own entry for a status wins.
pub fn add_standard_errors(openapi: &mut utoipa::openapi::OpenApi) {
    for (path, item) in openapi.paths.paths.iter_mut() {
        let uses_dependencies = !matches!(path.as_str(), "/healthz" | "/openapi.json" | "/metrics");
        for op in
            [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
        {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let admin = path.starts_with("/admin/");
            let has_body = op.request_body.as_ref().is_some_and(|b| b.content.contains_key("application/json"));
            let mut add = |status: &str, description: &str, message: &str| {
                op.responses.responses.entry(status.to_owned()).or_insert_with(|| error_response(description, message));
            };
            if has_body {
                add(
                    "400",
                    "A body that is not JSON, or a field of the wrong type.",
                    "request body is not valid JSON: EOF while parsing a value at line 1 column 0",
                );
            }
            if secured {
                add("401", "Missing or invalid credentials.", "authentication required");
                if admin {
                    add("403", "A tenant token on the admin API.", "a tenant token cannot use the admin API");
                    add(
                        "429",
                        "The client's address failed authentication more than `SMS_AUTH_FAILURES_PER_MINUTE` times this minute; `Retry-After` says when it is heard again.",
                        "too many failed attempts",
                    );
                } else {
                    add("403", "An admin token on the tenant API.", "an admin token cannot use the tenant API");
                    add(
                        "429",
                        "Over the tenant's rate limit; `Retry-After` says when to try again.",
                        "rate limit exceeded",
                    );
                }
            }
            let reads_body = has_body || path.starts_with("/webhooks/") || op.request_body.is_some();
            if reads_body {
                add("408", "The body did not fully arrive within `SMS_BODY_TIMEOUT_SECS` of the headers; the connection is closed.", "request body timed out");
                add("413", "A body over 65536 bytes.", "request body is larger than 65536 bytes");
            }
            if has_body {
                add("415", "A Content-Type other than application/json.", "Content-Type must be application/json");
            }
            if path.starts_with("/webhooks/") {
                add(
                    "429",
                    "The client's address failed authentication (here: a wrong signature) more than `SMS_AUTH_FAILURES_PER_MINUTE` times this minute.",
                    "too many failed attempts",
                );
            }
            add("500", "An internal fault; the cause is logged, nothing is half-written.", "internal server error");
            if uses_dependencies {
                add(
                    "503",
                    "The database (or the session lock) is unreachable; nothing was written.",
                    "service unavailable",
                );
            }
        }
    }
}

/// The examples of the send's 400 answer: every fault of `POST /apps/api/v1/sms` in the order of
/// its checks, from the one list that states it (`SmsError::SEND_ORDER`), numbered so that tools
/// which sort examples by name keep that order.
pub fn add_send_faults(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::example::ExampleBuilder;
    use utoipa::openapi::RefOr;
    let content = openapi
        .paths
        .paths
        .get_mut("/apps/api/v1/sms")
        .and_then(|item| item.post.as_mut())
        .and_then(|op| op.responses.responses.get_mut("400"))
        .and_then(|response| match response {
            RefOr::T(response) => response.content.get_mut("application/json"),
            RefOr::Ref(_) => None,
        });
    let Some(content) = content else { return };
    for (n, fault) in sms_domain::SmsError::SEND_ORDER.iter().enumerate() {
        let example = ExampleBuilder::new()
            .summary(fault.to_string())
            .value(serde_json::from_str(&crate::error::ApiError::from(fault.clone()).body_json()).ok())
            .build();
        content.examples.insert(format!("{:02}", n + 1), RefOr::T(example));
    }
}

/// Links from a created chat to the operations on it, so clients (and stateful testers) can
/// follow `id` from `POST /apps/api/v1/sms` to reading, listing and ending the chat.
pub fn add_links(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::link::LinkBuilder;
    use utoipa::openapi::RefOr;
    let Some(created) = openapi
        .paths
        .paths
        .get_mut("/apps/api/v1/sms")
        .and_then(|item| item.post.as_mut())
        .and_then(|op| op.responses.responses.get_mut("200"))
    else {
        return;
    };
    if let RefOr::T(response) = created {
        for (name, operation, description) in [
            ("GetChat", "get_chat", "Read the chat just created."),
            ("EndChat", "end_chat", "End the chat just created."),
        ] {
            let link = LinkBuilder::new()
                .operation_id(operation)
                .parameter("id", "$response.body#/id")
                .description(description)
                .build();
            response.links.insert(name.to_owned(), RefOr::T(link));
        }
    }
}

/// Serialises the document. utoipa 5 writes a link's `operationId`/`operationRef` in snake
/// case, which no OpenAPI tool reads; they are renamed here.
pub fn to_json(api: &utoipa::openapi::OpenApi, pretty: bool) -> String {
    let mut value = serde_json::to_value(api).unwrap_or_default();
    if let Some(paths) = value.get_mut("paths").and_then(|p| p.as_object_mut()) {
        let responses = paths
            .values_mut()
            .filter_map(|item| item.as_object_mut())
            .flat_map(|item| item.values_mut())
            .filter_map(|op| op.get_mut("responses").and_then(|r| r.as_object_mut()))
            .flat_map(|r| r.values_mut());
        for response in responses {
            for link in
                response.get_mut("links").and_then(|l| l.as_object_mut()).into_iter().flat_map(|l| l.values_mut())
            {
                if let Some(link) = link.as_object_mut() {
                    for (from, to) in [
                        ("operation_id", "operationId"),
                        ("operation_ref", "operationRef"),
                        ("request_body", "requestBody"),
                    ] {
                        if let Some(v) = link.remove(from) {
                            link.insert(to.to_owned(), v);
                        }
                    }
                }
            }
        }
    }
    let text = if pretty { serde_json::to_string_pretty(&value) } else { serde_json::to_string(&value) };
    text.unwrap_or_default()
}

fn error_response(description: &str, message: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .example(Some(serde_json::json!({ "message": message })))
        .build();
    ResponseBuilder::new().description(description).content("application/json", content).build().into()
}
