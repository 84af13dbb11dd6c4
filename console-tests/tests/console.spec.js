// The console, part one, in Debian's Chromium against a real server with a fake Twilio
// (scripts/console-test.sh starts both): an operator signs in and chooses a tenant; an agent
// accepts an invitation, signs in, and holds a conversation that changes live; what another
// tenant's agent and a forged form are refused; axe-core on every page.
const { test, expect } = require("@playwright/test");
const { admin, call, basic, twilioCallback, consumerWrites, accessible, screenshots, fitsNarrow } = require("./support");

test.describe.configure({ mode: "serial" });

const NUMBER = "+16285550199";
const OTHER_NUMBER = "+16285550150";
const CONSUMER = "+14155550100";
const PASSWORD = "correct horse battery";
const state = {};

test.beforeAll(async () => {
  await admin("POST", "/admin/v1/tenants", { subdomain: "acme", name: "Acme Inc.", rate_limit_per_second: 0 });
  await admin("POST", "/admin/v1/tenants", { subdomain: "globex", name: "Globex", rate_limit_per_second: 0 });
  await admin("POST", "/admin/v1/tenants/acme/outbound-numbers", { number: NUMBER });
  await admin("POST", "/admin/v1/tenants/globex/outbound-numbers", { number: OTHER_NUMBER });
  state.token = (await admin("POST", "/admin/v1/tenants/acme/api-tokens")).token;
  state.ada = await admin("POST", "/admin/v1/tenants/acme/agents", { email: "ada@acme.test", first_name: "Ada", last_name: "Lovelace" });
  state.sue = await admin("POST", "/admin/v1/tenants/acme/agents", { email: "sue@acme.test", first_name: "Sue", last_name: "Visor" });
  await admin("PATCH", `/admin/v1/tenants/acme/agents/${state.sue.id}`, { console_role: "supervisor" });
  await admin("PUT", `/admin/v1/tenants/acme/agents/${state.sue.id}/password`, { password: PASSWORD });
  const olga = await admin("POST", "/admin/v1/tenants/globex/agents", { email: "olga@globex.test", first_name: "Olga", last_name: "Other" });
  await admin("PUT", `/admin/v1/tenants/globex/agents/${olga.id}/password`, { password: PASSWORD });
  state.invitation = (await admin("POST", `/admin/v1/tenants/acme/agents/${state.ada.id}/invitation`)).url;
});

async function send(to, message) {
  const res = await call("POST", "/apps/api/v1/sms", {
    auth: basic("acme", state.token),
    body: { chat_type: "Messaging (SMS)", end_user_number: to, outbound_number: NUMBER, message },
  });
  expect(res.status).toBe(200);
  return res.json;
}

async function signIn(page, subdomain, email, password) {
  await page.goto("/console/login");
  const agents = page.getByRole("region", { name: "Agents and supervisors" });
  await agents.getByLabel("Tenant").fill(subdomain);
  await agents.getByLabel("E-mail").fill(email);
  await agents.getByLabel("Password").fill(password);
  await agents.getByRole("button", { name: "Sign in" }).click();
}

test("a failed sign-in says only that", async ({ page }) => {
  await signIn(page, "acme", "sue@acme.test", "not the password");
  await expect(page.getByRole("alert")).toHaveText("Sign-in failed");
  await signIn(page, "nowhere", "sue@acme.test", PASSWORD);
  await expect(page.getByRole("alert")).toHaveText("Sign-in failed");
  await accessible(page, "sign-in");
  await fitsNarrow(page);
  await screenshots(page, "sign-in");
});

