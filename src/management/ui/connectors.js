// The management page: lists connectors and drives them through the documented management API
// (docs/management-api.yaml), from the origin that served the page. Plain DOM, no framework.
// Text from the API is only ever set as textContent or attribute values, never parsed as HTML.
"use strict";

const POLL_MS = 2000;
const RATE_SAMPLES = 30;  // points in a sparkline
// /metrics has every connector that ran on the host, about 1.6 KB each, whatever the page shows:
// 1,000 running connectors make 1.6 MB. Past this size it is read less often, so that a page left
// open costs the host and the network no more than this per POLL_MS on average ...
const METRICS_BYTES_PER_POLL = 128 * 1024;
const METRICS_MAX_MS = 30000;  // ... but it is read at least this often.
const REDACTED = "******";  // how the API shows a secret, and how a client keeps one unchanged

const $ = (id) => document.getElementById(id);

const state = {
  plugins: [],      // GET /connector-plugins: the loaded sinks
  hostSettings: [], // ... and the host entry's settings, but for instanceTypeName and ignored keys
  page: 1,
  total: 0,
  items: [],
  delivered: new Map(),  // connector id -> records delivered, from /metrics
  history: new Map(),    // connector id -> [{t, n}] delivered counts over time
  metricsDue: 0,         // Date.now() from which /metrics is read again
  editing: null,         // null: creating; else {id, settings} of the connector being edited
  pollTimer: 0,
};

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// One call to the API. Changes always carry Content-Type: application/json (the API refuses
// anything else, and a browser must ask first before sending it cross-site); credentials are the
// ones the browser holds for this origin.
async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    if (body !== undefined) init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data && typeof data.message === "string" ? data.message : response.statusText;
    throw new ApiError(response.status, data && data.error, message);
  }
  return data;
}

// What an error means for the person at the page.
function describe(error) {
  if (!(error instanceof ApiError)) return `Cannot reach the server: ${error.message}`;
  if (error.status === 401) {
    return "Not signed in, or the user name and password were refused. Reload the page to sign in again.";
  }
  if (error.status === 403) return `Not allowed: ${error.message}`;
  return `${error.message} (HTTP ${error.status})`;
}

function showAlert(message) {
  const alert = $("alert");
  alert.textContent = message;
  alert.hidden = !message;
}

function announce(message) {
  $("status").textContent = message;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) node.append(c);
  return node;
}

// ---- the list -------------------------------------------------------------------------------

function listUrl() {
  const q = new URLSearchParams();
  q.set("page", String(state.page));
  q.set("pageSize", $("page-size").value);
  if ($("filter-state").value) q.set("state", $("filter-state").value);
  if ($("filter-type").value) q.set("instanceTypeName", $("filter-type").value);
  const host = $("filter-host").value.trim();
  if (host) q.set("host", host);
  return `/connectors?${q}`;
}

// Records delivered per connector, from the Prometheus text of GET /metrics.
function parseDelivered(text) {
  const out = new Map();
  const re = /^esdb_connector_records_delivered_total\{connector="((?:[^"\\]|\\.)*)"\} (\S+)$/gm;
  for (const m of text.matchAll(re)) {
    out.set(m[1].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c)), Number(m[2]));
  }
  return out;
}

async function loadMetrics() {
  if (Date.now() < state.metricsDue) return;
  try {
    const response = await fetch("/metrics", { credentials: "same-origin" });
    if (!response.ok) return;
    const text = await response.text();
    const delivered = parseDelivered(text);
    const now = Date.now();
    // Half a poll early, so that a small /metrics is read on every poll despite timer jitter.
    const wait = Math.min(METRICS_MAX_MS, POLL_MS * Math.max(1, text.length / METRICS_BYTES_PER_POLL));
    state.metricsDue = now + wait - POLL_MS / 2;
    for (const [id, n] of delivered) {
      const h = state.history.get(id) || [];
      h.push({ t: now, n });
      if (h.length > RATE_SAMPLES + 1) h.shift();
      state.history.set(id, h);
    }
    state.delivered = delivered;
  } catch {
    // The metrics are extra: without them the columns say "–".
  }
}

