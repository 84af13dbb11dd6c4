// The console, part two: supervisors and operators run a tenant from it. Opt-outs (and their
// CSV), settings, numbers, agents, webhooks (against a receiver on loopback) and tenants, each
// page in light and dark with axe-core, and what an agent may not see or do.
const http = require("node:http");
const fs = require("node:fs");
const { test, expect } = require("@playwright/test");
const { admin, call, basic, consumerWrites, accessible, screenshots, fitsNarrow } = require("./support");

test.describe.configure({ mode: "serial" });

const NUMBER = "+16285550111";
const SPARE = "+16285550112";
const PASSWORD = "supervisor pass phrase";
const state = { received: [] };

test.beforeAll(async () => {
  await admin("POST", "/admin/v1/tenants", { subdomain: "initech", name: "Initech", rate_limit_per_second: 0 });
  await admin("POST", "/admin/v1/tenants/initech/outbound-numbers", { number: NUMBER });
  state.token = (await admin("POST", "/admin/v1/tenants/initech/api-tokens")).token;
  const sam = await admin("POST", "/admin/v1/tenants/initech/agents", { email: "sam@initech.test", first_name: "Sam", last_name: "Boss" });
  await admin("PATCH", `/admin/v1/tenants/initech/agents/${sam.id}`, { console_role: "supervisor" });
  await admin("PUT", `/admin/v1/tenants/initech/agents/${sam.id}/password`, { password: PASSWORD });
  const ann = await admin("POST", "/admin/v1/tenants/initech/agents", { email: "ann@initech.test", first_name: "Ann", last_name: "Agent" });
  await admin("PUT", `/admin/v1/tenants/initech/agents/${ann.id}/password`, { password: PASSWORD });
  // A tenant's CRM on loopback: it answers every delivery 204 and keeps what it got.
  state.receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => { state.received.push({ headers: req.headers, body }); res.writeHead(204).end(); });
  });
  await new Promise((resolve) => state.receiver.listen(0, "127.0.0.1", resolve));
  state.receiverUrl = `http://127.0.0.1:${state.receiver.address().port}/hooks`;
});

test.afterAll(async () => { state.receiver.close(); });

async function signIn(page, email) {
  await page.goto("/console/login");
  const form = page.getByRole("region", { name: "Agents and supervisors" });
  await form.getByLabel("Tenant").fill("initech");
  await form.getByLabel("E-mail").fill(email);
  await form.getByLabel("Password").fill(PASSWORD);
  await form.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Conversations");
}

async function send(to) {
  const res = await call("POST", "/apps/api/v1/sms", {
    auth: basic("initech", state.token),
    body: { chat_type: "Messaging (SMS)", end_user_number: to, outbound_number: NUMBER, message: "Hello from Initech" },
  });
  expect(res.status).toBe(200);
  return res.json;
}