test("an operator signs in with the admin token and chooses a tenant", async ({ page }) => {
  await page.goto("/console/login");
  await page.getByLabel("Admin token").fill(process.env.CONSOLE_ADMIN_TOKEN);
  await page.getByRole("button", { name: "Sign in as operator" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Choose a tenant");
  await accessible(page, "tenant choice");
  await page.getByLabel("Tenant").selectOption("acme");
  await page.getByRole("button", { name: "Work in this tenant" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Conversations");
  await expect(page.locator(".role")).toContainText("operator · Acme Inc.");
});

test("an invited agent chooses a password and signs in", async ({ page }) => {
  await page.goto(new URL(state.invitation).pathname);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Choose your password");
  await accessible(page, "invitation");
  await page.getByLabel("New password").fill(PASSWORD);
  await page.getByRole("button", { name: "Set password" }).click();
  await expect(page.getByRole("status")).toContainText("Your password is set");
  await signIn(page, "acme", "ada@acme.test", PASSWORD);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Conversations");
  // The invitation worked once.
  await page.goto(new URL(state.invitation).pathname);
  await expect(page.getByRole("alert")).toContainText("used or has expired");
});

test("an agent holds a conversation, live", async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await signIn(page, "acme", "ada@acme.test", PASSWORD);
  await expect(page.locator("#live-state")).toHaveText("Live");
  await accessible(page, "conversations (empty)");

  // A chat opened through the API appears in the open list without a reload.
  const chat = await send(CONSUMER, "Your order #1234 is ready.");
  state.chat = chat.id;
  const row = page.getByRole("link", { name: CONSUMER });
  await expect(row).toBeVisible({ timeout: 2_000 });

  // The consumer's signed reply appears in the open conversation without a reload.
  await row.click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Conversation with ${CONSUMER}`);
  await expect(page.locator("#live-state")).toHaveText("Live");
  await accessible(page, "conversation");
  expect(await consumerWrites("acme", CONSUMER, NUMBER, "Is it on its way?")).toBe(200);
  await expect(page.locator(".message.inbound .body").last()).toHaveText("Is it on its way?", { timeout: 2_000 });

  // Assign to me.
  await page.getByRole("button", { name: "Assign to me" }).click();
  await expect(page.locator(".facts")).toContainText("Ada Lovelace");
  await expect(page.getByRole("button", { name: "Assign to me" })).toHaveCount(0);

  // The reply box counts as the service does, and marks what forces UCS-2.
  const box = page.getByLabel("Message");
  await box.fill("Olá! It ships today 😀");
  await expect(page.locator("#reply-count")).toHaveText(/21 \/ 1600 characters · 1 segment · UCS-2/);
  await expect(page.locator(".counter-marks mark")).toHaveText(["á", "😀"]);
  await box.fill("Yes: it ships today, with tracking {ABC}.");
  await expect(page.locator("#reply-count")).toHaveText(/41 \/ 1600 characters · 1 segment · GSM-7/);
  await expect(page.locator(".counter-marks")).toBeHidden();
  await box.fill("a".repeat(161));
  await expect(page.locator("#reply-count")).toHaveText(/161 \/ 1600 characters · 2 segments · GSM-7/);

  // Reply, and watch its status move: sent by the worker to the fake Twilio, then delivered.
  await box.fill("It left the warehouse this morning.");
  await page.getByRole("button", { name: "Send reply" }).click();
  const mine = page.locator(".message.outbound").last();
  await expect(mine.locator(".body")).toHaveText("It left the warehouse this morning.");
  await expect(mine.locator(".delivery")).toHaveText("sent", { timeout: 5_000 });
  const messages = await call("GET", `/apps/api/v1/chats/${state.chat}/messages`, { auth: basic("acme", state.token) });
  const [first, , reply] = messages.json;
  expect(reply.agent_id).toBe(state.ada.id);
  const delivered = { MessageSid: reply.provider_message_id, MessageStatus: "delivered", AccountSid: process.env.TWILIO_ACCOUNT_SID };
  expect(await twilioCallback("/webhooks/twilio/acme/status", delivered)).toBe(204);
  await expect(mine.locator(".delivery")).toHaveText("delivered", { timeout: 2_000 });
  // The carrier's error on a message that did not arrive.
  const lost = { MessageSid: first.provider_message_id, MessageStatus: "undelivered", ErrorCode: "30003", AccountSid: process.env.TWILIO_ACCOUNT_SID };
  expect(await twilioCallback("/webhooks/twilio/acme/status", lost)).toBe(204);
  await expect(page.locator(".message.outbound").first().locator(".error-text")).toContainText("30003", { timeout: 2_000 });

  // The list marks a chat whose last message is the consumer's.
  expect(await consumerWrites("acme", CONSUMER, NUMBER, "Thank you!")).toBe(200);
  await page.goto("/console/chats");
  await expect(page.locator("tr", { hasText: CONSUMER }).getByText("Awaiting answer")).toBeVisible();
  await page.getByRole("link", { name: CONSUMER }).click();

  await fitsNarrow(page);
  await screenshots(page, "conversation");

  // A form without the session's CSRF token is refused.
  const forged = await page.request.post(`/console/chats/${state.chat}/end`, { form: { csrf: "forged" } });
  expect(forged.status()).toBe(403);
  await page.reload();
  await expect(page.locator(".facts")).toContainText("assigned");

  await context.close();
});

test("what changes while a page loads is shown once its feed is up", async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, "acme", "ada@acme.test", PASSWORD);
  // The feed is held back until the change is made: the page was read before the change, and
  // its feed starts after it.
  let open;
  const held = new Promise((resolve) => { open = resolve; });
  await page.route("**/console/live", async (route) => { await held; await route.continue(); });
  await page.goto(`/console/chats/${state.chat}`);
  const answer = "Made while the page was loading.";
  const res = await call("POST", `/apps/api/v1/chats/${state.chat}/messages`, {
    auth: basic("acme", state.token),
    body: { message: answer, agentId: state.ada.id },
  });
  expect(res.status).toBe(201);
  await expect(page.locator(".message.outbound .body", { hasText: answer })).toHaveCount(0);
  open();
  await expect(page.locator("#live-state")).toHaveText("Live");
  await expect(page.locator(".message.outbound .body", { hasText: answer })).toHaveCount(1, { timeout: 2_000 });
  await context.close();
});

test("New SMS names the rule that would refuse it", async ({ page }) => {
  await signIn(page, "acme", "ada@acme.test", PASSWORD);
  await page.getByRole("link", { name: "New SMS", exact: true }).first().click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("New SMS");
  await accessible(page, "new SMS");
  await page.getByLabel("To").fill(CONSUMER);
  await page.getByLabel("To").blur();
  await expect(page.locator("#precheck")).toContainText("Active conversation");
  await expect(page.getByRole("link", { name: "Open the active conversation" })).toHaveAttribute("href", `/console/chats/${state.chat}`);
  // A consumer who said STOP.
  await send("+14155550177", "Hello");
  expect(await consumerWrites("acme", "+14155550177", NUMBER, "STOP")).toBe(200);
  await page.getByLabel("To").fill("(415) 555-0177");
  await page.getByLabel("To").blur();
  await expect(page.locator("#precheck")).toContainText("Opted out");
  await expect(page.locator("#precheck")).toContainText("end_user_number has opted out");
  await screenshots(page, "new-sms");
  // Nothing stops a new consumer: the message goes, and its conversation opens.
  await page.getByLabel("To").fill("(415) 555-0155");
  await page.getByLabel("To").blur();
  await expect(page.locator("#precheck")).toContainText("Nothing stops this message");
  await page.getByLabel("Message", { exact: true }).fill("Hello from the console");
  await page.getByRole("button", { name: "Send", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Conversation with +14155550155");
  await expect(page.locator(".facts")).toContainText("Ada Lovelace");
});

test("the live state shows a drop, and the page catches up when it is back", async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, "acme", "sue@acme.test", PASSWORD);
  await expect(page.locator("#live-state")).toHaveText("Live");
  await context.setOffline(true);
  await expect(page.locator("#live-state")).toHaveText("Reconnecting…", { timeout: 10_000 });
  await send("+14155550188", "Sent while the page was away");
  await context.setOffline(false);
  await expect(page.locator("#live-state")).toHaveText("Live", { timeout: 10_000 });
  await expect(page.getByRole("link", { name: "+14155550188" })).toBeVisible({ timeout: 5_000 });
  await screenshots(page, "conversations");
  await context.close();
});

test("an agent ends the conversation", async ({ page }) => {
  await signIn(page, "acme", "ada@acme.test", PASSWORD);
  await page.goto(`/console/chats/${state.chat}`);
  await page.getByRole("button", { name: "End conversation" }).click();
  await expect(page.locator(".facts")).toContainText("finished");
  await expect(page.getByRole("button", { name: "Send reply" })).toHaveCount(0);
  const chat = await call("GET", `/apps/api/v1/chats/${state.chat}`, { auth: basic("acme", state.token) });
  expect(chat.json.status).toBe("finished");
});

test("an agent of another tenant is refused", async ({ page }) => {
  await signIn(page, "globex", "olga@globex.test", PASSWORD);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Conversations");
  await expect(page.getByRole("link", { name: CONSUMER })).toHaveCount(0);
  const res = await page.goto(`/console/chats/${state.chat}`);
  expect(res.status()).toBe(404);
  await expect(page.getByRole("alert")).toHaveText("chat not found");
  await accessible(page, "not found");
});
