import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  parsePop3Status,
  type Pop3Continuation,
  type Pop3Status,
  readBody,
  readMultiline,
  readPop3Status,
} from "./pop3_status.ts";
import { CHECK_EVERY_LINES, LineReader } from "./line_reader.ts";
import { Deadline } from "./deadline.ts";
import { ExpiringDeadline } from "../tests/fuzz/expiring.ts";
import { stuffMessage } from "./dot.ts";
import {
  ConnectionClosedError,
  ProtocolError,
  TimeoutError,
} from "../errors.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const none = new Deadline(undefined);

function parse(s: string, cont = false): Pop3Status | Pop3Continuation {
  return parsePop3Status(enc.encode(s), cont);
}

/** A pull-based stream over chunks, counting pulls. */
function source(chunks: readonly (Uint8Array | string)[]) {
  const stats = { pulls: 0 };
  let i = 0;
  const readable = new ReadableStream<Uint8Array>({
    pull(c) {
      stats.pulls++;
      if (i >= chunks.length) return c.close();
      const ch = chunks[i++];
      c.enqueue(typeof ch === "string" ? enc.encode(ch) : ch);
    },
  }, { highWaterMark: 0 });
  return { readable, stats };
}

/** Read one multi-line body; returns the lines as strings and the reader. */
async function body(
  chunks: readonly (Uint8Array | string)[],
  maxBytes = 1 << 20,
  maxLine = 8192,
) {
  const { readable } = source(chunks);
  const r = new LineReader(readable, maxLine, () => {});
  const lines: string[] = [];
  await readMultiline(r, none, maxBytes, () => {}, (l) => {
    lines.push(dec.decode(l));
  });
  return { lines, r };
}

// ---- status lines ----

test("pop3 status: +OK and -ERR, with and without text", () => {
  assert.deepEqual(parse("+OK"), { ok: true, text: "" });
  assert.deepEqual(parse("+OK "), { ok: true, text: "" });
  assert.deepEqual(parse("+OK text here"), { ok: true, text: "text here" });
  assert.deepEqual(parse("+OK 2 320"), { ok: true, text: "2 320" });
  assert.deepEqual(parse("-ERR"), { ok: false, text: "" });
  assert.deepEqual(parse("-ERR no such message"), {
    ok: false,
    text: "no such message",
  });
});

test("pop3 status: RFC 2449 response codes", () => {
  assert.deepEqual(parse("-ERR [IN-USE] locked"), {
    ok: false,
    text: "locked",
    respCode: "IN-USE",
  });
  assert.deepEqual(parse("-ERR [SYS/TEMP] x"), {
    ok: false,
    text: "x",
    respCode: "SYS/TEMP",
  });
  assert.deepEqual(parse("-ERR [AUTH]"), {
    ok: false,
    text: "",
    respCode: "AUTH",
  });
  assert.equal(
    (parse("-ERR [login-delay] wait") as Pop3Status).respCode,
    "LOGIN-DELAY",
  );
  assert.equal((parse("+OK [UTF8] fine") as Pop3Status).respCode, "UTF8");
  // not response codes
  assert.deepEqual(parse("-ERR [] x"), { ok: false, text: "[] x" });
  assert.deepEqual(parse("-ERR [a b] x"), { ok: false, text: "[a b] x" });
  assert.deepEqual(parse("-ERR x [IN-USE]"), { ok: false, text: "x [IN-USE]" });
  assert.deepEqual(parse("-ERR [unterminated"), {
    ok: false,
    text: "[unterminated",
  });
});

test("pop3 status: anything but exactly +OK / -ERR is ProtocolError", () => {
  for (
    const bad of [
      "",
      "+",
      "+ ",
      "+ abc",
      "+ERR x",
      "+ERR",
      "+OKAY",
      "+OK\tx",
      "+ok",
      "-err",
      "-ERROR",
      "-ER",
      "-",
      "OK",
      "ERR",
      " +OK",
      "*OK",
      "220 ready",
    ]
  ) {
    assert.throws(() => parse(bad), ProtocolError, JSON.stringify(bad));
  }
});

