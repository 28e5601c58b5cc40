// The management page end to end: a secure esdb-devnode (TLS with a CA made for the run, users
// from a users file), the page in headless Chromium (Debian's chromium, driven by puppeteer-core),
// as an operator and as a user who may only read, with a receiver in this process that refuses
// records holding "poison" (HTTP 400) for the http-sink connectors whose failures the page shows.
// Screenshots go to ESDB_UI_OUTPUT_DIR.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { Agent, request } from "node:https";
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
let receiver;
let receiverUrl;
const consoleErrors = [];
// Every response of 400 or more the pages got ("STATUS METHOD path"), and every request that
// failed outright: the last test compares them with the refusals the tests provoked on purpose,
// so a missing script, style sheet or image fails the run.
const failedResponses = [];
const expectedFailures = new Set();  // each must have been seen
const allowedFailures = new Set();   // may have been seen
// One kept-alive connection pool for the test's own calls, so that many parallel ones are cheap.
let agent;

// An HTTP call to the node from the test itself (not the page), as the operator.
function nodeCall(method, path, { body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const auth = Buffer.from(`${OPERATOR.username}:${OPERATOR.password}`).toString("base64");
    const req = request(`${base}${path}`, {
      method,
      agent,
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
  page.on("response", (r) => {
    if (r.status() >= 400) {
      failedResponses.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
    }
  });
  page.on("requestfailed", (r) => {
    // A cancelled request (a poll cut short by closing the page, a refused script's body) is no
    // failure of its own: what made it fail is seen as a status above or a console error.
    const why = r.failure()?.errorText;
    if (why !== "net::ERR_ABORTED") failedResponses.push(`failed ${r.method()} ${new URL(r.url()).pathname}: ${why}`);
  });
  page.on("console", (m) => {
    // Chromium logs every 4xx as "Failed to load resource": the responses themselves are
    // checked above (failedResponses); anything else at error level comes from the page's script.
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

// The http-sink's other end: 400 (a refusal for good) for a delivery holding "poison", else 200.
function startReceiver() {
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => { body += c; });
      req.on("end", () => {
        const refused = body.includes("poison");
        res.writeHead(refused ? 400 : 200, { "Content-Type": "text/plain" });
        res.end(refused ? "refused: this record is poison" : "ok");
      });
    });
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

async function createConnector(id, settings) {
  const r = await nodeCall("POST", `/connectors/${id}`, {
    body: JSON.stringify({ settings }),
    headers: { "Content-Type": "application/json" },
  });
  assert.equal(r.status, 201, r.text);
}

function rowText(page, id, selector) {
  return page.$eval(`tr[data-id="${id}"] ${selector}`, (e) => e.textContent);
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

// At this window size the page needs no sideways scrolling.
async function assertFitsWidth(page, width, height, name) {
  await page.setViewport({ width, height });
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
  assert.ok(scrollWidth <= innerWidth, `${name}: ${scrollWidth} px wide in a ${innerWidth} px window`);
  await shot(page, name);
}

// Every input, select and textarea of the whole document has a label (its own <label for> or
// an enclosing one).
async function assertAllLabelled(page) {
  const unlabelled = await page.$$eval("input, select, textarea",
    (inputs) => inputs.filter((i) => i.labels.length === 0).map((i) => i.id || i.name || i.outerHTML));
  assert.deepEqual(unlabelled, []);
}

// The editor's field for each setting says what the settings table of GET /connector-plugins
// says: a required mark exactly on required settings, the description as help text, the default
// as the empty choice of a select (or the placeholder of a text field), enum values as options
// and secrets as password inputs.
async function assertFieldsFollow(page, settings) {
  const fields = await page.evaluate((names) => names.map((name) => {
    const id = `s-${name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const input = document.getElementById(id);
    if (!input) return { name, missing: true };
    const label = document.querySelector(`label[for="${id}"]`);
    return {
      name,
      tag: input.tagName.toLowerCase(),
      type: input.type,
      required: input.required,
      marked: !!label?.querySelector(".required"),
      help: document.getElementById(`${id}-help`)?.textContent,
      describedBy: (input.getAttribute("aria-describedby") || "").split(" "),
      helpId: `${id}-help`,
      placeholder: input.getAttribute("placeholder"),
      options: input.tagName === "SELECT" ? [...input.options].map((o) => [o.value, o.textContent]) : null,
    };
  }), settings.map((s) => s.name));
  for (const [i, s] of settings.entries()) {
    const f = fields[i];
    assert.ok(!f.missing, `no field for ${s.name}`);
    assert.equal(f.required, !!s.required, `${s.name}: required`);
    assert.equal(f.marked, !!s.required, `${s.name}: required mark`);
    assert.equal(f.help, s.description || "", `${s.name}: help text`);
    assert.ok(f.describedBy.includes(f.helpId), `${s.name}: help text not tied to the field`);
    if (s.secret) assert.equal(f.type, "password", `${s.name}: secret`);
    if (s.type === "enum" || s.type === "bool") {
      assert.equal(f.tag, "select", `${s.name}: a select`);
      const values = f.options.filter(([v]) => v !== "").map(([v]) => v);
      assert.deepEqual(values, s.type === "bool" ? ["true", "false"] : s.values, `${s.name}: options`);
      if (!s.required) {
        const empty = s.default != null ? `default (${s.default})` : "not set";
        assert.deepEqual(f.options[0], ["", empty], `${s.name}: default option`);
      }
    } else if (!s.secret && s.default != null) {
      assert.equal(f.placeholder, `default: ${s.default}`, `${s.name}: default`);
    }
  }
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
  agent = new Agent({ keepAlive: true, maxSockets: 32, ca: readFileSync(node.caFile) });
  receiver = await startReceiver();
  receiverUrl = `http://127.0.0.1:${receiver.address().port}/ingest`;
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", `--ignore-certificate-errors-spki-list=${spkiHash(join(node.dataDir, "node.crt"))}`],
  });
});

after(async () => {
  await browser?.close();
  await node?.stop();
  agent?.destroy();
  receiver?.closeAllConnections();
  receiver?.close();
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
  await page.type("#f-connectorId", id);
  await page.select("#f-instanceTypeName", "file-sink");
  await page.waitForSelector("#s-path");
  await assertAllLabelled(page);
  // The form is the settings table: file-sink's and the host's. Among them a required setting
  // (path) and selects with a default (errors:tolerance, whose default is none).
  const listed = JSON.parse((await nodeCall("GET", "/connector-plugins")).text);
  const fileSink = listed.find((p) => p.name === "file-sink").settings;
  const hostSettings = listed.find((p) => p.kind === "host").settings
    .filter((s) => !s.ignored && s.name !== "instanceTypeName");
  assert.ok(fileSink.some((s) => s.name === "path" && s.required), JSON.stringify(fileSink));
  assert.ok(hostSettings.some((s) => s.name === "errors:tolerance" && s.default === "none"));
  await assertFieldsFollow(page, [...fileSink, ...hostSettings]);
  assert.equal(await page.$eval("label[for=s-path] .required", (e) => e.textContent.trim()), "*");
  assert.equal(await page.$eval("#s-errors_tolerance option", (e) => e.textContent), "default (none)");
  // A file outside the node's sink file root: the API's message appears next to the path field.
  await page.type("#s-path", "/etc/ui-test-outside.jsonl");
  await page.click("#editor-save");
  await page.waitForFunction(() => document.getElementById("s-path-error").textContent.includes("outside the sink file root"));
  expectedFailures.add(`400 POST /connectors/${id}`);
  assert.equal(await page.$eval("#s-path", (e) => e.getAttribute("aria-invalid")), "true");
  await shot(page, "01-validation-error");

  await setField(page, "#s-path", join(node.dataDir, "ui-orders.jsonl"));
  await page.click("#editor details summary");
  // The host's fields are the host entry of GET /connector-plugins (its ignored keys left out):
  // the same table that checks them.
  const hostKeys = hostSettings.map((s) => s.name);
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
  const stateColour = (id) => page.$eval(`tr[data-id="${id}"] .state`,
    (e) => ({ class: e.className, background: getComputedStyle(e).backgroundColor }));
  const stopped = await stateColour(id);
  assert.equal(stopped.class, "state state-STOPPED");
  // A stopped connector runs nowhere.
  assert.equal(await rowText(page, id, "td[data-label=Host]"), "–");
  // The create went out as a same-origin JSON request: the API's browser checks saw it so.
  const create = sent.get(`POST ${base}/connectors/${id}`);
  assert.ok(create, [...sent.keys()].join("\n"));
  assert.equal(create.origin, base);
  assert.equal(create["content-type"], "application/json");
  assert.match(create.authorization ?? "", /^Basic /);

  await clickAction(page, "enable", id);
  await waitForState(page, id, "RUNNING");
  // The state is written and coloured: its own class, and a colour other than STOPPED's.
  const running = await stateColour(id);
  assert.equal(running.class, "state state-RUNNING");
  assert.notEqual(running.background, stopped.background);
  assert.notEqual(running.background, "rgba(0, 0, 0, 0)");
  await page.waitForFunction((id) => document.querySelector(`tr[data-id="${id}"] .delivered`)?.textContent === "3",
    { timeout: 20000 }, id);
  await appendOrders(4, 2);
  await page.waitForFunction((id) => document.querySelector(`tr[data-id="${id}"] .delivered`)?.textContent === "5",
    { timeout: 20000 }, id);
  // Host and lag are the API's: the dev node's member id, and a number of log positions.
  await page.waitForFunction((id) => document.querySelector(`tr[data-id="${id}"] td[data-label=Host]`)
    ?.textContent === "devnode", { timeout: 20000 }, id);
  const lag = await rowText(page, id, "td[data-label=Lag]");
  assert.match(lag, /^\d+$/);
  assert.match(await rowText(page, id, "td[data-label=Position]"), /^\d+$/);
  // The delivery-rate sparkline: a line once three samples of /metrics give two rates.
  await page.waitForSelector(`tr[data-id="${id}"] svg.spark polyline`, { timeout: 20000 });
  const points = await page.$eval(`tr[data-id="${id}"] svg.spark polyline`, (e) => e.getAttribute("points"));
  assert.ok(points.split(" ").length >= 2, points);
  assert.match(await rowText(page, id, "td[data-label=Rate]"), /\d+\.\d\/s$/);
  await shot(page, "02-running");
  await assertFitsWidth(page, 390, 844, "03-phone-width");
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
  expectedFailures.add("403 POST /connectors/ui-hook/enable");
  await shot(page, "05-forbidden");
  await context.close();
});

test("a failed connector shows its error, one that sets records aside its dead letters", async () => {
  // Both read the parcel-* streams and send them to the receiver, which refuses the poison for
  // good (400): without errors:tolerance the connector fails (and stays failed, restart:policy
  // never); with errors:tolerance=all the record goes to the dead-letter stream and it runs on.
  const common = {
    instanceTypeName: "http-sink",
    url: receiverUrl,
    "subscription:filter:filterType": "prefix",
    "subscription:filter:expression": "parcel-",
    "subscription:initialPosition": "earliest",
  };
  await createConnector("ui-failing", { ...common, "restart:policy": "never" });
  await createConnector("ui-dead", { ...common, "errors:tolerance": "all" });
  for (const [stream, data] of [["parcel-1", { good: 1 }], ["parcel-2", { poison: true }], ["parcel-3", { good: 3 }]]) {
    const r = await nodeCall("POST", `/streams/${stream}`, {
      body: JSON.stringify(data),
      headers: { "Content-Type": "application/json", "ES-EventType": "Parcel" },
    });
    assert.equal(r.status, 201, r.text);
  }
  const { page, context } = await openPage(OPERATOR);
  await clickAction(page, "enable", "ui-failing");
  await waitForState(page, "ui-failing", "FAILED");
  await clickAction(page, "enable", "ui-dead");
  await waitForState(page, "ui-dead", "RUNNING");

  // The error details: the API's code and message, the sink's 400 and the receiver's words.
  await page.waitForSelector('tr[data-id="ui-failing"] .error');
  const error = await rowText(page, "ui-failing", ".error");
  assert.match(error, /^connector-failed: /);
  assert.match(error, /400/);
  assert.match(error, /refused: this record is poison/);
  const failed = await page.$eval('tr[data-id="ui-failing"] .state', (e) => e.className);
  assert.equal(failed, "state state-FAILED");

  // The dead letters: how many, where, and the last error's message and time (not an object).
  await page.waitForFunction(() => document.querySelector('tr[data-id="ui-dead"] .dead-letter-error'),
    { timeout: 20000 });
  const api = JSON.parse((await nodeCall("GET", "/connectors/ui-dead")).text).deadLetters;
  assert.equal(api.count, 1, JSON.stringify(api));
  assert.equal(await rowText(page, "ui-dead", ".dead-letter-count"), `1 dead letter(s) in ${api.stream}`);
  const last = await rowText(page, "ui-dead", ".dead-letter-error");
  assert.equal(last, `Last: ${api.lastError.message} (${api.lastError.time})`);
  assert.match(last, /refused: this record is poison/);
  assert.doesNotMatch(await rowText(page, "ui-dead", "td[data-label=Connector]"), /\[object Object\]/);
  await page.waitForFunction(() => document.querySelector('tr[data-id="ui-dead"] .delivered')?.textContent === "2",
    { timeout: 20000 });
  await shot(page, "06-failed-and-dead-letters");

  // The host filter: only the connectors running on that host.
  const rows = () => page.$$eval("#connectors tbody tr[data-id]", (r) => r.map((x) => x.dataset.id));
  await setField(page, "#filter-host", "devnode");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => !document.querySelector('tr[data-id="ui-failing"]'));
  assert.deepEqual(await rows(), ["ui-dead"]);
  await setField(page, "#filter-host", "some-other-host");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.getElementById("paging-summary").textContent === "0–0 of 0");
  assert.deepEqual(await rows(), []);
  await setField(page, "#filter-host", "");
  await page.keyboard.press("Enter");
  await page.waitForSelector('tr[data-id="ui-failing"]');
  assert.deepEqual((await rows()).sort(), ["ui-dead", "ui-failing", "ui-hook"]);
  await context.close();
});

test("the page is readable at 1280x800 and at a phone's width, with every field labelled", async () => {
  const { page, context } = await openPage(OPERATOR);
  await page.waitForSelector('tr[data-id="ui-dead"] .dead-letter-error');
  await page.waitForSelector('tr[data-id="ui-failing"] .error');
  await assertFitsWidth(page, 1280, 800, "07-desktop");
  await assertFitsWidth(page, 390, 844, "08-phone-list");
  await assertAllLabelled(page);
  // The editor, with a plugin's fields, at both widths.
  await page.click("#new-connector");
  await page.waitForSelector("#editor[open]");
  await page.select("#f-instanceTypeName", "http-sink");
  await page.waitForSelector("#s-url");
  await page.click("#editor details summary");
  await assertAllLabelled(page);
  await assertFitsWidth(page, 390, 844, "09-phone-editor");
  await assertFitsWidth(page, 1280, 800, "10-desktop-editor");
  await context.close();
});

test("a refused sign-in shows the page's own message", async () => {
  const { page, context } = await openPage(OPERATOR);
  // From now on the page's calls carry a wrong password, and so does the answer to the 401.
  const wrong = Buffer.from(`${OPERATOR.username}:not-the-password`).toString("base64");
  await page.authenticate({ username: OPERATOR.username, password: "not-the-password" });
  await page.setExtraHTTPHeaders({ Authorization: `Basic ${wrong}` });
  await page.waitForSelector("#alert:not([hidden])", { timeout: 10000 });
  assert.equal(await page.$eval("#alert", (e) => e.textContent),
    "Not signed in, or the user name and password were refused. Reload the page to sign in again.");
  expectedFailures.add("401 GET /connectors");
  allowedFailures.add("401 GET /metrics");  // the page may not have asked for it since
  await shot(page, "11-unauthorized");
  await context.close();
});

const BULK = 1000;

test(`${BULK} connectors are paged, and filtered by state and sink type`, async () => {
  // Created in parallel through the API; they are never enabled.
  const started = Date.now();
  const ids = Array.from({ length: BULK }, (_, i) => `ui-bulk-${String(i).padStart(4, "0")}`);
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(ids.slice(i, i + 50).map((id) => createConnector(id, { instanceTypeName: "null-sink" })));
  }
  console.log(`created ${BULK} connectors in ${Date.now() - started} ms`);
  const { page, context } = await openPage(OPERATOR);
  const summary = (text) => page.waitForFunction(
    (text) => document.getElementById("paging-summary").textContent === text, {}, text);
  // The bulk and the three http sinks of the tests before.
  await summary(`1–25 of ${BULK + 3}`);
  assert.equal(await page.$eval("#prev-page", (b) => b.disabled), true);
  await page.select("#filter-type", "null-sink");
  await summary(`1–25 of ${BULK}`);
  await page.select("#page-size", "100");
  await summary(`1–100 of ${BULK}`);
  assert.equal(await page.$$eval("#connectors tbody tr", (r) => r.length), 100);
  for (let first = 101; first <= BULK; first += 100) {
    await page.click("#next-page");
    await summary(`${first}–${Math.min(first + 99, BULK)} of ${BULK}`);
  }
  // The last page: its rows are the last connectors, and there is no next page.
  assert.equal(await page.$eval("#next-page", (b) => b.disabled), true);
  const lastRows = await page.$$eval("#connectors tbody tr[data-id]", (r) => r.map((x) => x.dataset.id));
  assert.deepEqual(lastRows, ids.slice(BULK - 100));
  await shot(page, "12-last-page");
  await page.click("#prev-page");
  await summary(`${BULK - 199}–${BULK - 100} of ${BULK}`);

  await page.select("#filter-type", "http-sink");
  await summary("1–3 of 3");
  await page.select("#filter-state", "STOPPED");
  await summary("1–1 of 1");
  await rowState(page, "ui-hook");
  await page.select("#filter-type", "");
  await page.select("#filter-state", "FAILED");
  await summary("1–1 of 1");
  await rowState(page, "ui-failing");
  await context.close();
});

test("the page's script logged no errors, and nothing it loaded failed", () => {
  // Nothing failed but the refusals the tests provoked (not a missing file, not a bad call).
  const unexpected = failedResponses.filter((f) => !expectedFailures.has(f) && !allowedFailures.has(f));
  assert.deepEqual({ consoleErrors, unexpected }, { consoleErrors: [], unexpected: [] });
  // ... and each of those was seen, so the watch on responses works.
  for (const f of expectedFailures) assert.ok(failedResponses.includes(f), `${f} was expected`);
});