test("opt-outs show where they came from, export as CSV, and lift", async ({ page }) => {
  await send("+14155550301");
  expect(await consumerWrites("initech", "+14155550301", NUMBER, "Stop")).toBe(200);
  expect(await consumerWrites("initech", "+14155550302", NUMBER, "UNSUBSCRIBE")).toBe(200);
  await signIn(page, "sam@initech.test");
  await page.getByRole("link", { name: "Opt-outs" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Opt-outs");
  const first = page.locator("tr", { hasText: "+14155550301" });
  await expect(first).toContainText("Stop");
  await expect(first).toContainText(NUMBER);
  await expect(first).toContainText("#");
  await fitsNarrow(page);
  await screenshots(page, "opt-outs");

  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Export CSV" }).click()]);
  expect(download.suggestedFilename()).toBe("opt-outs-initech.csv");
  const csv = fs.readFileSync(await download.path(), "utf8");
  const lines = csv.split("\r\n");
  expect(lines[0]).toBe("number,created_at,keyword,outbound_number,message_id");
  expect(lines[1]).toMatch(/^'\+14155550301,\d{4}-\d\d-\d\dT[\d:.]+Z,Stop,'\+16285550111,\d+$/);
  expect(lines[2]).toMatch(/^'\+14155550302,[^,]+,UNSUBSCRIBE,'\+16285550111,$/);
  expect(lines[3]).toBe("");

  await page.getByRole("button", { name: "Lift the opt-out of +14155550302" }).click();
  await expect(page.getByRole("status")).toContainText("The opt-out is lifted");
  await expect(page.locator("tr", { hasText: "+14155550302" })).toHaveCount(0);
  const list = await admin("GET", "/admin/v1/tenants/initech/opt-outs");
  expect(list.map((o) => o.number)).toEqual(["+14155550301"]);
});

test("settings are the tenant's, checked as the API checks them", async ({ page }) => {
  await signIn(page, "sam@initech.test");
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByLabel("Answer to an opt-out").fill("You will get no more messages from Initech.");
  await page.getByLabel("From", { exact: true }).fill("21:00");
  await page.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByRole("alert")).toHaveText("quiet_hours_start and quiet_hours_end must both be set or both be null");
  await page.getByLabel("Until", { exact: true }).fill("08:00");
  await page.getByLabel("Session timeout (minutes)").fill("0");
  await page.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByRole("alert")).toHaveText("session_timeout_minutes must be between 1 and 10080");
  await page.getByLabel("Session timeout (minutes)").fill("60");
  await page.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByRole("status")).toHaveText("Settings saved.");
  await expect(page.locator("table.compact")).toContainText("Eastern");
  await expect(page.locator("table.compact")).toContainText("Hawaii");
  const tenant = await admin("GET", "/admin/v1/tenants/initech");
  expect([tenant.quiet_hours_start, tenant.quiet_hours_end, tenant.session_timeout_minutes, tenant.opt_out_text])
    .toEqual(["21:00", "08:00", 60, "You will get no more messages from Initech."]);
  await fitsNarrow(page);
  await screenshots(page, "settings");
  // Back to no quiet hours, so the other tests can text at any time.
  await page.getByLabel("From", { exact: true }).fill("");
  await page.getByLabel("Until", { exact: true }).fill("");
  await page.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByRole("status")).toHaveText("Settings saved.");
});

test("numbers are added and removed, saying what removing ends", async ({ page }) => {
  await signIn(page, "sam@initech.test");
  await page.getByRole("link", { name: "Numbers" }).click();
  await page.getByLabel("New number").fill("+44 20 7946 0000");
  await page.getByRole("button", { name: "Add number" }).click();
  await expect(page.getByRole("alert")).toContainText("number");
  await page.getByLabel("New number").fill("(628) 555-0112");
  await page.getByRole("button", { name: "Add number" }).click();
  await expect(page.locator("tr", { hasText: SPARE })).toBeVisible();
  const chat = await call("POST", "/apps/api/v1/sms", {
    auth: basic("initech", state.token),
    body: { chat_type: "Messaging (SMS)", end_user_number: "+14155550303", outbound_number: SPARE, message: "From the spare line" },
  });
  expect(chat.status).toBe(200);
  await page.reload();
  await expect(page.locator("tr", { hasText: SPARE })).toContainText("1");
  await fitsNarrow(page);
  await screenshots(page, "numbers");
  await page.getByRole("link", { name: `Remove ${SPARE}` }).click();
  await expect(page.getByRole("alert")).toContainText("ends its 1 active conversation");
  await accessible(page, "number removal");
  await page.getByRole("button", { name: "Remove number" }).click();
  await expect(page.locator("tr", { hasText: SPARE })).toHaveCount(0);
  const ended = await call("GET", `/apps/api/v1/chats/${chat.json.id}`, { auth: basic("initech", state.token) });
  expect([ended.json.status, ended.json.disconnected_by]).toEqual(["finished", "disconnected_by_system"]);
});

