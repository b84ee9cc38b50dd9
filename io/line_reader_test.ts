import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CHECK_EVERY_LINES, LineReader } from "./line_reader.ts";
import {
  CASES,
  formatFigure,
  measureLinearity,
} from "../tests/fuzz/linearity.ts";
import { Deadline } from "./deadline.ts";
import { ExpiringDeadline } from "../tests/fuzz/expiring.ts";
import {
  AbortedError,
  ConnectionClosedError,
  ProtocolError,
  TimeoutError,
} from "../errors.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const none = new Deadline(undefined);

/**
 * A pull-based stream (highWaterMark 0: a chunk is produced only for a
 * pending read) over `chunks`, counting pulls and bytes handed out.
 */
function source(chunks: readonly (Uint8Array | string)[]) {
  const stats = { pulls: 0, bytes: 0 };
  let i = 0;
  const readable = new ReadableStream<Uint8Array>({
    pull(c) {
      stats.pulls++;
      if (i < chunks.length) {
        const ch = chunks[i++];
        const b = typeof ch === "string" ? enc.encode(ch) : ch;
        stats.bytes += b.length;
        c.enqueue(b);
      } else {
        c.close();
      }
    },
  }, { highWaterMark: 0 });
  return { readable, stats };
}

/** An endless stream of `size`-byte chunks of "a" (no line end ever). */
function endless(size: number) {
  const stats = { pulls: 0, bytes: 0 };
  const readable = new ReadableStream<Uint8Array>({
    pull(c) {
      stats.pulls++;
      stats.bytes += size;
      c.enqueue(new Uint8Array(size).fill(97));
    },
  }, { highWaterMark: 0 });
  return { readable, stats };
}

function reader(
  chunks: readonly (Uint8Array | string)[],
  max = 8192,
  onFail = () => {},
) {
  const s = source(chunks);
  return { r: new LineReader(s.readable, max, onFail), stats: s.stats };
}

async function readStr(r: LineReader, d = none): Promise<string> {
  return dec.decode(await r.readLine(d));
}

test("line reader: CRLF lines, then ConnectionClosedError at EOF", async () => {
  const { r } = reader(["a\r\nbb\r\n\r\nccc\r\n"]);
  assert.equal(await readStr(r), "a");
  assert.equal(await readStr(r), "bb");
  assert.equal(await readStr(r), "");
  assert.equal(await readStr(r), "ccc");
  await assert.rejects(r.readLine(none), ConnectionClosedError);
  // and again: EOF is sticky, no further read
  await assert.rejects(r.readLine(none), ConnectionClosedError);
});

test("line reader: bare LF endings; a CR elsewhere stays", async () => {
  const { r } = reader(["a\nb\r\nc\rd\n\n"]);
  assert.equal(await readStr(r), "a");
  assert.equal(await readStr(r), "b");
  assert.equal(await readStr(r), "c\rd");
  assert.equal(await readStr(r), "");
});

test("line reader: a line split over one-byte chunks", async () => {
  const text = "250-hello world\r\n250 ok\r\n";
  const { r, stats } = reader([...text]);
  assert.equal(await readStr(r), "250-hello world");
  assert.equal(await readStr(r), "250 ok");
  assert.equal(stats.pulls, text.length, "exactly one pull per byte");
});

test("line reader: CR | LF split across chunks", async () => {
  const { r } = reader(["abc\r", "\nde", "f\r", "\n"]);
  assert.equal(await readStr(r), "abc");
  assert.equal(await readStr(r), "def");
});

test("line reader: pulls only when no complete line is buffered", async () => {
  const { r, stats } = reader(["one\r\ntwo\r\n", "three\r\n", "four\r\n"]);
  assert.equal(stats.pulls, 0, "nothing read before asked");
  assert.equal(await readStr(r), "one");
  assert.equal(stats.pulls, 1);
  assert.equal(await readStr(r), "two");
  assert.equal(stats.pulls, 1, "second line was already buffered");
  assert.equal(r.tryReadLine(), null);
  assert.equal(stats.pulls, 1, "tryReadLine never reads");
  assert.equal(await readStr(r), "three");
  assert.equal(stats.pulls, 2);
  assert.equal(dec.decode(r.tryReadLine() ?? new Uint8Array()), "");
  assert.equal(await readStr(r), "four");
  assert.equal(stats.pulls, 3);
});

test("line reader: buffered reports the bytes not yet handed out", async () => {
  const { r } = reader(["220 ready\r\nleft", "over"]);
  assert.equal(r.buffered, 0);
  assert.equal(await readStr(r), "220 ready");
  assert.equal(r.buffered, 4);
  assert.equal(r.tryReadLine(), null);
  assert.equal(r.buffered, 4);
  await assert.rejects(r.readLine(none), ConnectionClosedError);
  assert.equal(r.buffered, 8, "the partial line stays counted at EOF");
});

