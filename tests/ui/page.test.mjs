// The management page end to end: a secure esdb-devnode (TLS with a CA made for the run, users
// from a users file), the page in headless Chromium (Debian's chromium, driven by puppeteer-core),
// as an operator and as a user who may only read. Screenshots go to ESDB_UI_OUTPUT_DIR.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { buildDir, startDevnode } from "../compat/devnode.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.ESDB_CHROMIUM || "/usr/bin/chromium";
const OPERATOR = { username: "admin", password: "ui-test-admin-pw" };
const READER = { username: "reader", password: "ui-test-reader-pw" };
const SECRET_TOKEN = "tok-never-shown-8d1f";

// Missing packages or browser are an error, never a skip.
if (!existsSync(join(here, "node_modules", "puppeteer-core", "package.json"))) {
  throw new Error("tests/ui/node_modules lacks puppeteer-core: run ./dev deps (or npm ci in tests/ui) first");
}
if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} does not exist: install Debian's chromium (./dev deps)`);
const { default: puppeteer } = await import("puppeteer-core");

const outputDir = process.env.ESDB_UI_OUTPUT_DIR || join(buildDir(), "tests", "ui");
mkdirSync(outputDir, { recursive: true });

function hashPassword(password) {
  const run = spawnSync(join(buildDir(), "bin", "esdb-devnode"), ["--hash-password"],
                        { input: `${password}\n`, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`--hash-password failed: ${run.stderr}`);
  return run.stdout.trim();
}

// Base64 SHA-256 of a certificate's public key: Chromium then trusts that one certificate only.
function spkiHash(certFile) {
  const pub = spawnSync("openssl", ["x509", "-in", certFile, "-pubkey", "-noout"]);
  const der = spawnSync("openssl", ["pkey", "-pubin", "-outform", "der"], { input: pub.stdout });
  const digest = spawnSync("openssl", ["dgst", "-sha256", "-binary"], { input: der.stdout });
  if (pub.status || der.status || digest.status) throw new Error("openssl could not hash the key");
  return digest.stdout.toString("base64");
}

let node;
let browser;
let usersDir;
let base;
const consoleErrors = [];

// An HTTP call to the node from the test itself (not the page), as the operator.
function nodeCall(method, path, { body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const auth = Buffer.from(`${OPERATOR.username}:${OPERATOR.password}`).toString("base64");
    const req = request(`${base}${path}`, {
      method,
      ca: readFileSync(node.caFile),
      headers: { Authorization: `Basic ${auth}`, ...headers },
    }, (res) => {
      let text = "";
      res.on("data", (c) => { text += c; });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function appendOrders(from, count) {
  for (let i = from; i < from + count; i++) {
    const r = await nodeCall("POST", `/streams/order-${i}`, {
      body: JSON.stringify({ order: i }),
      headers: { "Content-Type": "application/json", "ES-EventType": "OrderPlaced" },
    });
    assert.equal(r.status, 201, r.text);
  }
}

// A page signed in as `user` (the answer to the 401's Basic challenge), in a context of its own.
async function openPage(user) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  page.on("pageerror", (e) => consoleErrors.push(`${user.username}: page error: ${e.message}`));
  page.on("console", (m) => {
    // A 4xx the page provoked on purpose is logged by the browser as "Failed to load resource";
    // anything else at error level comes from the page's script.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
      consoleErrors.push(`${user.username}: ${m.text()}`);
    }
  });
  await page.authenticate(user);
  const response = await page.goto(`${base}/ui/connectors`);
  assert.equal(response.status(), 200);
  await page.waitForSelector("body[data-loaded]");
  return { page, context, response };
}

function rowState(page, id) {
  return page.waitForFunction(
    (id) => document.querySelector(`tr[data-id="${id}"] .state`)?.textContent, {}, id);
}

async function waitForState(page, id, want) {
  await page.waitForFunction(
    (id, want) => document.querySelector(`tr[data-id="${id}"] .state`)?.textContent === want,
    { timeout: 20000 }, id, want);
}

async function clickAction(page, action, id) {
  await page.click(`button[data-action="${action}"][data-id="${id}"]`);
}

async function setField(page, selector, value) {
  await page.$eval(selector, (e) => { e.value = ""; });
  await page.type(selector, value);
}

async function shot(page, name) {
  await page.screenshot({ path: join(outputDir, `${name}.png`) });
}

before(async () => {
  usersDir = mkdtempSync(join(tmpdir(), "esdb-ui-users-"));
  const usersFile = join(usersDir, "users.json");
  writeFileSync(usersFile, JSON.stringify({ users: [
    { name: OPERATOR.username, passwordHash: hashPassword(OPERATOR.password), groups: ["$admins"] },
    { name: READER.username, passwordHash: hashPassword(READER.password) },
  ] }));
  node = await startDevnode({ secure: true, extraArgs: ["--users-file", usersFile] });
  base = `https://127.0.0.1:${node.httpPort}`;
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", `--ignore-certificate-errors-spki-list=${spkiHash(join(node.dataDir, "node.crt"))}`],
  });
});

after(async () => {
  await browser?.close();
  await node?.stop();
  if (usersDir) rmSync(usersDir, { recursive: true, force: true });
});

test("the page asks for credentials and is sent with a strict policy", async () => {
  const anonymous = await fetchAnonymous();
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers["www-authenticate"], /^Basic /);

  const { context, response } = await openPage(OPERATOR);
  const headers = response.headers();
  assert.equal(headers["x-content-type-options"], "nosniff");
  assert.match(headers["content-security-policy"], /script-src 'self';/);
  assert.doesNotMatch(headers["content-security-policy"], /unsafe-inline/);
  assert.match(headers["content-type"], /^text\/html/);
  await context.close();
});

