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
        (name = "admin", description = "Tenants, API tokens, outbound numbers and agents. Admin JWT."),
        (name = "operations", description = "Health, readiness and this document. No auth."),
    ),
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
