// The compatibility checks both official Node.js clients must pass against esdb-devnode.
// Each client module is wrapped in a small adapter for the few names that differ between them.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";

import { requireNodeModules, startDevnode } from "./devnode.mjs";

// Fails (never hangs) when `promise` takes longer than `ms`.
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The first `n` resolved events of a subscription, then unsubscribes. `seen(events)` is called
// with the events so far after each one.
export async function take(subscription, n, what, ms = 20000, seen = () => {}) {
  const events = [];
  try {
    await withTimeout((async () => {
      for await (const resolved of subscription) {
        events.push(resolved.event);
        seen(events);
        if (events.length >= n) break;
      }
    })(), ms, `${n} events of ${what} (got ${events.length})`);
  } finally {
    await subscription.unsubscribe();
  }
  return events;
}

async function collect(iterable) {
  const out = [];
  for await (const resolved of iterable) out.push(resolved.event);
  return out;
}

async function rejectsWith(promiseOrFn, errorClass, message) {
  await assert.rejects(promiseOrFn, (err) => {
    assert.ok(err instanceof errorClass, `${message}: expected ${errorClass.name}, got ${err?.constructor?.name}: ${err?.message}`);
    return true;
  });
}

// adapter: { lib, connect(port, tls), appendExpect(state) -> append options, deleteExpect(state) }
// where connect's `tls` is null (an --insecure node, tls=false) or { caFile, user, password } (a
// secure node: TLS with that CA, those credentials). The same checks run against both.
export function clientSuite(name, adapter) {
  suiteAgainst(name, adapter, false);
  suiteAgainst(name, adapter, true);
}