test("agents are added, invited once, made supervisors and deactivated", async ({ page, browser }) => {
  await signIn(page, "sam@initech.test");
  await page.getByRole("link", { name: "Agents" }).click();
  await page.getByLabel("E-mail").fill("not an e-mail");
  await page.getByLabel("First name").fill("Bob");
  await page.getByLabel("Last name").fill("Newhire");
  await page.getByRole("button", { name: "Add agent" }).click();
  await expect(page.getByRole("alert")).toHaveText("email is invalid");
  await page.getByLabel("E-mail").fill("bob@initech.test");
  await page.getByRole("button", { name: "Add agent" }).click();
  const bob = page.locator("tr", { hasText: "bob@initech.test" });
  await expect(bob).toContainText("no password");
  await fitsNarrow(page);
  await screenshots(page, "agents");
  await page.getByRole("button", { name: "Invite Bob Newhire" }).click();
  const link = await page.getByLabel("One-time link").inputValue();
  expect(link).toContain("/console/invitations/");
  await accessible(page, "invitation link");
  // The agent chooses a password through the link, in a browser of their own.
  const other = await browser.newContext();
  const bobsPage = await other.newPage();
  await bobsPage.goto(new URL(link).pathname);
  await bobsPage.getByLabel("New password").fill("bob's own passphrase");
  await bobsPage.getByRole("button", { name: "Set password" }).click();
  await expect(bobsPage.getByRole("status")).toContainText("Your password is set");
  await other.close();
  await page.goto("/console/agents");
  await expect(bob).toContainText("password set");
  await page.getByRole("button", { name: "Make Bob Newhire a supervisor" }).click();
  await expect(bob).toContainText("supervisor");
  await page.getByRole("button", { name: "Deactivate Bob Newhire" }).click();
  await expect(bob).toContainText("deactivated");
});

test("webhooks: create, test, rotate, filter deliveries, retry", async ({ page }) => {
  await signIn(page, "sam@initech.test");
  await page.getByRole("link", { name: "Webhooks" }).click();
  await page.getByLabel("URL").fill("http://10.0.0.1/hooks");
  await page.getByRole("button", { name: "Create endpoint" }).click();
  await expect(page.getByRole("alert")).toHaveText("url is invalid");
  await page.getByLabel("URL").fill(state.receiverUrl);
  await page.getByRole("button", { name: "Create endpoint" }).click();
  const secret = await page.getByLabel("Signing secret").inputValue();
  expect(secret).toMatch(/^whsec_/);
  await accessible(page, "secret shown once");
  await page.getByRole("link", { name: "Open the endpoint" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText(state.receiverUrl);

  await page.getByRole("button", { name: "Send test event" }).click();
  await expect(page.getByRole("status")).toContainText("webhook.test event is on its way");
  const row = page.locator("tr", { hasText: "webhook.test" });
  await expect(async () => {
    await page.reload();
    await expect(row).toContainText("delivered", { timeout: 500 });
  }).toPass({ timeout: 10_000 });
  await expect(row).toContainText("204");
  const before = state.received.filter((r) => r.body.includes("webhook.test")).length;
  expect(before).toBe(1);

  await page.getByLabel("Status", { exact: true }).selectOption("failed");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/status=failed/);
  await expect(page.locator("tr", { hasText: "webhook.test" })).toHaveCount(0);
  await page.getByLabel("Status", { exact: true }).selectOption("delivered");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page.locator("tr", { hasText: "webhook.test" })).toBeVisible();

  // Retry really sends again.
  await page.getByRole("button", { name: /Retry delivery/ }).first().click();
  await expect(page.getByRole("status")).toContainText("goes out again now");
  await expect.poll(() => state.received.filter((r) => r.body.includes("webhook.test")).length, { timeout: 10_000 }).toBe(2);
  await fitsNarrow(page);
  await screenshots(page, "webhook");

  await page.getByRole("button", { name: "Rotate secret" }).click();
  const rotated = await page.getByLabel("Signing secret").inputValue();
  expect(rotated).toMatch(/^whsec_/);
  expect(rotated).not.toBe(secret);
  await expect(page.getByText(/The previous secret still signs every delivery until/)).toBeVisible();
  await page.getByRole("link", { name: "Back to the endpoint" }).click();
  await expect(page.getByText(/The previous secret still signs until/)).toBeVisible();
  await page.goto("/console/webhooks");
  await fitsNarrow(page);
  await screenshots(page, "webhooks");
});

