import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Deadline } from "../io/deadline.ts";
import { LineReader } from "../io/line_reader.ts";
import { AbortedError, ProtocolError, TimeoutError } from "../errors.ts";
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

const MIB = 1 << 20;

/**
 * A message of exactly `total` bytes (`total` ≥ 2) in lines of up to
 * `lineLength` bytes, each followed by CRLF; `lines` are views into it, as
 * the body reader hands them over.
 */
function message(total: number, lineLength = 64 * 1024 - 2) {
  const bytes = new Uint8Array(total);
  for (let i = 0; i < total; i++) bytes[i] = (i * 7 + (i >> 13)) & 0xff;
  const lines: Uint8Array[] = [];
  for (let at = 0; at < total;) {
    const len = Math.min(lineLength, total - at - 2);
    lines.push(bytes.subarray(at, at + len));
    bytes[at + len] = 13;
    bytes[at + len + 1] = 10;
    at += len + 2;
  }
  return { bytes, lines };
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

test("BodyBuffer: 24 MiB announced: one growth copy, straight to the size, no final copy", () => {
  const { bytes, lines } = message(24 * MIB);
  const buffer = new BodyBuffer(24 * MIB, 256 * MIB);
  for (const line of lines) buffer.push(line);
  const out = buffer.bytes();
  assert.equal(buffer.copies, 1);
  assert.equal(out.length, 24 * MIB);
  assert.equal(out.buffer.byteLength, 24 * MIB); // no slack, no trim copy
  assert.ok(same(out, bytes));
});

test("BodyBuffer: exact bytes around the 16 MiB preallocation, bounded copies and slack", () => {
  const pre = 16 * MIB;
  const sizes = [pre - 2, pre, pre + 2, pre + 100, pre + MIB, 2 * pre + 2];
  for (const total of sizes) {
    const { bytes, lines } = message(total);
    // Doubling from 16 KiB, then a trim.
    const doubling = Math.ceil(Math.log2(total / 16384)) + 1;
    const hints: [string, number | undefined, number][] = [
      // [case, announced size, most copies]
      ["exact", total, 1],
      ["a bit high", total + 100, 1],
      ["a bit low", total - 100, 2], // a server counting differently
      ["far too high", 2 ** 40, 2], // capped by maxBytes
      ["far too low", 1000, Math.ceil(Math.log2(total / 1000)) + 2],
      ["none", undefined, doubling],
      ["malformed", -5, doubling],
    ];
    for (const [what, hint, most] of hints) {
      const label = `${total} bytes, size ${what}`;
      const max = 3 * pre;
      const buffer = new BodyBuffer(hint, max);
      for (const line of lines) buffer.push(line);
      const out = buffer.bytes();
      assert.equal(buffer.length, total, label);
      assert.ok(same(out, bytes), label);
      assert.ok(buffer.copies <= most, `${label}: ${buffer.copies} copies`);
      assert.ok(out.buffer.byteLength <= max, label);
      assert.ok(out.buffer.byteLength - total <= total / 8, label);
    }
  }
});

test("BodyBuffer: never grows past maxBytes on the server's word", () => {
  const { bytes, lines } = message(18 * MIB);
  const buffer = new BodyBuffer(64 * MIB, 20 * MIB);
  for (const line of lines) buffer.push(line);
  const out = buffer.bytes();
  assert.equal(buffer.copies, 1);
  assert.equal(out.buffer.byteLength, 20 * MIB); // min(announced, maxBytes)
  assert.ok(same(out, bytes)); // 2 MiB spare of 18: a view, no copy
});

test("BodyBuffer: small messages: a view with little slack, else an exact copy", () => {
  const low = new BodyBuffer(95); // announced 95, 100 arrive: +1/8
  for (let i = 0; i < 10; i++) low.push(enc.encode("12345678"));
  const view = low.bytes();
  assert.equal(view.length, 100);
  assert.ok(view.buffer.byteLength > 100 && view.buffer.byteLength <= 112);
  assert.equal(low.copies, 1);
  const unknown = new BodyBuffer(); // 16 KiB to start: trimmed by a copy
  unknown.push(enc.encode("hello"));
  const exact = unknown.bytes();
  assert.equal(dec.decode(exact), "hello\r\n");
  assert.equal(exact.buffer.byteLength, 7);
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
