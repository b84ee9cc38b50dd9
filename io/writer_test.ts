import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { join, Writer } from "./writer.ts";
import { Deadline } from "./deadline.ts";
import {
  AbortedError,
  ConnectionClosedError,
  TimeoutError,
} from "../errors.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const none = new Deadline(undefined);

/** A writable that records every chunk object it is given. */
function recorder() {
  const writes: Uint8Array[] = [];
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      writes.push(chunk);
    },
  });
  return { writable, writes };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

test("writer: small parts are coalesced into one write", async () => {
  const { writable, writes } = recorder();
  const w = new Writer(writable, () => assert.fail("onFail"));
  const parts = ["MAIL FROM:<a@x>\r\n", "RCPT TO:<b@y>\r\n", "DATA\r\n"].map(
    (s) => enc.encode(s),
  );
  await w.write(parts, none);
  assert.equal(writes.length, 1);
  assert.equal(
    dec.decode(writes[0]),
    "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n",
  );
});

test("writer: a single small part is written without a copy", async () => {
  const { writable, writes } = recorder();
  const w = new Writer(writable, () => {});
  const part = enc.encode("NOOP\r\n");
  await w.write([part], none);
  assert.equal(writes.length, 1);
  assert.equal(writes[0], part);
});

test("writer: a 1 MiB part is written as the same object", async () => {
  const { writable, writes } = recorder();
  const w = new Writer(writable, () => {});
  const big = new Uint8Array(1 << 20).fill(120);
  const head = enc.encode("BDAT 1048576 LAST\r\n");
  const tail = enc.encode("QUIT\r\n");
  await w.write([head, big, tail], none);
  assert.equal(writes.length, 3, "order kept: head, body, tail");
  assert.equal(writes[0], head);
  assert.equal(writes[1], big, "no copy of the large part");
  assert.equal(writes[2], tail);
});

test("writer: small parts around large ones are grouped in order", async () => {
  const { writable, writes } = recorder();
  const w = new Writer(writable, () => {});
  const a = enc.encode("a"), b = enc.encode("b"), c = enc.encode("c");
  const big1 = new Uint8Array(64 * 1024).fill(49); // exactly the limit: alone
  const big2 = new Uint8Array(100_000).fill(50);
  const small = new Uint8Array(64 * 1024 - 1).fill(51); // just under: coalesced
  await w.write([a, b, big1, big2, c, small, new Uint8Array(0)], none);
  assert.equal(writes.length, 4);
  assert.equal(dec.decode(writes[0]), "ab");
  assert.equal(writes[1], big1);
  assert.equal(writes[2], big2);
  assert.equal(writes[3].length, 1 + small.length);
  assert.deepEqual(
    concat(writes),
    concat([a, b, big1, big2, c, small]),
  );
});

test("writer: nothing to write makes no write", async () => {
  const { writable, writes } = recorder();
  const w = new Writer(writable, () => {});
  await w.write([], none);
  await w.write([new Uint8Array(0), new Uint8Array(0)], none);
  assert.equal(writes.length, 0);
});

test("writer: a write that never completes times out and closes", async () => {
  const writable = new WritableStream<Uint8Array>({
    write: () => new Promise(() => {}), // a peer that never reads
  });
  let failed = 0;
  const w = new Writer(writable, () => failed++);
  const t0 = Date.now();
  await assert.rejects(
    w.write([enc.encode("DATA\r\n")], new Deadline(50), "sending data"),
    (e: unknown) => {
      assert.ok(e instanceof TimeoutError);
      assert.equal(e.timeout, 50);
      assert.match(e.message, /sending data/);
      return true;
    },
  );
  assert.ok(Date.now() - t0 < 1000);
  assert.equal(failed, 1);
});

test("writer: the deadline bounds the whole batch, not each write", async () => {
  // each write takes 30 ms; three large parts need 90 ms > 60 ms budget
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const writable = new WritableStream<Uint8Array>({
    write: () =>
      new Promise<void>((r) => {
        const t = setTimeout(() => {
          timers.delete(t);
          r();
        }, 30);
        timers.add(t);
      }),
  });
  let failed = 0;
  const w = new Writer(writable, () => failed++);
  const big = () => new Uint8Array(70_000);
  await assert.rejects(
    w.write([big(), big(), big()], new Deadline(60)),
    TimeoutError,
  );
  assert.equal(failed, 1);
  for (const t of timers) clearTimeout(t);
});

test("writer: an abort while writing is AbortedError and closes", async () => {
  const writable = new WritableStream<Uint8Array>({
    write: () => new Promise(() => {}),
  });
  let failed = 0;
  const w = new Writer(writable, () => failed++);
  const ac = new AbortController();
  const p = w.write([enc.encode("x")], new Deadline(10_000, ac.signal));
  ac.abort("stop");
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AbortedError);
    assert.equal(e.cause, "stop");
    return true;
  });
  assert.equal(failed, 1);
});

test("writer: an already-aborted signal or passed deadline writes nothing and closes", async () => {
  for (
    const [deadline, cls] of [
      [new Deadline(10_000, AbortSignal.abort("early")), AbortedError],
      [new Deadline(1), TimeoutError],
    ] as const
  ) {
    await new Promise((r) => setTimeout(r, 5));
    const { writable, writes } = recorder();
    let failed = 0;
    const w = new Writer(writable, () => failed++);
    await assert.rejects(w.write([enc.encode("NOOP\r\n")], deadline), cls);
    assert.equal(writes.length, 0);
    assert.equal(failed, 1);
  }
});

test("writer: a failing sink is ConnectionClosedError with the cause", async () => {
  const cause = new Error("EPIPE");
  const writable = new WritableStream<Uint8Array>({
    write() {
      throw cause;
    },
  });
  let failed = 0;
  const w = new Writer(writable, () => failed++);
  await assert.rejects(w.write([enc.encode("x")], none), (e: unknown) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.equal(e.cause, cause);
    return true;
  });
  assert.equal(failed, 1);
});

test("writer: release() frees the lock", () => {
  const { writable } = recorder();
  const w = new Writer(writable, () => {});
  assert.equal(writable.locked, true);
  w.release();
  assert.equal(writable.locked, false);
  w.release();
});

test("join: none, one (same object), several", () => {
  assert.equal(join([]).length, 0);
  const one = enc.encode("one");
  assert.equal(join([one]), one);
  assert.equal(dec.decode(join([enc.encode("a"), enc.encode("bc")])), "abc");
  assert.equal(dec.decode(join([enc.encode("a"), enc.encode("bc")], 3)), "abc");
});

test("writer property: the bytes written are the parts in order", async () => {
  const partArb = fc.oneof(
    { weight: 8, arbitrary: fc.uint8Array({ maxLength: 50 }) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 60_000, max: 70_000 }).map((n) =>
        new Uint8Array(n).fill(n & 0xff)
      ),
    },
  );
  await fc.assert(
    fc.asyncProperty(fc.array(partArb, { maxLength: 12 }), async (parts) => {
      const { writable, writes } = recorder();
      await new Writer(writable, () => {}).write(parts, none);
      assert.deepEqual(concat(writes), concat(parts));
      for (const w of writes) assert.ok(w.length > 0);
      const large = parts.filter((p) => p.length >= 64 * 1024);
      for (const p of large) {
        assert.ok(writes.includes(p), "large part by identity");
      }
    }),
    { numRuns: 300 },
  );
});