// Records per second between successive samples.
function rates(id) {
  const h = state.history.get(id) || [];
  const out = [];
  for (let i = 1; i < h.length; i++) {
    const dt = (h[i].t - h[i - 1].t) / 1000;
    out.push(dt > 0 ? Math.max(0, (h[i].n - h[i - 1].n) / dt) : 0);
  }
  return out;
}

function sparkline(values) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 60 16");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  if (values.length > 1) {
    const max = Math.max(...values, 1e-9);
    const step = 60 / (values.length - 1);
    const points = values.map((v, i) => `${(i * step).toFixed(1)},${(15 - (v / max) * 14).toFixed(1)}`);
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.join(" "));
    svg.append(line);
  }
  return svg;
}

function actionButton(label, action, connector, disabled) {
  return el("button", {
    type: "button",
    text: label,
    "data-action": action,
    "data-id": connector.connectorId,
    "aria-label": `${label} ${connector.connectorId}`,
    disabled: disabled || undefined,
  });
}

function row(c) {
  const id = c.connectorId;
  const delivered = state.delivered.get(id);
  const r = rates(id);
  const rate = r.length ? r[r.length - 1] : null;
  const who = el("td", { "data-label": "Connector" }, el("div", { class: "id", text: id }));
  if (c.name && c.name !== id) who.append(el("div", { class: "sub", text: c.name }));
  if (c.errorDetails) {
    who.append(el("div", { class: "error", text: `${c.errorDetails.code}: ${c.errorDetails.message}` }));
  }
  if (c.deadLetters && c.deadLetters.count > 0) {
    // lastError is {message, time} (DeadLetterSummary in docs/management-api.yaml).
    const last = c.deadLetters.lastError;
    const box = el("div", { class: "sub dead-letters" },
      el("span", { class: "dead-letter-count",
                   text: `${c.deadLetters.count} dead letter(s) in ${c.deadLetters.stream}` }));
    if (last && last.message) {
      box.append(el("div", { class: "dead-letter-error",
                             text: `Last: ${last.message}${last.time ? ` (${last.time})` : ""}` }));
    }
    who.append(box);
  }
  const running = c.state === "RUNNING" || c.state === "ACTIVATING";
  return el("tr", { "data-id": id },
    who,
    el("td", { "data-label": "Sink", text: c.instanceTypeName }),
    el("td", { "data-label": "State" }, el("span", { class: `state state-${c.state}`, text: c.state })),
    el("td", { "data-label": "Host", text: c.host ?? "–" }),
    el("td", { class: "num", "data-label": "Position", text: c.position ?? "–" }),
    el("td", { class: "num", "data-label": "Lag", text: c.lag ?? "–" }),
    el("td", { class: "num delivered", "data-label": "Delivered", text: delivered ?? "–" }),
    el("td", { "data-label": "Rate" }, sparkline(r),
      el("span", { class: "sub", text: rate === null ? "" : ` ${rate.toFixed(1)}/s` })),
    el("td", { class: "actions" },
      actionButton("Enable", "enable", c, running),
      actionButton("Disable", "disable", c, !running),
      actionButton("Reset", "reset", c, running),
      actionButton("Settings", "settings", c),
      actionButton("Edit", "edit", c),
      actionButton("Delete", "delete", c)));
}

function render() {
  // A refresh must not take the keyboard focus away from the button it was on.
  const focused = document.activeElement;
  const focusKey = focused && focused.dataset && focused.dataset.action
    ? [focused.dataset.action, focused.dataset.id] : null;
  const body = $("connectors").tBodies[0];
  body.replaceChildren(...state.items.map(row));
  if (state.items.length === 0) {
    body.append(el("tr", {}, el("td", { colspan: 9, text: "No connectors match." })));
  }
  if (focusKey) {
    const again = [...body.querySelectorAll("button")].find(
      (b) => b.dataset.action === focusKey[0] && b.dataset.id === focusKey[1]);
    if (again) again.focus();
  }
  const size = Number($("page-size").value);
  const first = state.total === 0 ? 0 : (state.page - 1) * size + 1;
  const last = Math.min(state.total, (state.page - 1) * size + state.items.length);
  $("paging-summary").textContent = `${first}–${last} of ${state.total}`;
  $("prev-page").disabled = state.page <= 1;
  $("next-page").disabled = last >= state.total;
}