test("an agent reads opt-outs and may not run the tenant", async ({ page }) => {
  await signIn(page, "ann@initech.test");
  await expect(page.getByRole("link", { name: "Settings" })).toHaveCount(0);
  await page.getByRole("link", { name: "Opt-outs" }).click();
  await expect(page.locator("tr", { hasText: "+14155550301" })).toBeVisible();
  await expect(page.getByRole("button", { name: /Lift/ })).toHaveCount(0);
  for (const path of ["/console/settings", "/console/numbers", "/console/agents", "/console/webhooks", "/console/tenants"]) {
    const res = await page.goto(path);
    expect(res.status(), path).toBe(403);
  }
  await accessible(page, "forbidden");
  const csrf = await page.goto("/console/chats").then(() => page.locator('input[name="csrf"]').first().inputValue());
  const lift = await page.request.post("/console/opt-outs/lift", { form: { csrf, number: "+14155550301" } });
  expect(lift.status()).toBe(403);
  const list = await admin("GET", "/admin/v1/tenants/initech/opt-outs");
  expect(list.length).toBe(1);
});

test("operators list, search, create, deactivate and reactivate tenants", async ({ page }) => {
  await page.goto("/console/login");
  await page.getByLabel("Admin token").fill(process.env.CONSOLE_ADMIN_TOKEN);
  await page.getByRole("button", { name: "Sign in as operator" }).click();
  await page.goto("/console/tenants");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Tenants");
  await page.getByLabel("Subdomain").fill("Not Valid");
  await page.getByLabel("Name", { exact: true }).fill("Hooli");
  await page.getByRole("button", { name: "Create tenant" }).click();
  await expect(page.getByRole("alert")).toHaveText("subdomain must be 1 to 63 characters of a-z, 0-9 and -");
  await page.getByLabel("Subdomain").fill("hooli");
  await page.getByRole("button", { name: "Create tenant" }).click();
  await expect(page.locator("tr", { hasText: "hooli" })).toContainText("active");
  await page.getByLabel("Search").fill("init");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.locator("tbody tr")).toHaveCount(1);
  await expect(page.locator("tbody tr")).toContainText("initech");
  await page.goto("/console/tenants?q=hoo");
  await page.getByRole("button", { name: "Deactivate hooli" }).click();
  await expect(page.locator("tr", { hasText: "hooli" })).toContainText("deactivated");
  const hooli = await admin("GET", "/admin/v1/tenants/hooli");
  expect(hooli.active).toBe(false);
  await page.getByRole("button", { name: "Reactivate hooli" }).click();
  await expect(page.locator("tr", { hasText: "hooli" })).toContainText("active");
  await fitsNarrow(page);
  await screenshots(page, "tenants");
  await page.getByRole("button", { name: "Work in initech" }).click();
  await expect(page.locator(".role")).toContainText("operator · Initech");
  await page.goto("/console/settings");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Settings");
});

test("the keyboard alone signs in and reaches every page", async ({ page }) => {
  await page.goto("/console/login");
  // Tab from the top: the skip link, then the first field of the agents' form.
  for (let i = 0; i < 10 && !(await page.evaluate(() => document.activeElement && document.activeElement.id === "subdomain")); i++) {
    await page.keyboard.press("Tab");
  }
  await page.keyboard.type("initech");
  await page.keyboard.press("Tab");
  await page.keyboard.type("sam@initech.test");
  await page.keyboard.press("Tab");
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Conversations");
  // Every page of the navigation is reached by Tab and Enter, and has one h1.
  for (const name of ["Opt-outs", "Settings", "Numbers", "Agents", "Webhooks", "New SMS", "Conversations"]) {
    const link = page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
    await link.focus();
    await expect(link).toBeFocused();
    await page.keyboard.press("Enter");
    await expect(page.getByRole("heading", { level: 1 })).toHaveCount(1);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(name);
  }
});