test("line reader: EOF mid-line is ConnectionClosedError and closes", async () => {
  let failed = 0;
  const { r } = reader(["250 partial"], 8192, () => failed++);
  await assert.rejects(r.readLine(none), ConnectionClosedError);
  assert.equal(failed, 1, "onFail closes our side of a half-closed socket");
});

test("line reader: a stream error is ConnectionClosedError with the cause", async () => {
  const cause = new Error("reset");
  let n = 0;
  const readable = new ReadableStream<Uint8Array>({
    pull(c) {
      if (n++ === 0) c.enqueue(enc.encode("250 a"));
      else c.error(cause);
    },
  }, { highWaterMark: 0 });
  let failed = 0;
  const r = new LineReader(readable, 100, () => failed++);
  await assert.rejects(r.readLine(none), (e: unknown) => {
    assert.ok(e instanceof ConnectionClosedError);
    assert.equal(e.cause, cause);
    return true;
  });
  assert.equal(failed, 1);
});

test("line reader: a line of exactly the cap is accepted, one more byte is not", async () => {
  for (const end of ["\r\n", "\n"]) {
    const ok = "x".repeat(100);
    const { r } = reader([ok + end], 100);
    assert.equal(await readStr(r), ok);
    for (const chunks of [[ok + "y" + end], [...(ok + "y" + end)]]) {
      let failed = 0;
      const { r: r2 } = reader(chunks, 100, () => failed++);
      await assert.rejects(r2.readLine(none), ProtocolError);
      assert.equal(failed, 1, "onFail closes the connection");
    }
  }
});

test("line reader: an endless line stops at the cap with bounded reads", async () => {
  for (const size of [1, 7, 1000, 4096]) {
    const { readable, stats } = endless(size);
    let failed = 0;
    const r = new LineReader(readable, 8192, () => failed++);
    await assert.rejects(r.readLine(none), ProtocolError);
    assert.equal(failed, 1);
    // at most the cap + CRLF, plus the chunk that crossed it
    assert.ok(stats.bytes <= 8192 + 2 + size, `pulled ${stats.bytes} bytes`);
    assert.ok(stats.bytes > 8192, `pulled ${stats.bytes} bytes`);
  }
});

test("line reader: chunks are borrowed but never modified", async () => {
  const chunks = ["ab", "c\r\nde", "f\r\ng", "hi\r\n"].map((s) =>
    enc.encode(s)
  );
  const copies = chunks.map((c) => c.slice());
  const { r } = reader(chunks);
  assert.equal(await readStr(r), "abc");
  assert.equal(await readStr(r), "def");
  assert.equal(await readStr(r), "ghi");
  assert.deepEqual(chunks, copies);
});

test("line reader: a drip-feed stream hits the whole-operation deadline", async () => {
  // One byte every 50 ms, never a line end: each read is quick, only a
  // deadline over the whole operation can stop it.
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const readable = new ReadableStream<Uint8Array>({
    pull(c) {
      if (stopped) return new Promise(() => {});
      return new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          c.enqueue(new Uint8Array([97]));
          resolve();
        }, 50);
      });
    },
  }, { highWaterMark: 0 });
  let failed = 0;
  const r = new LineReader(readable, 8192, () => {
    failed++;
    stopped = true; // what closing the connection does
    clearTimeout(timer);
  });
  const t0 = Date.now();
  const d = new Deadline(300);
  await assert.rejects(r.readLine(d, "reading the greeting"), (e: unknown) => {
    assert.ok(e instanceof TimeoutError);
    assert.equal(e.timeout, 300);
    assert.match(e.message, /reading the greeting/);
    return true;
  });
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 280 && elapsed < 600, `elapsed ${elapsed} ms`);
  assert.equal(failed, 1);
  assert.ok(r.buffered >= 3 && r.buffered <= 6, `buffered ${r.buffered}`);
});

test("line reader: abort mid-read is AbortedError with the cause", async () => {
  const never = new ReadableStream<Uint8Array>({
    pull: () => new Promise(() => {}),
  }, { highWaterMark: 0 });
  const ac = new AbortController();
  let failed = 0;
  const r = new LineReader(never, 100, () => failed++);
  const p = r.readLine(new Deadline(undefined, ac.signal));
  const reason = new Error("user cancelled");
  setTimeout(() => ac.abort(reason), 10);
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AbortedError);
    assert.equal(e.cause, reason);
    return true;
  });
  assert.equal(failed, 1);
});

test("line reader: release() frees the stream lock", () => {
  const { readable } = source(["x\r\n"]);
  const r = new LineReader(readable, 100, () => {});
  assert.equal(readable.locked, true);
  r.release();
  assert.equal(readable.locked, false);
  r.release(); // idempotent
});