async function refresh() {
  clearTimeout(state.pollTimer);
  try {
    const [list] = await Promise.all([api("GET", listUrl()), loadMetrics()]);
    state.items = list.items;
    state.total = list.totalSize ?? list.total ?? list.items.length;
    const size = Number($("page-size").value);
    if (state.items.length === 0 && state.page > 1 && state.total > 0) {
      state.page = Math.ceil(state.total / size);
      return refresh();
    }
    render();
    document.body.dataset.loaded = "true";
  } catch (e) {
    showAlert(describe(e));
  } finally {
    clearTimeout(state.pollTimer);  // calls that overlap leave one timer, not one each
    state.pollTimer = setTimeout(refresh, POLL_MS);
  }
}

// ---- actions --------------------------------------------------------------------------------

async function act(what, call) {
  try {
    await call();
    showAlert("");
    announce(what);
  } catch (e) {
    showAlert(describe(e));
    return false;
  }
  await refresh();
  return true;
}

const enc = encodeURIComponent;

function onTableClick(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const id = button.dataset.id;
  switch (button.dataset.action) {
    case "enable":
      act(`Enabled ${id}.`, () => api("POST", `/connectors/${enc(id)}/enable`));
      break;
    case "disable":
      act(`Disabled ${id}.`, () => api("POST", `/connectors/${enc(id)}/disable`));
      break;
    case "reset":
      openReset(id, button);
      break;
    case "settings":
      openSettings(id, button);
      break;
    case "edit":
      openEditor(id, button);
      break;
    case "delete":
      openDelete(id, button);
      break;
  }
}

// Opens a modal dialog; focus returns to `opener` when it closes.
function openDialog(dialog, opener) {
  dialog.addEventListener("close", () => opener && opener.isConnected && opener.focus(), { once: true });
  dialog.showModal();
}

function openReset(id, opener) {
  const dialog = $("reset-dialog");
  dialog.dataset.id = id;
  $("reset-title").textContent = `Reset ${id}`;
  $("reset-position").value = "";
  openDialog(dialog, opener);
}

async function onReset(event) {
  event.preventDefault();
  const dialog = $("reset-dialog");
  const id = dialog.dataset.id;
  const position = $("reset-position").value.trim();
  const path = `/connectors/${enc(id)}/reset${position ? `/${enc(position)}` : ""}`;
  dialog.close();
  await act(`Reset ${id}.`, () => api("POST", path));
}

function openDelete(id, opener) {
  const dialog = $("delete-dialog");
  dialog.dataset.id = id;
  $("delete-question").textContent =
    `Delete connector ${id}? It stops delivering and its settings are removed.`;
  openDialog(dialog, opener);
  $("delete-cancel").focus();
}

async function onDelete() {
  const dialog = $("delete-dialog");
  const id = dialog.dataset.id;
  dialog.close();
  await act(`Deleted ${id}.`, () => api("DELETE", `/connectors/${enc(id)}`));
}

async function openSettings(id, opener) {
  try {
    const data = await api("GET", `/connectors/${enc(id)}/settings`);
    const list = $("settings-list");
    list.replaceChildren();
    // Secrets arrive redacted; they are shown as the API sends them.
    for (const key of Object.keys(data.settings).sort()) {
      list.append(el("dt", { text: key }), el("dd", { text: data.settings[key] }));
    }
    $("settings-title").textContent = `Settings of ${id}`;
    openDialog($("settings-view"), opener);
  } catch (e) {
    showAlert(describe(e));
  }
}

// ---- the create and edit form ---------------------------------------------------------------