test("pop3 status: SASL continuation only when allowed", () => {
  assert.deepEqual(parse("+ abc", true), { continuation: true, text: "abc" });
  assert.deepEqual(parse("+ ", true), { continuation: true, text: "" });
  assert.deepEqual(parse("+", true), { continuation: true, text: "" });
  assert.deepEqual(parse("+ dGVzdA== ", true), {
    continuation: true,
    text: "dGVzdA==",
  });
  // a real status still wins
  assert.deepEqual(parse("+OK done", true), { ok: true, text: "done" });
  assert.deepEqual(parse("-ERR no", true), { ok: false, text: "no" });
  for (const bad of ["+abc", "+ERR x", "+OKAY", ""]) {
    assert.throws(() => parse(bad, true), ProtocolError, JSON.stringify(bad));
  }
});

test("pop3 status: readPop3Status reads one line and closes on garbage", async () => {
  const { readable, stats } = source([
    "+OK POP3 ready <1.2@x>\r\n-ERR [IN-USE] busy\r\n",
  ]);
  let failed = 0;
  const r = new LineReader(readable, 512, () => failed++);
  const a = await readPop3Status(r, none, () => failed++);
  assert.deepEqual(a, { ok: true, text: "POP3 ready <1.2@x>" });
  const b = await readPop3Status(r, none, () => failed++);
  assert.deepEqual(b, { ok: false, text: "busy", respCode: "IN-USE" });
  assert.equal(stats.pulls, 1);
  assert.equal(failed, 0);

  for (const bad of ["+ERR x\r\n", "+ abc\r\n", "\r\n"]) {
    let f = 0;
    const r2 = new LineReader(source([bad]).readable, 512, () => f++);
    await assert.rejects(readPop3Status(r2, none, () => f++), ProtocolError);
    assert.equal(f, 1, JSON.stringify(bad));
  }
});

test("pop3 status: U+FEFF at the start of the text is kept", () => {
  assert.deepEqual(parse("+OK \uFEFFx"), { ok: true, text: "\uFEFFx" });
});

// ---- multi-line bodies ----

test("pop3 multiline: the first dot of every dot-leading line is removed", async () => {
  const { lines } = await body([
    "a\r\n..\r\n...\r\n..b\r\n.x\r\n. y\r\nc.d\r\n\r\n.\r\n",
  ]);
  assert.deepEqual(lines, ["a", ".", "..", ".b", "x", " y", "c.d", ""]);
});

test("pop3 multiline: stops at the lone dot and leaves the rest buffered", async () => {
  const { lines, r } = await body(["l1\r\n.\r\n+OK next\r\n"]);
  assert.deepEqual(lines, ["l1"]);
  assert.equal(dec.decode(await r.readLine(none)), "+OK next");
});

test("pop3 multiline: an empty body and a terminator over chunks", async () => {
  assert.deepEqual((await body([".\r\n"])).lines, []);
  assert.deepEqual((await body(["a\r", "\n", ".", "\r", "\n"])).lines, ["a"]);
  assert.deepEqual((await body(["a\n.\n"])).lines, ["a"], "bare LF tolerated");
});

test("pop3 multiline: a stuffed '..' line is data, a lone '.' ends the body", async () => {
  const { lines } = await body(["a\r\n..\r\nb\r\n.\r\n"]);
  assert.deepEqual(lines, ["a", ".", "b"]);
  // an unstuffed "." mid-message ends the body; the rest stays buffered
  const early = await body(["a\r\n.\r\nb\r\n.\r\n"]);
  assert.deepEqual(early.lines, ["a"]);
  assert.equal(early.r.buffered, 6);
});

test("pop3 multiline: the size cap is ProtocolError and closes", async () => {
  const { readable } = source(["0123456789\r\n".repeat(10) + ".\r\n"]);
  let failed = 0;
  const r = new LineReader(readable, 512, () => {});
  let seen = 0;
  await assert.rejects(
    readMultiline(r, none, 50, () => failed++, () => {
      seen++;
    }),
    ProtocolError,
  );
  assert.equal(failed, 1);
  assert.equal(seen, 4, "4 lines of 12 bytes fit in 50");
  // exactly at the cap is fine
  const exact = await body(["0123456789\r\n".repeat(4) + ".\r\n"], 48);
  assert.equal(exact.lines.length, 4);
});

test("pop3 multiline: a body that never ends is ConnectionClosedError at EOF", async () => {
  let failed = 0;
  const r = new LineReader(
    source(["a\r\nb\r\n"]).readable,
    512,
    () => failed++,
  );
  await assert.rejects(
    readMultiline(r, none, 1 << 20, () => failed++, () => {}),
    ConnectionClosedError,
  );
  assert.equal(failed, 1);
});

