// What the browser tests share: the admin API, Twilio's signed callbacks, axe-core.
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const { expect } = require("@playwright/test");
const AxeBuilder = require("@axe-core/playwright").default;

const BASE = process.env.CONSOLE_BASE_URL;
const ADMIN = process.env.CONSOLE_ADMIN_TOKEN;
const TWILIO_TOKEN = process.env.TWILIO_AUTH_TOKEN;
const SHOTS = process.env.SCREENSHOT_DIR || path.join(__dirname, "..", "..", "target", "console-screenshots");

async function call(method, route, { body, auth } = {}) {
  const headers = { Authorization: auth || `Bearer ${ADMIN}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(BASE + route, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = text; }
  return { status: res.status, json };
}

async function admin(method, route, body) {
  const res = await call(method, route, { body });
  if (res.status >= 300) throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json;
}

function basic(subdomain, token) {
  return "Basic " + Buffer.from(`${subdomain}:${token}`).toString("base64");
}

// Twilio's signature: Base64(HMAC-SHA1(auth token, URL + the sorted names and values)).
function twilioSignature(url, params) {
  const payload = url + Object.keys(params).sort().map((k) => k + params[k]).join("");
  return crypto.createHmac("sha1", TWILIO_TOKEN).update(payload).digest("base64");
}

async function twilioCallback(route, params) {
  const res = await fetch(BASE + route, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": twilioSignature(BASE + route, params) },
    body: new URLSearchParams(params).toString(),
  });
  return res.status;
}

let inbound = 0;
/** A consumer's reply, as Twilio posts it, signed. */
function consumerWrites(subdomain, from, to, body) {
  inbound += 1;
  const sid = "SMf" + inbound.toString(16).padStart(31, "0");
  return twilioCallback(`/webhooks/twilio/${subdomain}/inbound`, { From: from, To: to, Body: body, MessageSid: sid });
}

/** No axe-core violation of impact serious or critical. */
async function accessible(page, name) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${name}: ${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
  return result.violations.length;
}

/** A screenshot in light and in dark, into SCREENSHOT_DIR. */
async function screenshots(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await accessible(page, `${name} (${scheme})`);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${scheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: "light" });
}

/** Nothing wider than the window at 360 px. */
async function fitsNarrow(page) {
  await page.setViewportSize({ width: 360, height: 740 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width).toBeLessThanOrEqual(360);
  await page.setViewportSize({ width: 1280, height: 900 });
}

module.exports = { admin, call, basic, twilioCallback, consumerWrites, accessible, screenshots, fitsNarrow, SHOTS };