function fieldId(name) {
  return `s-${name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

// One labelled input for a setting, its description as help text and a slot for the API's
// complaint about it.
function settingField(s, value, storedSecret) {
  const id = fieldId(s.name);
  const help = `${id}-help`;
  const error = `${id}-error`;
  let input;
  if (s.type === "enum" || s.type === "bool") {
    const values = s.type === "bool" ? ["true", "false"] : s.values || [];
    input = el("select", {});
    if (!s.required) {
      input.append(el("option", { value: "", text: s.default != null ? `default (${s.default})` : "not set" }));
    }
    for (const v of values) input.append(el("option", { value: v, text: v }));
  } else if (s.secret) {
    // Never filled in: an empty secret field keeps the stored secret.
    input = el("input", { type: "password", autocomplete: "new-password",
                          placeholder: storedSecret ? "unchanged unless typed" : "" });
  } else {
    input = el("input", { type: "text", autocomplete: "off", spellcheck: "false",
                          inputmode: s.type === "int" ? "numeric" : s.type === "number" ? "decimal" : undefined,
                          placeholder: s.default != null ? `default: ${s.default}` : "" });
  }
  input.id = id;
  input.name = s.name;
  input.dataset.setting = s.name;
  if (s.secret) input.dataset.secret = "true";
  if (s.required) input.required = true;
  input.setAttribute("aria-describedby", `${help} ${error}`);
  if (!s.secret && value !== undefined) input.value = value;
  const label = el("label", { for: id }, el("span", { text: s.name }));
  if (s.required) label.append(el("span", { class: "required", "aria-hidden": "true", text: " *" }));
  if (s.secret) label.append(el("span", { class: "help", text: " (secret)" }));
  return el("div", { class: "field" }, label, input,
    el("p", { class: "help", id: help, text: s.description || "" }),
    el("p", { class: "field-error", id: error, "aria-live": "polite" }));
}

function pluginNamed(name) {
  return state.plugins.find((p) => p.name === name);
}

function buildSettingsFields() {
  const plugin = pluginNamed($("f-instanceTypeName").value);
  const stored = state.editing ? state.editing.settings : {};
  $("plugin-description").textContent = plugin ? plugin.description : "";
  const pluginBox = $("plugin-settings");
  pluginBox.replaceChildren(el("legend", { text: `Sink settings${plugin ? ` (${plugin.name} ${plugin.version})` : ""}` }));
  for (const s of plugin ? plugin.settings : []) {
    pluginBox.append(settingField(s, stored[s.name], stored[s.name] === REDACTED));
  }
  const hostBox = $("host-settings");
  hostBox.replaceChildren(el("legend", { class: "visually-hidden", text: "Host settings" }));
  for (const s of state.hostSettings) hostBox.append(settingField(s, stored[s.name], false));
}

async function loadPlugins() {
  // The list holds the host's own settings ("kind": "host") and refused plugin files too
  // ("loaded": false); only loaded sinks can be chosen.
  const all = await api("GET", "/connector-plugins");
  const host = all.find((p) => p.kind === "host");
  state.hostSettings = (host ? host.settings : [])
    .filter((s) => !s.ignored && s.name !== "instanceTypeName");
  state.plugins = all.filter((p) => p.kind !== "host" && p.loaded !== false);
  const select = $("f-instanceTypeName");
  const filter = $("filter-type");
  for (const p of state.plugins) {
    select.append(el("option", { value: p.name, text: p.name }));
    filter.append(el("option", { value: p.name, text: p.name }));
  }
}

function clearFieldErrors() {
  for (const e of document.querySelectorAll("#editor .field-error")) {
    e.textContent = "";
    if (e.id === "editor-error") e.hidden = true;
  }
  for (const i of document.querySelectorAll("#editor [aria-invalid]")) i.removeAttribute("aria-invalid");
}

async function openEditor(id, opener) {
  clearFieldErrors();
  state.editing = null;
  if (id) {
    try {
      const [c, data] = await Promise.all([
        api("GET", `/connectors/${enc(id)}`), api("GET", `/connectors/${enc(id)}/settings`)]);
      state.editing = { id, name: c.name, settings: data.settings };
    } catch (e) {
      showAlert(describe(e));
      return;
    }
  }
  const editing = state.editing;
  $("editor-title").textContent = editing ? `Edit ${id}` : "New connector";
  $("f-connectorId").value = editing ? id : "";
  $("f-connectorId").disabled = !!editing;
  $("f-name").value = editing && editing.name !== id ? editing.name : "";
  $("f-instanceTypeName").value = editing ? editing.settings.instanceTypeName : state.plugins[0]?.name ?? "";
  $("f-instanceTypeName").disabled = !!editing;
  buildSettingsFields();
  openDialog($("editor"), opener);
  (editing ? $("f-name") : $("f-connectorId")).focus();
}

// The settings the form says, as the API takes them: only fields given, secrets left empty kept
// as they are stored (sent back redacted), stored keys the form has no field for kept too.
function formSettings() {
  const settings = { instanceTypeName: $("f-instanceTypeName").value };
  const stored = state.editing ? state.editing.settings : {};
  const shown = new Set(["instanceTypeName"]);
  for (const input of document.querySelectorAll("#editor [data-setting]")) {
    const name = input.dataset.setting;
    shown.add(name);
    const value = input.value.trim();
    if (value !== "") settings[name] = input.dataset.secret ? input.value : value;
    else if (input.dataset.secret && stored[name] === REDACTED) settings[name] = REDACTED;
  }
  for (const [k, v] of Object.entries(stored)) {
    if (!shown.has(k)) settings[k] = v;
  }
  return settings;
}

// Puts the API's complaint next to the field it names ("path: ..." or "... 'path' ..."), or
// above the form when it names none.
function showFieldError(message) {
  const inputs = [...document.querySelectorAll("#editor input[name], #editor select[name]")];
  inputs.sort((a, b) => b.name.length - a.name.length);
  const named = inputs.find((i) => message.startsWith(`${i.name}:`) || message.startsWith(`${i.name} `)) ||
    inputs.find((i) => message.includes(`'${i.name}'`));
  if (named) {
    const slot = named.dataset.setting ? $(`${named.id}-error`) : $("editor-error");
    slot.textContent = message;
    slot.hidden = false;
    named.setAttribute("aria-invalid", "true");
    named.closest("details")?.setAttribute("open", "");
    named.focus();
  } else {
    $("editor-error").textContent = message;
    $("editor-error").hidden = false;
  }
}

async function onSave(event) {
  event.preventDefault();
  clearFieldErrors();
  const editing = state.editing;
  const id = editing ? editing.id : $("f-connectorId").value.trim();
  if (!id) {
    showFieldError("connectorId: a connector id is required");
    return;
  }
  const settings = formSettings();
  const name = $("f-name").value.trim();
  try {
    if (editing) {
      await api("PUT", `/connectors/${enc(id)}/settings`, { settings });
      const newName = name || id;
      if (newName !== editing.name) await api("PUT", `/connectors/${enc(id)}/rename`, { name: newName });
    } else {
      await api("POST", `/connectors/${enc(id)}`, { name: name || undefined, settings });
    }
  } catch (e) {
    if (e instanceof ApiError && (e.status === 400 || e.status === 409)) showFieldError(e.message);
    else showFieldError(describe(e));
    return;
  }
  $("editor").close();
  showAlert("");
  announce(editing ? `Saved ${id}.` : `Created ${id}.`);
  await refresh();
}

// ---- start ----------------------------------------------------------------------------------

function onFilterChange() {
  state.page = 1;
  refresh();
}

async function start() {
  $("connectors").tBodies[0].addEventListener("click", onTableClick);
  $("new-connector").addEventListener("click", (e) => openEditor(null, e.currentTarget));
  $("editor-form").addEventListener("submit", onSave);
  $("editor-cancel").addEventListener("click", () => $("editor").close());
  $("f-instanceTypeName").addEventListener("change", buildSettingsFields);
  $("settings-close").addEventListener("click", () => $("settings-view").close());
  $("reset-form").addEventListener("submit", onReset);
  $("reset-cancel").addEventListener("click", () => $("reset-dialog").close());
  $("delete-confirm").addEventListener("click", onDelete);
  $("delete-cancel").addEventListener("click", () => $("delete-dialog").close());
  $("prev-page").addEventListener("click", () => { state.page--; refresh(); });
  $("next-page").addEventListener("click", () => { state.page++; refresh(); });
  for (const id of ["filter-state", "filter-type", "page-size"]) $(id).addEventListener("change", onFilterChange);
  $("filter-host").addEventListener("change", onFilterChange);
  try {
    await loadPlugins();
  } catch (e) {
    showAlert(describe(e));
  }
  await refresh();
}

start();