test("pop3 multiline: a body that never ends times out with a deadline", async () => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const readable = new ReadableStream<Uint8Array>({
    pull(c) {
      if (closed) return new Promise(() => {});
      return new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          c.enqueue(enc.encode("more\r\n"));
          resolve();
        }, 10);
      });
    },
  }, { highWaterMark: 0 });
  let failed = 0;
  const onFail = () => {
    failed++;
    closed = true;
    clearTimeout(timer);
  };
  const r = new LineReader(readable, 512, onFail);
  let lines = 0;
  const t0 = Date.now();
  await assert.rejects(
    readMultiline(r, new Deadline(100), 1 << 20, onFail, () => {
      lines++;
    }),
    (e: unknown) => {
      assert.ok(e instanceof TimeoutError);
      assert.match(e.message, /reading a message/);
      return true;
    },
  );
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 90 && elapsed < 600, `elapsed ${elapsed}`);
  assert.ok(lines >= 2, `${lines} lines before the deadline`);
  assert.equal(failed, 1);
});

test("pop3 multiline: lines far over 2048 bytes are fine with a larger cap", async () => {
  const long = "x".repeat(100_000);
  const wire = `${long}\r\n.${long}\r\nshort\r\n.\r\n`;
  const chunks: string[] = [];
  for (let i = 0; i < wire.length; i += 4096) {
    chunks.push(wire.slice(i, i + 4096));
  }
  const { lines } = await body(chunks, 1 << 20, 200_000);
  assert.deepEqual(lines, [long, long, "short"]);
});

test("pop3 multiline: an async onLine is awaited before the next line", async () => {
  const { readable } = source(["a\r\nb\r\n.\r\n"]);
  const r = new LineReader(readable, 512, () => {});
  const events: string[] = [];
  await readMultiline(r, none, 1000, () => {}, async (l) => {
    const s = dec.decode(l); // the view is valid during the call
    events.push(`start ${s}`);
    await new Promise((res) => setTimeout(res, 5));
    events.push(`end ${s}`);
  });
  assert.deepEqual(events, ["start a", "end a", "start b", "end b"]);
});

test("pop3 multiline property: stuffMessage then readMultiline gives back the body", async () => {
  const bodyArb = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.array(fc.constantFrom(13, 10, 46, 97), { maxLength: 200 }).map((a) =>
      new Uint8Array(a)
    ),
  );
  await fc.assert(
    fc.asyncProperty(
      bodyArb,
      fc.integer({ min: 1, max: 64 }),
      async (data, size) => {
        const wire = stuffMessage(data);
        const flat = new Uint8Array(wire.reduce((n, p) => n + p.length, 0));
        let o = 0;
        for (const p of wire) {
          flat.set(p, o);
          o += p.length;
        }
        const chunks: Uint8Array[] = [];
        for (let i = 0; i < flat.length; i += size) {
          chunks.push(
            flat.slice(i, i + size),
          );
        }
        const r = new LineReader(source(chunks).readable, 1000, () => {});
        const out: number[] = [];
        await readMultiline(r, none, 1 << 20, () => {}, (l) => {
          out.push(...l, 13, 10);
        });
        // the reference: every CRLF, CR or LF is one line end; a final one added
        const want: number[] = [];
        for (let i = 0; i < data.length; i++) {
          if (data[i] === 13) {
            want.push(13, 10);
            if (data[i + 1] === 10) i++;
          } else if (data[i] === 10) want.push(13, 10);
          else want.push(data[i]);
        }
        if (want.length && want[want.length - 1] !== 10) want.push(13, 10);
        assert.deepEqual(new Uint8Array(out), new Uint8Array(want));
        assert.equal(r.buffered, 0);
      },
    ),
    { numRuns: 300 },
  );
});

// ---- deadlines over buffered data, entry caps ----

test("pop3 multiline: a listing already buffered is stopped by a passed deadline", async () => {
  const text = "1 1\r\n".repeat(50_000) + ".\r\n";
  let failed = 0;
  const r = new LineReader(source([text]).readable, 512, () => failed++);
  const d = new ExpiringDeadline();
  let lines = 0;
  await assert.rejects(
    readMultiline(
      r,
      d,
      { maxBytes: 1 << 20, what: "list response" },
      () => failed++,
      () => {
        if (++lines === 10) d.expired = true;
      },
    ),
    (e: unknown) => {
      assert.ok(e instanceof TimeoutError);
      assert.match(e.message, /^reading the list response did not complete/);
      return true;
    },
  );
  assert.ok(failed >= 1, "the connection is closed");
  assert.ok(lines <= 10 + CHECK_EVERY_LINES, `${lines} lines read`);
});