function fetchAnonymous() {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/ui/connectors`, { ca: readFileSync(node.caFile) }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

// The headers Chromium really sent (Origin is added by the network stack, so it is not among
// the headers the page's request object shows), for each "METHOD url".
async function recordSentHeaders(page) {
  const sent = new Map();
  const requests = new Map();  // request id -> "METHOD url"
  const headers = new Map();   // request id -> headers, lower-case names
  // The two events come in either order.
  const pair = (id) => {
    if (requests.has(id) && headers.has(id)) sent.set(requests.get(id), headers.get(id));
  };
  const cdp = await page.createCDPSession();
  cdp.on("Network.requestWillBeSent", (e) => {
    requests.set(e.requestId, `${e.request.method} ${e.request.url}`);
    pair(e.requestId);
  });
  cdp.on("Network.requestWillBeSentExtraInfo", (e) => {
    headers.set(e.requestId, Object.fromEntries(Object.entries(e.headers).map(([k, v]) => [k.toLowerCase(), v])));
    pair(e.requestId);
  });
  await cdp.send("Network.enable");
  return sent;
}

test("an operator creates, enables, disables and deletes a file-sink connector", async () => {
  const { page, context } = await openPage(OPERATOR);
  const sent = await recordSentHeaders(page);
  const id = "ui-orders";
  await appendOrders(1, 3);

  await page.click("#new-connector");
  await page.waitForSelector("#editor[open]");
  // Every input of the form has a label (its own <label for> or an enclosing one).
  const unlabelled = await page.$$eval("#editor input, #editor select",
    (inputs) => inputs.filter((i) => i.labels.length === 0).map((i) => i.id || i.name));
  assert.deepEqual(unlabelled, []);
  await page.type("#f-connectorId", id);
  await page.select("#f-instanceTypeName", "file-sink");
  await page.waitForSelector("#s-path");
  // A file outside the node's sink file root: the API's message appears next to the path field.
  await page.type("#s-path", "/etc/ui-test-outside.jsonl");
  await page.click("#editor-save");
  await page.waitForFunction(() => document.getElementById("s-path-error").textContent.includes("outside the sink file root"));
  assert.equal(await page.$eval("#s-path", (e) => e.getAttribute("aria-invalid")), "true");
  await shot(page, "01-validation-error");

  await setField(page, "#s-path", join(node.dataDir, "ui-orders.jsonl"));
  await page.click("#editor details summary");
  // The host's fields are the host entry of GET /connector-plugins (its ignored keys left out):
  // the same table that checks them.
  const listed = JSON.parse((await nodeCall("GET", "/connector-plugins")).text);
  const hostKeys = listed.find((p) => p.kind === "host").settings
    .filter((s) => !s.ignored && s.name !== "instanceTypeName").map((s) => s.name);
  const hostFields = await page.$$eval("#host-settings [data-setting]",
    (inputs) => inputs.map((i) => i.dataset.setting));
  assert.deepEqual(hostFields, hostKeys);
  assert.ok(hostFields.includes("errors:tolerance"), hostFields.join(", "));
  await page.type("#s-subscription_initialPosition", "earliest");
  await page.type("#s-subscription_filter_expression", "order-");
  await page.select("#s-subscription_filter_filterType", "prefix");
  // Save with the keyboard: Enter in a field submits the form.
  await page.focus("#f-name");
  await page.type("#f-name", "Orders to a file");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#editor:not([open])");
  await waitForState(page, id, "STOPPED");
  // The create went out as a same-origin JSON request: the API's browser checks saw it so.
  const create = sent.get(`POST ${base}/connectors/${id}`);
  assert.ok(create, [...sent.keys()].join("\n"));
  assert.equal(create.origin, base);
  assert.equal(create["content-type"], "application/json");
  assert.match(create.authorization ?? "", /^Basic /);

  await clickAction(page, "enable", id);
  await waitForState(page, id, "RUNNING");
  await page.waitForFunction((id) => document.querySelector(`tr[data-id="${id}"] .delivered`)?.textContent === "3",
    { timeout: 20000 }, id);
  await appendOrders(4, 2);
  await page.waitForFunction((id) => document.querySelector(`tr[data-id="${id}"] .delivered`)?.textContent === "5",
    { timeout: 20000 }, id);
  await shot(page, "02-running");
  await page.setViewport({ width: 390, height: 844 });
  await shot(page, "03-phone-width");
  await page.setViewport({ width: 1280, height: 800 });

  await clickAction(page, "disable", id);
  await waitForState(page, id, "STOPPED");
  // Reset to a position, from a dialog; the keyboard confirms it.
  await clickAction(page, "reset", id);
  await page.waitForSelector("#reset-dialog[open]");
  await page.type("#reset-position", "0");
  await page.keyboard.press("Enter");
  await page.waitForFunction((id) => document.getElementById("status").textContent === `Reset ${id}.`, {}, id);
  assert.equal(await page.$eval("#alert", (e) => e.hidden), true);

  // Delete asks first; cancelling keeps the connector.
  await clickAction(page, "delete", id);
  await page.waitForSelector("#delete-dialog[open]");
  assert.equal(await page.evaluate(() => document.activeElement.id), "delete-cancel");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#delete-dialog:not([open])");
  await rowState(page, id);
  await clickAction(page, "delete", id);
  await page.waitForSelector("#delete-dialog[open]");
  await page.click("#delete-confirm");
  await page.waitForFunction((id) => !document.querySelector(`tr[data-id="${id}"]`), {}, id);
  const gone = await nodeCall("GET", `/connectors/${id}`);
  assert.equal(gone.status, 404, gone.text);
  await context.close();
});

test("a secret setting is never shown, nor filled in when editing", async () => {
  const { page, context } = await openPage(OPERATOR);
  const id = "ui-hook";
  await page.click("#new-connector");
  await page.waitForSelector("#editor[open]");
  await page.type("#f-connectorId", id);
  await page.select("#f-instanceTypeName", "http-sink");
  await page.waitForSelector("#s-url");
  await page.type("#s-url", "http://127.0.0.1:9/hook");
  await page.select("#s-authentication_method", "bearer");
  assert.equal(await page.$eval("#s-authentication_bearer_token", (e) => e.type), "password");
  await page.type("#s-authentication_bearer_token", SECRET_TOKEN);
  await page.click("#editor-save");
  await page.waitForSelector("#editor:not([open])");
  await rowState(page, id);

  await clickAction(page, "settings", id);
  await page.waitForSelector("#settings-view[open]");
  const shown = await page.$$eval("#settings-list dt, #settings-list dd", (e) => e.map((x) => x.textContent));
  const i = shown.indexOf("authentication:bearer:token");
  assert.ok(i >= 0, shown.join(" "));
  assert.equal(shown[i + 1], "******");
  await shot(page, "04-settings");
  await page.click("#settings-close");

  await clickAction(page, "edit", id);
  await page.waitForSelector("#editor[open]");
  await page.waitForSelector("#s-authentication_bearer_token");
  assert.equal(await page.$eval("#s-authentication_bearer_token", (e) => e.value), "");
  const everything = await page.evaluate(() => document.documentElement.outerHTML +
    [...document.querySelectorAll("input")].map((i) => i.value).join(" "));
  assert.ok(!everything.includes(SECRET_TOKEN), "the secret reached the page");
  // Saving without typing the secret keeps it (sent back redacted, as the API documents).
  await page.click("#editor-save");
  await page.waitForSelector("#editor:not([open])");
  const settings = JSON.parse((await nodeCall("GET", `/connectors/${id}/settings`)).text).settings;
  assert.equal(settings["authentication:bearer:token"], "******");
  assert.equal(settings["authentication:method"], "bearer");
  await context.close();
});

test("a user who may only read sees a clear message when a change is refused", async () => {
  const { page, context } = await openPage(READER);
  const id = "ui-hook";
  await rowState(page, id);
  await clickAction(page, "enable", id);
  await page.waitForSelector("#alert:not([hidden])");
  const text = await page.$eval("#alert", (e) => e.textContent);
  assert.match(text, /^Not allowed: /);
  assert.match(text, /may read connectors but not change them/);
  await shot(page, "05-forbidden");
  await context.close();
});

test("connectors are paged, and filtered by state and sink type", async () => {
  for (let i = 0; i < 30; i++) {
    const r = await nodeCall("POST", `/connectors/ui-bulk-${String(i).padStart(2, "0")}`, {
      body: JSON.stringify({ settings: { instanceTypeName: "null-sink" } }),
      headers: { "Content-Type": "application/json" },
    });
    assert.equal(r.status, 201, r.text);
  }
  const { page, context } = await openPage(OPERATOR);
  // 30 null sinks and the http sink of the test before.
  await page.waitForFunction(() => document.getElementById("paging-summary").textContent === "1–25 of 31");
  await page.click("#next-page");
  await page.waitForFunction(() => document.getElementById("paging-summary").textContent === "26–31 of 31");
  assert.equal(await page.$$eval("#connectors tbody tr", (r) => r.length), 6);
  await page.select("#filter-type", "http-sink");
  await page.waitForFunction(() => document.getElementById("paging-summary").textContent === "1–1 of 1");
  await rowState(page, "ui-hook");
  await page.select("#filter-type", "");
  await page.select("#filter-state", "RUNNING");
  await page.waitForFunction(() => document.getElementById("paging-summary").textContent === "0–0 of 0");
  await context.close();
});

test("the page's script logged no errors", () => {
  assert.deepEqual(consoleErrors, []);
});