test("line reader property: any chunking gives back the same lines", async () => {
  const lineArb = fc.uint8Array({ maxLength: 40 }).map((a) =>
    a.map((b) => (b === 10 || b === 13 ? 32 : b))
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(lineArb, fc.boolean()), { maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 15 }),
      async (lines, cuts) => {
        const parts: number[] = [];
        for (const [l, crlf] of lines) {
          parts.push(...l, ...(crlf ? [13, 10] : [10]));
        }
        const all = new Uint8Array(parts);
        const points = [...new Set(cuts.map((c) => c % (all.length + 1)))]
          .sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(all.slice(prev, p));
          prev = p;
        }
        chunks.push(all.slice(prev));
        const { r } = reader(chunks.filter((c) => c.length), 40);
        for (const [l] of lines) {
          assert.deepEqual(await r.readLine(none), l);
        }
        assert.equal(r.buffered, 0);
        await assert.rejects(r.readLine(none), ConnectionClosedError);
      },
    ),
    { numRuns: 300 },
  );
});

test("line reader property: long lines across buffer growth and compaction", async () => {
  // Lines up to 20 000 bytes and chunks up to 30 000 bytes exercise the
  // owned buffer: growth, compaction (copyWithin) and appends in place.
  const spec = fc.array(
    fc.tuple(fc.nat({ max: 20_000 }), fc.integer({ min: 33, max: 126 })),
    { minLength: 1, maxLength: 8 },
  );
  await fc.assert(
    fc.asyncProperty(
      spec,
      fc.array(fc.integer({ min: 1, max: 30_000 }), {
        minLength: 1,
        maxLength: 10,
      }),
      async (lines, sizes) => {
        const want = lines.map(([n, b], i) => {
          const l = new Uint8Array(n).fill(b);
          if (n > 0) l[0] = 48 + (i % 10); // tell lines apart
          return l;
        });
        const all = new Uint8Array(want.reduce((n, l) => n + l.length + 2, 0));
        let o = 0;
        for (const l of want) {
          all.set(l, o);
          all.set([13, 10], o + l.length);
          o += l.length + 2;
        }
        const chunks: Uint8Array[] = [];
        for (let at = 0, k = 0; at < all.length; k++) {
          const n = sizes[k % sizes.length];
          chunks.push(all.slice(at, at + n));
          at += n;
        }
        const { r } = reader(chunks, 20_000);
        for (const l of want) assert.deepEqual(await r.readLine(none), l);
        assert.equal(r.buffered, 0);
      },
    ),
    { numRuns: 150 },
  );
});

test("line reader: a long line in small chunks costs linear time (no search of stale buffer space)", async () => {
  // Before the sentinel, each chunk's search ran to the end of the grown,
  // zero-filled buffer: a 4 MiB line in 1 KiB chunks took 2.2 s.
  const cases = CASES.filter((c) => c.name.startsWith("line reader"));
  assert.equal(cases.length, 1);
  const [figure] = await measureLinearity(cases, { samples: 3 });
  assert.ok(figure.ratio < 3, formatFigure(figure));
});

test("line reader: buffered lines are handed out with the deadline checked by the clock", () => {
  // Every line already buffered: no read, so no timer could ever fire.
  const text = "x\r\n".repeat(10 * CHECK_EVERY_LINES);
  return (async () => {
    let failed = 0;
    const r = new LineReader(source([text]).readable, 100, () => failed++);
    const d = new ExpiringDeadline();
    assert.equal((await r.readLine(d)).length, 1); // the one real read
    for (let i = 0; i < 5; i++) assert.ok(r.tryReadLine(d));
    d.expired = true;
    let handed = 0;
    assert.throws(() => {
      for (;;) {
        assert.ok(r.tryReadLine(d, "reading a listing"));
        handed++;
      }
    }, (e: unknown) => {
      assert.ok(e instanceof TimeoutError);
      assert.match(e.message, /^reading a listing did not complete/);
      return true;
    });
    assert.ok(handed < CHECK_EVERY_LINES, `${handed} lines after expiry`);
    assert.equal(failed, 1, "the connection is closed");
    // Without a deadline nothing is checked (the old behaviour).
    assert.ok(r.tryReadLine());
  })();
});

test("line reader: chunks split mid-line reuse one small buffer, and stay exact", async () => {
  // 1460-byte segments of 13-byte lines: most reads end mid-line.
  const line = "12345 67890\r\n";
  const all = enc.encode(line.repeat(5000));
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < all.length; i += 1460) {
    chunks.push(all.slice(i, i + 1460));
  }
  const { r } = reader(chunks);
  for (let i = 0; i < 5000; i++) {
    assert.equal(
      dec.decode(r.tryReadLine() ?? await r.readLine(none)),
      "12345 67890",
    );
  }
  assert.equal(r.buffered, 0);
});
