// End to end: events written by the official client reach a file-sink connector created and
// enabled over the dev node's HTTP API, in order.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { KurrentDBClient, jsonEvent } from "@kurrent/kurrentdb-client";

import { requireNodeModules, startDevnode } from "./devnode.mjs";

requireNodeModules();

let node;
let client;
before(async () => {
  node = await startDevnode();
  client = KurrentDBClient.connectionString`kurrentdb://127.0.0.1:${node.grpcPort}?tls=false`;
});
after(async () => {
  await client?.dispose();
  await node?.stop();
});

async function post(path, body) {
  const res = await fetch(`http://127.0.0.1:${node.httpPort}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `POST ${path}: ${res.status} ${text}`);
  return text;
}

// The sink's JSON lines, once `done(lines)` holds; polls the file until the deadline.
async function waitForLines(path, done, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let lines = [];
  while (Date.now() < deadline) {
    if (existsSync(path)) {
      // Every complete line is JSON; the first is the sink's header ({"esdbFileSink": ...}).
      lines = readFileSync(path, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l))
        .filter((l) => !("esdbFileSink" in l));
      if (done(lines)) return lines;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the file sink did not receive the events in ${timeoutMs} ms; it has: ${JSON.stringify(lines)}`);
}

test("events appended by the official client reach a file-sink connector in order", async () => {
  const stream = `orders-${randomUUID().slice(0, 8)}`;
  const output = join(node.dataDir, "sink.jsonl");
  const id = `compat-${randomUUID().slice(0, 8)}`;
  await client.appendToStream(stream, [0, 1, 2].map((n) => jsonEvent({ type: "order", data: { n } })));
  await post(`/connectors/${id}`, {
    settings: {
      instanceTypeName: "file-sink",
      path: output,
      "subscription:initialPosition": "earliest",
    },
  });
  await post(`/connectors/${id}/enable`);
  await client.appendToStream(stream, [3, 4].map((n) => jsonEvent({ type: "order", data: { n } })));

  const lines = await waitForLines(output, (ls) => ls.filter((l) => l.stream === stream).length >= 5);
  const mine = lines.filter((l) => l.stream === stream);
  assert.deepEqual(mine.map((l) => l.data.n), [0, 1, 2, 3, 4]);
  assert.deepEqual(mine.map((l) => Number(l.revision)), [0, 1, 2, 3, 4]);
  const positions = mine.map((l) => Number(l.position));
  assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
  assert.ok(mine.every((l) => l.eventType === "order"));
});

async function call(method, path, body) {
  const res = await fetch(`http://127.0.0.1:${node.httpPort}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

test("a connector whose stream a client tombstoned shows why, and can be deleted and created again", async () => {
  const id = `victim-${randomUUID().slice(0, 8)}`;
  const stream = `orders-${randomUUID().slice(0, 8)}`;
  const output = join(node.dataDir, `${id}.jsonl`);
  const settings = {
    instanceTypeName: "file-sink",
    path: output,
    "subscription:filter:scope": "stream",
    "subscription:filter:filterType": "prefix",
    "subscription:filter:expression": stream,
    "subscription:initialPosition": "earliest",
  };
  await post(`/connectors/${id}`, { settings });
  await post(`/connectors/${id}/enable`);
  await client.tombstoneStream(`$connectors/${id}`);

  const damaged = await call("GET", `/connectors/${id}`);
  assert.equal(damaged.status, 200);
  assert.equal(damaged.json.state, "FAILED");
  assert.match(damaged.json.errorDetails.message, /was deleted outside the connectors library/);
  const listed = await call("GET", "/connectors?take=1000");
  assert.equal(listed.json.items.find((c) => c.connectorId === id).state, "FAILED");
  const enable = await call("POST", `/connectors/${id}/enable`);
  assert.equal(enable.status, 409, JSON.stringify(enable.json));

  assert.equal((await call("DELETE", `/connectors/${id}`)).status, 200);
  assert.equal((await call("GET", `/connectors/${id}`)).status, 404);
  await post(`/connectors/${id}`, { settings });
  await post(`/connectors/${id}/enable`);
  await client.appendToStream(stream, [0, 1].map((n) => jsonEvent({ type: "order", data: { n } })));
  const lines = await waitForLines(output, (ls) => ls.filter((l) => l.stream === stream).length >= 2);
  assert.deepEqual(lines.filter((l) => l.stream === stream).map((l) => l.data.n), [0, 1]);
  assert.equal((await call("GET", `/connectors/${id}`)).json.state, "RUNNING");
});