test("pop3 multiline: maxLines caps the entries before the next line is handed out", async () => {
  const text = "1 1\r\n".repeat(1000) + ".\r\n";
  let failed = 0;
  const r = new LineReader(source([text]).readable, 512, () => {});
  let seen = 0;
  await assert.rejects(
    readMultiline(
      r,
      none,
      { maxBytes: 1 << 20, maxLines: 100, what: "uidl response" },
      () => failed++,
      () => {
        seen++;
      },
    ),
    (e: unknown) =>
      e instanceof ProtocolError &&
      e.message === "uidl response has more than 100 lines",
  );
  assert.equal(seen, 100);
  assert.equal(failed, 1);
  // Exactly maxLines lines are fine.
  const exact = new LineReader(
    source(["a\r\n".repeat(100) + ".\r\n"]).readable,
    512,
    () => {},
  );
  let n = 0;
  await readMultiline(
    exact,
    none,
    { maxBytes: 1000, maxLines: 100 },
    () => {},
    () => {
      n++;
    },
  );
  assert.equal(n, 100);
});

test("pop3 multiline: the byte cap message names what was read", async () => {
  const r = new LineReader(
    source(["xxxxxxxx\r\n.\r\n"]).readable,
    512,
    () => {},
  );
  await assert.rejects(
    readMultiline(
      r,
      none,
      { maxBytes: 5, what: "capa response" },
      () => {},
      () => {},
    ),
    (e: unknown) =>
      e instanceof ProtocolError &&
      e.message === "capa response exceeds 5 bytes",
  );
});

test("pop3 multiline: an endless LIST stops at the entry cap having read bounded bytes", async () => {
  // The catalogue's 64 MiB of "1 1" lines made 13 million entries: with
  // maxLines the reader stops at the cap, whatever the byte cap allows.
  let pulled = 0;
  const chunk = enc.encode("1 1\r\n".repeat(1000));
  const endless = new ReadableStream<Uint8Array>({
    pull(c) {
      pulled += chunk.length;
      c.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  let failed = 0;
  const r = new LineReader(endless, 512, () => failed++);
  let entries = 0;
  await assert.rejects(
    readMultiline(
      r,
      none,
      { maxBytes: 64 << 20, maxLines: 100_000, what: "list response" },
      () => failed++,
      () => {
        entries++;
      },
    ),
    /list response has more than 100000 lines/,
  );
  assert.equal(entries, 100_000);
  assert.ok(pulled <= 100_001 * 5 + chunk.length, `pulled ${pulled} bytes`);
  assert.equal(failed, 1);
});

// ---- bodies in bulk (readBody) ----

/** Split `flat` at the given cut points (sorted, deduplicated). */
function cut(flat: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (flat.length + 1)))].sort((a, b) =>
    a - b
  );
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const c of [...at, flat.length]) {
    if (c > from) chunks.push(flat.slice(from, c));
    from = Math.max(from, c);
  }
  return chunks;
}

