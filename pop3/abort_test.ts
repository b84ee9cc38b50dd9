import { test } from "node:test";
import assert from "node:assert/strict";
import { AbortedError } from "../errors.ts";
import { Pop3Client } from "./client.ts";
import { sleep, startFake } from "../tests/fakes/pop3_fake.ts";

const CAPA = ["USER", "UIDL", "TOP", "RESP-CODES"];

/** A maildrop whose NOOP takes `ms` to answer. */
function slowNoop(ms: number) {
  return startFake({
    capa: CAPA,
    messages: ["a\r\n"],
    onCommand: async (line) => {
      if (line !== "NOOP") return undefined;
      await sleep(ms);
      return "+OK slow\r\n";
    },
  });
}

test("a call aborted while queued rejects at once; the connection stays usable", async () => {
  await using fake = await slowNoop(1500);
  await using client = await Pop3Client.connect(fake.options());
  const slow = client.noop();
  const ac = new AbortController();
  const reason = new Error("user gave up");
  const queued = client.stat({ signal: ac.signal });
  const behind = client.list(1); // queued after the aborted call
  const t0 = Date.now();
  setTimeout(() => ac.abort(reason), 100);
  const err = await queued.catch((e) => e);
  const took = Date.now() - t0;
  assert.ok(err instanceof AbortedError, String(err));
  assert.equal(err.cause, reason);
  assert.ok(took < 400, `took ${took} ms`);
  assert.equal(client.connected, true);
  // The call ahead finishes normally, then the one behind runs.
  assert.equal((await slow).text, "slow");
  assert.deepEqual(await behind, { id: 1, size: 3 });
  assert.equal(client.connected, true);
  assert.deepEqual(await client.stat(), { count: 1, size: 3 });
  // The aborted STAT never reached the server; order kept.
  assert.equal(fake.peer().text, "NOOP\r\nLIST 1\r\nSTAT\r\n");
});

test("a call whose signal is already aborted sends nothing and keeps the connection", async () => {
  await using fake = await slowNoop(0);
  await using client = await Pop3Client.connect(fake.options());
  const reason = new Error("too late");
  const err = await client.stat({ signal: AbortSignal.abort(reason) }).catch((
    e,
  ) => e);
  assert.ok(err instanceof AbortedError, String(err));
  assert.equal(err.cause, reason);
  assert.equal(client.connected, true);
  assert.equal((await client.noop()).ok, true);
  assert.equal(fake.peer().text, "NOOP\r\n");
});

test("the client signal closes an idle connection at once", async () => {
  await using fake = await slowNoop(0);
  const ac = new AbortController();
  await using client = await Pop3Client.connect(
    fake.options({ signal: ac.signal }),
  );
  assert.equal((await client.noop()).ok, true);
  const reason = new Error("shutting down");
  ac.abort(reason);
  assert.equal(client.connected, false);
  assert.ok(await fake.peer().waitClosed(1000), "server saw no close");
  const err = await client.noop().catch((e) => e);
  assert.ok(err instanceof AbortedError, String(err));
  assert.equal(err.cause, reason);
  assert.equal(fake.peer().text, "NOOP\r\n");
});

test("the client signal rejects the running call and the queued ones at once", async () => {
  await using fake = await slowNoop(1500);
  const ac = new AbortController();
  await using client = await Pop3Client.connect(
    fake.options({ signal: ac.signal }),
  );
  const running = client.noop().catch((e) => e);
  const queued = client.stat().catch((e) => e);
  await sleep(100);
  const t0 = Date.now();
  ac.abort();
  const [a, b] = await Promise.all([running, queued]);
  assert.ok(Date.now() - t0 < 300, `took ${Date.now() - t0} ms`);
  assert.ok(a instanceof AbortedError, String(a));
  assert.ok(b instanceof AbortedError, String(b));
  assert.equal(client.connected, false);
  assert.ok(await fake.peer().waitClosed(1000));
  assert.equal(fake.peer().text, "NOOP\r\n");
});

test("close() removes the client signal's listener", async () => {
  await using fake = await slowNoop(0);
  const ac = new AbortController();
  const signal = ac.signal;
  const live = new Set<unknown>();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, fn: () => void, o?: unknown) => {
    live.add(fn);
    add(type, fn, o as AddEventListenerOptions);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, fn: () => void) => {
    live.delete(fn);
    remove(type, fn);
  }) as typeof signal.removeEventListener;
  const client = await Pop3Client.connect(fake.options({ signal }));
  await client.noop();
  assert.equal(live.size, 1); // the idle listener
  await client.close();
  assert.equal(live.size, 0);
  ac.abort();
  assert.equal(client.connected, false);
});
