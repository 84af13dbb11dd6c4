// The README walk-through through a TypeScript client generated from openapi/openapi.json
// (openapi-typescript's types, openapi-fetch's calls), every answer asserted. A receiver on
// loopback takes the tenant's event webhooks and verifies each with the Standard Webhooks
// library, as a CRM would.
//
// Run by scripts/typescript-walkthrough.sh against a live server with the event worker on:
// SMS_BASE_URL and SMS_ADMIN (an admin JWT) in the environment. The first mismatch fails the run.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isDeepStrictEqual } from "node:util";
import createClient from "openapi-fetch";
import { Webhook } from "standardwebhooks";
import type { components, paths } from "./generated/sms-api.js";

type Chat = components["schemas"]["ChatObject"];
type EventType = components["schemas"]["EventType"];

const ACTIVE = "Outbound SMS failed. Consumer is already in an active SMS session.";
const TENANT = process.env.SMS_WALK_TENANT ?? "walkts";
const NUMBER = "+16285550197";

let passed = 0;

function check(condition: boolean, what: string): asserts condition {
  if (!condition) {
    console.error(`walkthrough: FAILED: ${what}`);
    process.exit(1);
  }
  passed += 1;
  console.log(`ok: ${what}`);
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`walkthrough: ${name} must be set`);
    process.exit(2);
  }
  return value;
}

/** An event as the receiver took it: its type, its chat, and whether its signature verified. */
interface Received {
  type: EventType;
  chatId: number | null;
  verified: boolean;
}

/** What a delivery's body holds that the walk-through looks at. */
interface Payload {
  type: EventType;
  data: { chat?: { id: number }; chat_id?: number | null };
}

/** The payload when its signature is good; `null` otherwise. */
function verified(verifier: Webhook | null, body: string, headers: Record<string, string>): Payload | null {
  if (verifier === null) return null;
  try {
    return verifier.verify(body, headers) as Payload;
  } catch {
    return null;
  }
}

function chatOf(payload: Payload): number | null {
  return payload.data.chat?.id ?? payload.data.chat_id ?? null;
}

/** A CRM's endpoint on loopback: answers 204 to every delivery and keeps what came. */
async function receiver(): Promise<{ url: string; events: Received[]; setSecret: (s: string) => void; close: () => void }> {
  const events: Received[] = [];
  let verifier: Webhook | null = null;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const headers: Record<string, string> = {};
      for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
        const value = req.headers[name];
        if (typeof value === "string") headers[name] = value;
      }
      const payload = verified(verifier, body, headers);
      events.push({ type: payload?.type ?? "chat.created", chatId: payload ? chatOf(payload) : null, verified: payload !== null });
      res.writeHead(events.at(-1)?.verified ? 204 : 400).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    events,
    setSecret: (secret: string) => {
      verifier = new Webhook(secret);
    },
    close: () => server.close(),
  };
}

