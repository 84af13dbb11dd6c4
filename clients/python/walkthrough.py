"""The README walk-through through a client generated from openapi/openapi.json.

Run by scripts/contract.sh against a live server, with SMS_BASE_URL and SMS_ADMIN (an admin JWT)
in the environment and the generated package `outbound_sms_api_client` on PYTHONPATH.
Every answer is asserted; the first mismatch fails the run.
"""

import base64
import os
import sys

from outbound_sms_api_client import AuthenticatedClient
from outbound_sms_api_client.api.admin import (
    create_agent,
    create_api_token,
    create_outbound_number,
    create_tenant,
    create_webhook,
    get_tenant,
    list_webhook_deliveries,
    list_webhooks,
)
from outbound_sms_api_client.api.chats import chat_messages, end_chat, get_chat, list_chats, reply
from outbound_sms_api_client.api.operations import healthz
from outbound_sms_api_client.api.sms import send_sms
from outbound_sms_api_client.models import (
    AgentCreate,
    ChatObject,
    ChatTypeName,
    EndChatRequest,
    EndedBy,
    ErrorBody,
    EventType,
    ListChatsStatus,
    MessageObject,
    OutboundNumberCreate,
    ReplyRequest,
    SendSmsRequest,
    TenantCreate,
    WebhookCreate,
    WebhookCreated,
)

ACTIVE = "Outbound SMS failed. Consumer is already in an active SMS session."


PASSED = []


