import { test } from "node:test";
import assert from "node:assert/strict";
import { Deadline } from "../io/deadline.ts";
import { LineReader } from "../io/line_reader.ts";
import { AbortedError, ProtocolError, TimeoutError } from "../tls/errors.ts";
import {
  BodyBuffer,
  messageStream,
  type MessageStreamOptions,
} from "./body.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

test("BodyBuffer: exact size from the hint, grows past it", () => {
  const exact = new BodyBuffer(7);
  exact.push(enc.encode("abc"));
  exact.push(enc.encode(""));
  const bytes = exact.bytes();
  assert.equal(dec.decode(bytes), "abc\r\n\r\n");
  assert.equal(bytes.buffer.byteLength, 7); // no copy, no slack
  const grown = new BodyBuffer(2);
  for (let i = 0; i < 100; i++) grown.push(enc.encode("line"));
  assert.equal(grown.length, 600);
  assert.equal(grown.bytes().buffer.byteLength, 600);
  assert.equal(new BodyBuffer().bytes().length, 0);
  // A huge announced size is not trusted for the allocation.
  assert.equal(new BodyBuffer(2 ** 40).bytes().length, 0);
});

/** A pull-based source; each `pull` hands out the next chunk (or stalls at `null`). */
function source(chunks: (string | Uint8Array | null)[]) {
  const stats = { pulls: 0 };
  let i = 0;
  const readable = new ReadableStream<Uint8Array>({
    pull(c) {
      stats.pulls++;
      if (i >= chunks.length) return c.close();
      const ch = chunks[i++];
      if (ch === null) return new Promise<void>(() => {}); // stall forever
      c.enqueue(typeof ch === "string" ? enc.encode(ch) : ch);
    },
  }, { highWaterMark: 0 });
  return { readable, stats };
}

function setup(
  chunks: (string | Uint8Array | null)[],
  o: Partial<MessageStreamOptions> = {},
) {
  const s = source(chunks);
  const state = { aborted: 0, done: [] as boolean[] };
  const reader = new LineReader(s.readable, 8192, () => state.aborted++);
  const stream = messageStream({
    reader,
    maxBytes: 1 << 20,
    chunkSize: 16,
    pullDeadline: () => new Deadline(1000),
    drainDeadline: () => new Deadline(1000),
    drainLimit: 1000,
    abort: () => state.aborted++,
    mapError: (e) => e,
    done: (clean) => state.done.push(clean),
    ...o,
  });
  return { stream, state, stats: s.stats, reader };
}

async function readAll(stream: ReadableStream<Uint8Array>) {
  const out: Uint8Array[] = [];
  const reader = stream.getReader();
  for (let i = 0; i < 10_000; i++) {
    const { done, value } = await reader.read();
    if (done) break;
    out.push(value);
  }
  return out;
}

test("messageStream: chunks of at most chunkSize, unstuffed, done(true)", async () => {
  const { stream, state } = setup([
    "..a\r\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n",
    "c\r\n.\r\n",
  ]);
  const chunks = await readAll(stream);
  assert.ok(chunks.every((c) => c.length <= 16));
  assert.equal(
    chunks.map((c) => dec.decode(c)).join(""),
    ".a\r\n" + "b".repeat(36) + "\r\nc\r\n",
  );
  assert.deepEqual(state.done, [true]);
  assert.equal(state.aborted, 0);
});

test("messageStream: nothing is read before the first pull", async () => {
  const { stream, stats } = setup(["a\r\n.\r\n"]);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(stats.pulls, 0);
  const chunks = await readAll(stream);
  assert.equal(dec.decode(chunks[0]), "a\r\n");
});

test("messageStream: an empty message", async () => {
  const { stream, state } = setup([".\r\n"]);
  assert.deepEqual(await readAll(stream), []);
  assert.deepEqual(state.done, [true]);
});

test("messageStream: cancel drains a small rest and leaves the reader after it", async () => {
  const { stream, state, reader } = setup([
    "x".repeat(40) + "\r\n",
    "more\r\n",
    ".\r\n+OK next\r\n",
  ]);
  const r = stream.getReader();
  await r.read();
  await r.cancel();
  assert.deepEqual(state.done, [true]);
  assert.equal(state.aborted, 0);
  assert.equal(
    dec.decode(await reader.readLine(new Deadline(100))),
    "+OK next",
  );
});

test("messageStream: cancel before the first read drains the whole body", async () => {
  const { stream, state, reader } = setup(["a\r\nb\r\n.\r\n+OK\r\n"]);
  await stream.cancel();
  assert.deepEqual(state.done, [true]);
  assert.equal(dec.decode(await reader.readLine(new Deadline(100))), "+OK");
});

test("messageStream: cancel with a rest over drainLimit closes", async () => {
  const line = "y".repeat(100) + "\r\n";
  const { stream, state } = setup(
    Array.from({ length: 50 }, () => line).concat([".\r\n"]),
    { drainLimit: 500 },
  );
  const r = stream.getReader();
  await r.read();
  await r.cancel();
  assert.deepEqual(state.done, [false]);
  assert.ok(state.aborted > 0);
});

test("messageStream: cancel on a stalled server closes within the drain deadline", async () => {
  const { stream, state } = setup(["a\r\n".repeat(10), null], {
    drainDeadline: () => new Deadline(100),
  });
  const r = stream.getReader();
  await r.read();
  const t0 = Date.now();
  await r.cancel();
  assert.ok(Date.now() - t0 < 1000);
  assert.deepEqual(state.done, [false]);
});

test("messageStream: a stall is a TimeoutError per pull", async () => {
  const { stream, state } = setup(["a\r\n", null], {
    pullDeadline: () => new Deadline(100),
  });
  const t0 = Date.now();
  await assert.rejects(readAll(stream), TimeoutError);
  assert.ok(Date.now() - t0 < 1000);
  assert.deepEqual(state.done, [false]);
  assert.ok(state.aborted > 0);
});

test("messageStream: maxBytes is a ProtocolError", async () => {
  const { stream, state } = setup(["z".repeat(100) + "\r\n", ".\r\n"], {
    maxBytes: 50,
  });
  await assert.rejects(readAll(stream), ProtocolError);
  assert.deepEqual(state.done, [false]);
});

test("messageStream: abort while idle ends it at once", async () => {
  const ac = new AbortController();
  const { stream, state } = setup(["a".repeat(40) + "\r\n", null], {
    signal: ac.signal,
    pullDeadline: () => new Deadline(1000, ac.signal),
  });
  const r = stream.getReader();
  await r.read();
  ac.abort();
  assert.deepEqual(state.done, [false]); // closed right away
  await assert.rejects(
    (async () => {
      for (let i = 0; i < 10; i++) await r.read();
    })(),
    AbortedError,
  );
});