/** Waits until `done` holds, at most `seconds`. */
async function until(done: () => boolean, seconds: number): Promise<boolean> {
  for (let waited = 0; waited < seconds * 10; waited += 1) {
    if (done()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return done();
}

async function main(): Promise<void> {
  const baseUrl = env("SMS_BASE_URL");
  const admin = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${env("SMS_ADMIN")}` } });

  const health = await admin.GET("/healthz");
  check(health.response.status === 200, "GET /healthz answers 200");

  const tenant = await admin.POST("/admin/v1/tenants", { body: { subdomain: TENANT, name: "Walk TS Inc." } });
  check(tenant.response.status === 201 && tenant.data !== undefined, `admin creates tenant ${TENANT} (201)`);
  check(tenant.data.lang === "en" && tenant.data.session_timeout_minutes === 1440, "tenant defaults");
  const path = { subdomain: TENANT };

  const token = await admin.POST("/admin/v1/tenants/{subdomain}/api-tokens", { params: { path } });
  check(token.response.status === 201 && token.data !== undefined, "admin issues an API token (201)");
  check(token.data.token.length >= 43, "the token is at least 43 characters");

  const number = await admin.POST("/admin/v1/tenants/{subdomain}/outbound-numbers", {
    params: { path },
    body: { number: "(628) 555-0197" },
  });
  check(number.response.status === 201 && number.data?.number === NUMBER, "outbound number stored in E.164 (201)");

  const agent = await admin.POST("/admin/v1/tenants/{subdomain}/agents", {
    params: { path },
    body: { email: "john.doe@foo.com", first_name: "John", last_name: "Doe", agent_number: 9 },
  });
  check(agent.response.status === 201 && agent.data !== undefined, "agent created (201)");
  check(agent.data.name === "John Doe" && agent.data.status === "active", "the agent is John Doe, active");

  const crm = await receiver();
  const hook = await admin.POST("/admin/v1/tenants/{subdomain}/webhooks", {
    params: { path },
    body: { url: crm.url, description: "CRM" },
  });
  check(hook.response.status === 201 && hook.data !== undefined, "admin registers a webhook (201)");
  check(hook.data.secret.startsWith("whsec_"), "its signing secret is shown once, whsec_");
  check(hook.data.events.length === 7, "with no events named, it hears all seven types");
  crm.setSecret(hook.data.secret);
  const hooks = await admin.GET("/admin/v1/tenants/{subdomain}/webhooks", { params: { path } });
  check(hooks.response.status === 200 && hooks.data?.length === 1, "the webhook is listed");
  check(hooks.data[0]?.id === hook.data.id && !("secret" in hooks.data[0]), "a listed webhook has no secret");

  const basic = Buffer.from(`${TENANT}:${token.data.token}`).toString("base64");
  const api = createClient<paths>({ baseUrl, headers: { Authorization: `Basic ${basic}` } });

  const sent = await api.POST("/apps/api/v1/sms", {
    body: {
      chat_type: "Messaging (SMS)",
      end_user_number: "+1 415-555-0100",
      outbound_number: "+1 628-555-0197",
      message: "lorem ipsum",
      ticket_id: "5006x00000XXxxxXXX",
      agentId: agent.data.id,
    },
  });
  check(sent.response.status === 200 && sent.data !== undefined, "POST /apps/api/v1/sms answers 200");
  const chat: Chat = sent.data;
  check(chat.status === "assigned" && chat.outbound_number === NUMBER, "the chat is assigned, E.164");
  check(chat.agent_info?.id === agent.data.id, "agent_info names the agent");
  check(chat.out_ticket_id === "5006x00000XXxxxXXX", "out_ticket_id echoes ticket_id");
  check(chat.participants.map((p) => p.type).join() === "end_user,agent", "end user and agent participants");

  const again = await api.POST("/apps/api/v1/sms", {
    body: {
      chat_type: "SMS",
      end_user_number: "(415) 555-0100",
      outbound_number: "+1 628-555-0197",
      message: "hello again",
    },
  });
  check(again.response.status === 400 && again.error !== undefined, "a second chat is refused (400)");
  check(again.error.message === ACTIVE && again.error.chat_id === chat.id, "row 12 with the active chat_id");

  const reply = await api.POST("/apps/api/v1/chats/{id}/messages", {
    params: { path: { id: chat.id } },
    body: { message: "Your order shipped today.", agentId: agent.data.id },
  });
  check(reply.response.status === 201 && reply.data !== undefined, "the agent replies inside the chat (201)");
  check(reply.data.direction === "outbound" && reply.data.delivery_status === "queued", "queued outbound");
  check(reply.data.chat_id === chat.id && reply.data.agent_id === agent.data.id, "in the chat, by the agent");

  const conversation = await api.GET("/apps/api/v1/chats/{id}/messages", { params: { path: { id: chat.id } } });
  check(conversation.response.status === 200 && conversation.data?.length === 2, "the chat holds both messages");
  check(conversation.response.headers.get("x-total-count") === "2", "X-Total-Count is 2");
  check(
    conversation.data.map((m) => m.body).join("|") === "lorem ipsum|Your order shipped today.",
    "the messages in the order they were written",
  );

  const fetched = await api.GET("/apps/api/v1/chats/{id}", { params: { path: { id: chat.id } } });
  check(fetched.response.status === 200 && fetched.data !== undefined, "GET the chat answers 200");
  check(isDeepStrictEqual(fetched.data, chat), "GET the chat answers the same object as the send");

  const listed = await api.GET("/apps/api/v1/chats", { params: { query: { status: "assigned", per: 10 } } });
  check(listed.response.status === 200 && listed.data?.map((c) => c.id).join() === `${chat.id}`, "the list filters by status");
  check(listed.response.headers.get("x-total-count") === "1", "X-Total-Count is 1");

  const ended = await api.POST("/apps/api/v1/chats/{id}/end", {
    params: { path: { id: chat.id } },
    body: { disconnected_by: "agent" },
  });
  check(ended.response.status === 200 && ended.data?.status === "finished", "POST .../end finishes the chat");
  check(ended.data.disconnected_by === "disconnected_by_agent" && ended.data.ends_at != null, "ended by the agent");
  check(ended.data.participants.every((p) => p.status === "disconnected"), "every participant disconnected");

  const twice = await api.POST("/apps/api/v1/chats/{id}/end", { params: { path: { id: chat.id } }, body: {} });
  check(twice.response.status === 409 && twice.error !== undefined, "ending it again is a conflict (409)");

  // The event worker posts what happened: the chat's creation and end, and both messages sent.
  const told = (type: EventType) => crm.events.filter((e) => e.type === type && e.chatId === chat.id).length;
  const arrived = await until(
    () => told("chat.created") >= 1 && told("chat.ended") >= 1 && told("message.status_updated") >= 2,
    20,
  );
  check(arrived, "the CRM heard chat.created, message.status_updated (twice) and chat.ended");
  check(crm.events.every((e) => e.verified), "every delivery verified by the standardwebhooks library");
  // Each delivery is recorded once the receiver has answered: all four delivered, 204.
  const listDeliveries = () =>
    admin.GET("/admin/v1/tenants/{subdomain}/webhooks/{id}/deliveries", {
      params: { path: { subdomain: TENANT, id: hook.data.id } },
    });
  let deliveries = await listDeliveries();
  for (let tries = 0; tries < 100; tries += 1) {
    if (deliveries.data?.every((d) => d.status === "delivered")) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
    deliveries = await listDeliveries();
  }
  check(deliveries.response.status === 200 && deliveries.data?.length === 4, "the webhook's four deliveries are listed");
  check(
    deliveries.data.every((d) => d.status === "delivered" && d.attempts === 1 && d.last_status_code === 204),
    "each delivered at the first attempt, answered 204",
  );
  check(
    deliveries.data.map((d) => d.event_type).sort().join() ===
      "chat.created,chat.ended,message.status_updated,message.status_updated",
    "they are the four events the receiver verified",
  );

  const after = await api.POST("/apps/api/v1/sms", {
    body: {
      chat_type: "Messaging (API)",
      end_user_number: "4155550100",
      outbound_number: "+1 628-555-0197",
      message: "welcome back",
    },
  });
  check(after.response.status === 200 && after.data?.chat_type === "Messaging (API)", "the consumer can be texted again");
  check(after.data.end_user.id === chat.end_user.id, "the same end user");

  crm.close();
  console.log(`walkthrough: ${passed} passed, 0 failed`);
}

main().catch((error: unknown) => {
  console.error("walkthrough: FAILED:", error);
  process.exit(1);
});