test("pop3 body property: readBody gives readMultiline's bytes, however chunked", async () => {
  const raw = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.array(fc.constantFrom(13, 10, 46, 97), { maxLength: 300 }).map((a) =>
      new Uint8Array(a)
    ),
  );
  await fc.assert(
    fc.asyncProperty(
      raw,
      fc.array(fc.nat(), { maxLength: 40 }),
      fc.boolean(),
      fc.integer({ min: 1, max: 400 }),
      fc.boolean(),
      async (data, cuts, asyncData, maxBytes, keep) => {
        const tail = enc.encode("+OK next\r\n");
        const flat = new Uint8Array([
          ...data,
          ...enc.encode("\r\n.\r\n"),
          ...tail,
        ]);
        const chunks = cut(flat, cuts);
        // The reference: lines, each followed by CRLF.
        const want: number[] = [];
        let wantErr: unknown;
        const r1 = new LineReader(
          source(chunks).readable,
          1 << 20,
          () => {},
        );
        try {
          await readMultiline(r1, none, maxBytes, () => {}, (l) => {
            want.push(...l, 13, 10);
          });
        } catch (err) {
          wantErr = err;
        }
        // Kept views are held as given and read only at the end: nothing
        // may write them afterwards. Others are copied at once.
        const parts: Uint8Array[] = [];
        let failed = 0;
        const r2 = new LineReader(source(chunks).readable, 16, () => {});
        let gotErr: unknown;
        let n = -1;
        try {
          n = await readBody(r2, none, maxBytes, () => failed++, (b, kept) => {
            assert.ok(keep || !kept);
            parts.push(kept ? b : b.slice());
            if (asyncData) return new Promise((r) => setTimeout(r, 0));
          }, { keep });
        } catch (err) {
          gotErr = err;
        }
        const got = parts.flatMap((p) => [...p]);
        if (wantErr) {
          assert.ok(gotErr instanceof ProtocolError, String(gotErr));
          assert.equal(failed, 1);
          return;
        }
        assert.equal(gotErr, undefined);
        assert.deepEqual(new Uint8Array(got), new Uint8Array(want));
        assert.equal(n, want.length);
        // What follows the body is left for the next response.
        for (;;) {
          const a = dec.decode(await r1.readLine(none));
          assert.equal(dec.decode(await r2.readLine(none)), a);
          if (a === "+OK next") break;
        }
        assert.equal(r2.buffered, r1.buffered);
      },
    ),
    { numRuns: 1000 },
  );
});

test("pop3 body: one byte at a time, dot lines and CRLF split everywhere", async () => {
  const wire = "a\r\n..b\r\n.\r\r\n.x\n\n\r\r\n..\r\n.\r\n+OK\r\n";
  const chunks = [...enc.encode(wire)].map((b) => new Uint8Array([b]));
  const r = new LineReader(source(chunks).readable, 16, () => {});
  const got: number[] = [];
  await readBody(r, none, 1 << 20, () => {}, (b) => {
    got.push(...b);
  });
  assert.equal(
    dec.decode(new Uint8Array(got)),
    "a\r\n.b\r\n\r\r\nx\r\n\r\n\r\r\n.\r\n",
  );
  assert.equal(dec.decode(await r.readLine(none)), "+OK");
});

test("pop3 body: whole lines are handed out together, not a call per line", async () => {
  const lines = Array.from({ length: 100 }, (_, i) => `line ${i}\r\n`).join(
    "",
  );
  const r = new LineReader(
    source([lines + "..dot\r\n" + lines + ".\r\n"]).readable,
    16,
    () => {},
  );
  let calls = 0;
  await readBody(r, none, 1 << 20, () => {}, () => {
    calls++;
  });
  assert.equal(calls, 2);
  // In place: one view of the chunk, the stuffing dot squeezed out.
  const chunk = enc.encode(lines + "..dot\r\n" + lines + ".\r\n+OK\r\n");
  const r2 = new LineReader(source([chunk]).readable, 16, () => {});
  const views: Uint8Array[] = [];
  await readBody(r2, none, 1 << 20, () => {}, (b, kept) => {
    assert.ok(kept);
    views.push(b);
  }, { keep: true });
  assert.equal(views.length, 1);
  assert.equal(views[0].buffer, chunk.buffer);
  assert.equal(dec.decode(views[0]), lines + ".dot\r\n" + lines);
  assert.equal(dec.decode(await r2.readLine(none)), "+OK");
});

test("pop3 body: a body that never ends is ConnectionClosedError at EOF", async () => {
  const r = new LineReader(source(["abc\r\n", ".x"]).readable, 16, () => {});
  let closed = 0;
  await assert.rejects(
    readBody(r, none, 1 << 20, () => closed++, () => {}),
    ConnectionClosedError,
  );
});

test("pop3 body: a body already buffered is stopped by a passed deadline", async () => {
  const big = "x".repeat(1000) + "\r\n";
  // One chunk: no read (no race) happens while it is scanned.
  const r = new LineReader(
    source([big.repeat(600) + ".\r\n"]).readable,
    16,
    () => {},
  );
  const d = new ExpiringDeadline();
  let closed = 0;
  let calls = 0;
  await assert.rejects(
    readBody(r, d, 1 << 30, () => closed++, () => {
      d.expired = true;
      // A wait after every span: the scan resumes over the same buffer.
      if (++calls < 1000) return Promise.resolve();
    }),
    TimeoutError,
  );
  assert.equal(closed, 1);
  assert.ok(calls < 600, `${calls} spans before the deadline was seen`);
});