function suiteAgainst(name, adapter, secure) {
  requireNodeModules();
  const { lib } = adapter;
  const { jsonEvent, binaryEvent, FORWARDS, BACKWARDS, START, END, ANY, NO_STREAM,
          STREAM_EXISTS, streamNameFilter, eventTypeFilter } = lib;
  const run = `${name}-${randomUUID().slice(0, 8)}`;
  const stream = (what) => `${run}-${what}`;
  const as = (user, password) => (secure ? { caFile: node.caFile, user, password } : null);
  let node;

  describe(`${name} against esdb-devnode, ${secure ? "secure (TLS, admin credentials)" : "--insecure"}`, () => {
    let client;
    before(async () => {
      node = await startDevnode({ secure });
      client = adapter.connect(node.grpcPort, as("admin", "changeit"));
    });
    after(async () => {
      await client?.dispose();
      await node?.stop();
    });

    if (secure) {
      test("without credentials the node refuses; ops may not read $all", async () => {
        const anonymous = adapter.connect(node.grpcPort, as("", ""));
        const ops = adapter.connect(node.grpcPort, as("ops", "changeit"));
        try {
          await assert.rejects(
            () => anonymous.appendToStream(stream("anon"), jsonEvent({ type: "e", data: {} })),
            (err) => /UNAUTHENTICATED|credentials/i.test(`${err?.message}`),
            "an anonymous append");
          await ops.appendToStream(stream("ops"), jsonEvent({ type: "e", data: {} }));
          await rejectsWith(() => collect(ops.readAll({ maxCount: 10 })), lib.AccessDeniedError,
                            "ops reading $all");
          await rejectsWith(() => collect(ops.readStream("$connectors")), lib.AccessDeniedError,
                            "ops reading $connectors");
        } finally {
          await anonymous.dispose();
          await ops.dispose();
        }
      });
    }

    test("appends JSON and binary events and reads them forwards", async () => {
      const s = stream("basic");
      const jsonId = randomUUID();
      const binId = randomUUID();
      const result = await client.appendToStream(s, [
        jsonEvent({ id: jsonId, type: "order-placed", data: { order: 1, items: ["a", "b"] },
                    metadata: { by: "compat" } }),
        binaryEvent({ id: binId, type: "blob", data: Uint8Array.from([0, 1, 2, 255]) }),
      ], adapter.appendExpect(NO_STREAM));
      assert.equal(result.success, true);
      assert.equal(result.nextExpectedRevision, 1n);
      assert.ok(result.position.commit > 0n);

      const events = await collect(client.readStream(s, { direction: FORWARDS, fromRevision: START, maxCount: 10 }));
      assert.equal(events.length, 2);
      assert.deepEqual(events.map((e) => e.revision), [0n, 1n]);
      assert.deepEqual(events.map((e) => e.id), [jsonId, binId]);
      assert.deepEqual(events.map((e) => e.type), ["order-placed", "blob"]);
      assert.equal(events[0].isJson, true);
      assert.deepEqual(events[0].data, { order: 1, items: ["a", "b"] });
      assert.deepEqual(events[0].metadata, { by: "compat" });
      assert.equal(events[1].isJson, false);
      assert.deepEqual(Array.from(events[1].data), [0, 1, 2, 255]);
      assert.equal(events[1].position.commit, result.position.commit);
      assert.equal(events[0].streamId, s);
      assert.ok(events[0].created instanceof Date || typeof events[0].created === "number" ||
                typeof events[0].created === "bigint");
    });

    test("appends through Streams.Append too (per-call credentials bypass BatchAppend)", async () => {
      const s = stream("unary-append");
      const credentials = { username: "admin", password: "changeit" };
      await client.appendToStream(s, jsonEvent({ type: "e", data: { n: 0 } }),
                                  { ...adapter.appendExpect(NO_STREAM), credentials });
      await rejectsWith(() => client.appendToStream(s, jsonEvent({ type: "e", data: {} }),
                                                    { ...adapter.appendExpect(5n), credentials }),
                        lib.WrongExpectedVersionError, "wrong revision through Append");
      const events = await collect(client.readStream(s));
      assert.deepEqual(events.map((e) => e.data.n), [0]);
    });

    test("checks the expected revision", async () => {
      const s = stream("expected");
      await client.appendToStream(s, jsonEvent({ type: "e", data: { n: 0 } }), adapter.appendExpect(NO_STREAM));
      const right = await client.appendToStream(s, jsonEvent({ type: "e", data: { n: 1 } }), adapter.appendExpect(0n));
      assert.equal(right.nextExpectedRevision, 1n);
      await client.appendToStream(s, jsonEvent({ type: "e", data: { n: 2 } }), adapter.appendExpect(STREAM_EXISTS));
      await client.appendToStream(s, jsonEvent({ type: "e", data: { n: 3 } }), adapter.appendExpect(ANY));

      await rejectsWith(() => client.appendToStream(s, jsonEvent({ type: "e", data: {} }), adapter.appendExpect(1n)),
                        lib.WrongExpectedVersionError, "wrong revision");
      await rejectsWith(() => client.appendToStream(s, jsonEvent({ type: "e", data: {} }), adapter.appendExpect(NO_STREAM)),
                        lib.WrongExpectedVersionError, "no stream on an existing stream");
      await rejectsWith(() => client.appendToStream(stream("nothing-here"), jsonEvent({ type: "e", data: {} }),
                                                    adapter.appendExpect(STREAM_EXISTS)),
                        lib.WrongExpectedVersionError, "stream exists on a missing stream");
      const events = await collect(client.readStream(s, { maxCount: 100 }));
      assert.deepEqual(events.map((e) => e.data.n), [0, 1, 2, 3], "failed appends wrote nothing");
    });

    test("reads a stream backwards", async () => {
      const s = stream("backwards");
      await client.appendToStream(s, [0, 1, 2, 3, 4].map((n) => jsonEvent({ type: "e", data: { n } })));
      const lastTwo = await collect(client.readStream(s, { direction: BACKWARDS, fromRevision: END, maxCount: 2 }));
      assert.deepEqual(lastTwo.map((e) => e.revision), [4n, 3n]);
      const fromTwo = await collect(client.readStream(s, { direction: BACKWARDS, fromRevision: 2n, maxCount: 10 }));
      assert.deepEqual(fromTwo.map((e) => e.revision), [2n, 1n, 0n]);
    });

    test("reads $all both ways", async () => {
      const s = stream("all");
      await client.appendToStream(s, [0, 1, 2].map((n) => jsonEvent({ type: "e", data: { n } })));
      const forwards = await collect(client.readAll({ direction: FORWARDS, fromPosition: START, maxCount: 100000 }));
      const mine = forwards.filter((e) => e.streamId === s);
      assert.deepEqual(mine.map((e) => e.data.n), [0, 1, 2]);
      const positions = forwards.map((e) => e.position.commit);
      assert.deepEqual(positions, [...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      const lastThree = await collect(client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 3 }));
      assert.equal(lastThree.length, 3);
      const descending = (events) => events.every((e, i) => i === 0 || e.position.commit < events[i - 1].position.commit);
      assert.ok(descending(lastThree), "backwards is newest first");
      // The connectors library writes to $all on its own (host heartbeats), so the test's events
      // need not be the last ones: look further back and keep the test's stream only.
      const backwards = await collect(client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1000 }));
      assert.ok(descending(backwards), "backwards is newest first");
      const mineBackwards = backwards.filter((e) => e.streamId === s);
      assert.deepEqual(mineBackwards.map((e) => e.data.n), [2, 1, 0]);
    });

    test("reading a missing stream gives StreamNotFoundError", async () => {
      await rejectsWith(() => collect(client.readStream(stream("missing"))), lib.StreamNotFoundError, "missing stream");
    });

    test("subscribes to a stream: history, then live events", async () => {
      const s = stream("sub");
      await client.appendToStream(s, [0, 1].map((n) => jsonEvent({ type: "e", data: { n } })));
      const subscription = client.subscribeToStream(s, { fromRevision: START });
      const caughtUp = new Promise((resolve) => subscription.on("caughtUp", resolve));
      let historyArrived;
      const history = new Promise((resolve) => { historyArrived = resolve; });
      const received = take(subscription, 4, "the stream subscription", 20000,
                            (events) => { if (events.length === 2) historyArrived(); });
      // The last two events are written once the subscription is live, so they come through the
      // live path: after the whole history arrived and, where the client reports it, caught up.
      // (A confirmation alone comes before the history: events appended then could still be read
      // as history.)
      const live = adapter.emitsCaughtUp ? Promise.all([history, caughtUp]) : history;
      await withTimeout(Promise.race([live, received]), 20000, "the subscription going live");
      await client.appendToStream(s, [2, 3].map((n) => jsonEvent({ type: "e", data: { n } })));
      const events = await received;
      assert.deepEqual(events.map((e) => e.data.n), [0, 1, 2, 3]);
      assert.deepEqual(events.map((e) => e.revision), [0n, 1n, 2n, 3n]);
    });

    test("subscribes to $all from the start with a stream-prefix filter; checkpoints arrive", async () => {
      const prefix = stream("pfx-");
      const checkpoints = [];
      for (let i = 0; i < 3; ++i) {
        await client.appendToStream(stream(`noise-${i}`), [0, 1, 2, 3].map((n) => jsonEvent({ type: "noise", data: { n } })));
      }
      await client.appendToStream(`${prefix}a`, jsonEvent({ type: "e", data: { n: 0 } }));
      await client.appendToStream(`${prefix}b`, jsonEvent({ type: "e", data: { n: 1 } }));
      const subscription = client.subscribeToAll({
        fromPosition: START,
        filter: streamNameFilter({
          prefixes: [prefix], maxSearchWindow: 4, checkpointInterval: 1,
          checkpointReached: (_sub, position) => { checkpoints.push(position.commit); },
        }),
      });
      const received = take(subscription, 3, "the prefix-filtered $all subscription");
      await client.appendToStream(`${prefix}c`, jsonEvent({ type: "e", data: { n: 2 } }));
      const events = await received;
      assert.deepEqual(events.map((e) => e.streamId), [`${prefix}a`, `${prefix}b`, `${prefix}c`]);
      assert.ok(checkpoints.length > 0, "no checkpoint reached the client");
      assert.deepEqual(checkpoints, [...checkpoints].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    });

    test("subscribes to $all from a position with a stream-regex filter", async () => {
      const first = await client.appendToStream(stream("rx-1"), jsonEvent({ type: "e", data: { n: 0 } }));
      await client.appendToStream(stream("rx-2"), jsonEvent({ type: "e", data: { n: 1 } }));
      await client.appendToStream(stream("other-3"), jsonEvent({ type: "e", data: { n: 2 } }));
      await client.appendToStream(stream("rx-4"), jsonEvent({ type: "e", data: { n: 3 } }));
      const subscription = client.subscribeToAll({
        fromPosition: first.position,
        filter: streamNameFilter({ regex: `^${run}-rx-\\d+$` }),
      });
      const events = await take(subscription, 2, "the regex-filtered $all subscription");
      // Strictly after the position: the first event is not delivered again.
      assert.deepEqual(events.map((e) => e.streamId), [stream("rx-2"), stream("rx-4")]);
    });

    test("subscribes to $all with an event-type filter", async () => {
      const type = `${run}-type-special`;
      await client.appendToStream(stream("types"), [
        jsonEvent({ type: "plain", data: { n: 0 } }),
        jsonEvent({ type, data: { n: 1 } }),
        jsonEvent({ type: "plain", data: { n: 2 } }),
        jsonEvent({ type, data: { n: 3 } }),
      ]);
      const subscription = client.subscribeToAll({
        fromPosition: START,
        filter: eventTypeFilter({ prefixes: [type] }),
      });
      const events = await take(subscription, 2, "the event-type-filtered $all subscription");
      assert.deepEqual(events.map((e) => e.data.n), [1, 3]);
      assert.deepEqual(events.map((e) => e.type), [type, type]);
    });

    test("deleteStream hides the stream; an append recreates it", async () => {
      const s = stream("deleted");
      await client.appendToStream(s, [0, 1].map((n) => jsonEvent({ type: "e", data: { n } })));
      await client.deleteStream(s, adapter.deleteExpect(1n));
      await rejectsWith(() => collect(client.readStream(s)), lib.StreamNotFoundError, "read after delete");
      await client.appendToStream(s, jsonEvent({ type: "e", data: { n: 2 } }));
      const events = await collect(client.readStream(s));
      assert.deepEqual(events.map((e) => e.revision), [2n]);
    });

    test("tombstoneStream deletes for ever", async () => {
      const s = stream("tombstoned");
      await client.appendToStream(s, jsonEvent({ type: "e", data: {} }));
      await client.tombstoneStream(s, adapter.deleteExpect(ANY));
      await rejectsWith(() => collect(client.readStream(s)), lib.StreamDeletedError, "read after tombstone");
      await rejectsWith(() => client.appendToStream(s, jsonEvent({ type: "e", data: {} })),
                        lib.StreamDeletedError, "append after tombstone");
    });
  });
}