def check(condition: bool, what: str) -> None:
    if not condition:
        print(f"walkthrough: FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    PASSED.append(what)
    print(f"ok: {what}")


def main() -> None:
    base = os.environ["SMS_BASE_URL"]
    admin = AuthenticatedClient(base_url=base, token=os.environ["SMS_ADMIN"])

    health = healthz.sync_detailed(client=admin)
    check(health.status_code == 200, "GET /healthz answers 200")

    created = create_tenant.sync_detailed(client=admin, body=TenantCreate(subdomain="walk", name="Walk Inc."))
    check(created.status_code == 201, "admin creates tenant walk (201)")
    tenant = get_tenant.sync(subdomain="walk", client=admin)
    check(tenant is not None and tenant.lang == "en" and tenant.session_timeout_minutes == 1440, "tenant defaults")

    token = create_api_token.sync_detailed(subdomain="walk", client=admin)
    check(token.status_code == 201 and len(token.parsed.token) >= 43, "admin issues an API token (201)")
    number = create_outbound_number.sync(
        subdomain="walk", client=admin, body=OutboundNumberCreate(number="(628) 555-0198")
    )
    check(number is not None and number.number == "+16285550198", "outbound number stored in E.164")
    agent = create_agent.sync(
        subdomain="walk",
        client=admin,
        body=AgentCreate(email="john.doe@foo.com", first_name="John", last_name="Doe", agent_number=9),
    )
    check(agent is not None and agent.name == "John Doe" and agent.status.value == "active", "agent created")

    hook = create_webhook.sync_detailed(
        subdomain="walk",
        client=admin,
        body=WebhookCreate(
            url="http://127.0.0.1:9/crm-hooks",
            events=[EventType.CHAT_CREATED, EventType.CHAT_ENDED, EventType.MESSAGE_RECEIVED],
            description="CRM",
        ),
    )
    check(hook.status_code == 201 and isinstance(hook.parsed, WebhookCreated), "admin registers a webhook (201)")
    check(hook.parsed.secret.startswith("whsec_"), "its signing secret is shown once, whsec_")
    hooks = list_webhooks.sync(subdomain="walk", client=admin)
    check(hooks is not None and [h.id for h in hooks] == [hook.parsed.id], "the webhook is listed")
    check("secret" not in hooks[0].to_dict(), "a listed webhook has no secret")

    basic = base64.b64encode(f"walk:{token.parsed.token}".encode()).decode()
    crm = AuthenticatedClient(base_url=base, token=basic, prefix="Basic")

    sent = send_sms.sync_detailed(
        client=crm,
        body=SendSmsRequest(
            chat_type=ChatTypeName.MESSAGING_SMS,
            end_user_number="+1 415-555-0100",
            outbound_number="+1 628-555-0198",
            message="lorem ipsum",
            ticket_id="5006x00000XXxxxXXX",
            agentId=agent.id,
        ),
    )
    check(sent.status_code == 200 and isinstance(sent.parsed, ChatObject), "POST /apps/api/v1/sms answers 200")
    chat = sent.parsed
    check(chat.status == "assigned" and chat.outbound_number == "+16285550198", "the chat is assigned, E.164")
    check(chat.agent_info is not None and chat.agent_info.id == agent.id, "agent_info names the agent")
    check(chat.out_ticket_id == "5006x00000XXxxxXXX", "out_ticket_id echoes ticket_id")
    check([p.type_ for p in chat.participants] == ["end_user", "agent"], "end user and agent participants")

    again = send_sms.sync_detailed(
        client=crm,
        body=SendSmsRequest(
            chat_type=ChatTypeName.SMS,
            end_user_number="(415) 555-0100",
            outbound_number="+1 628-555-0198",
            message="hello again",
        ),
    )
    check(again.status_code == 400 and isinstance(again.parsed, ErrorBody), "a second chat is refused (400)")
    check(again.parsed.message == ACTIVE and again.parsed.chat_id == chat.id, "row 12 with the active chat_id")

    answered = reply.sync_detailed(
        id=chat.id,
        client=crm,
        body=ReplyRequest(message="Your order shipped today.", agentId=agent.id),
    )
    check(answered.status_code == 201 and isinstance(answered.parsed, MessageObject), "the agent replies (201)")
    check(answered.parsed.direction == "outbound" and answered.parsed.delivery_status == "queued", "queued outbound")
    check(answered.parsed.chat_id == chat.id and answered.parsed.agent_id == agent.id, "in the chat, by the agent")
    conversation = chat_messages.sync_detailed(id=chat.id, client=crm)
    check(conversation.status_code == 200 and len(conversation.parsed) == 2, "the chat holds both messages")
    check(conversation.headers.get("x-total-count") == "2", "X-Total-Count is 2")

    fetched = get_chat.sync(id=chat.id, client=crm)
    check(fetched is not None and fetched.to_dict() == chat.to_dict(), "GET the chat answers the same object")

    listed = list_chats.sync_detailed(client=crm, status=ListChatsStatus.ASSIGNED, per=10)
    check(listed.status_code == 200 and [c.id for c in listed.parsed] == [chat.id], "the list filters by status")
    check(listed.headers.get("x-total-count") == "1", "X-Total-Count is 1")

    ended = end_chat.sync(id=chat.id, client=crm, body=EndChatRequest(disconnected_by=EndedBy.AGENT))
    check(ended is not None and ended.status == "finished", "POST .../end finishes the chat")
    check(ended.disconnected_by == "disconnected_by_agent" and ended.ends_at is not None, "ended by the agent")
    check(all(p.status == "disconnected" for p in ended.participants), "every participant disconnected")

    deliveries = list_webhook_deliveries.sync_detailed(subdomain="walk", id=hook.parsed.id, client=admin)
    kinds = sorted(d.event_type for d in deliveries.parsed)
    check(deliveries.status_code == 200 and kinds == ["chat.created", "chat.ended"], "the webhook's events are queued")

    twice = end_chat.sync_detailed(id=chat.id, client=crm, body=EndChatRequest())
    check(twice.status_code == 409, "ending it again is a conflict (409)")

    after = send_sms.sync_detailed(
        client=crm,
        body=SendSmsRequest(
            chat_type=ChatTypeName.MESSAGING_API,
            end_user_number="4155550100",
            outbound_number="+1 628-555-0198",
            message="welcome back",
        ),
    )
    check(after.status_code == 200 and after.parsed.chat_type == "Messaging (API)", "the consumer can be texted again")
    check(after.parsed.end_user.id == chat.end_user.id, "the same end user")
    print(f"walkthrough: {len(PASSED)} passed, 0 failed")


if __name__ == "__main__":
    main()
