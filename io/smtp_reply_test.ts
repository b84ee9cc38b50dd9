import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  makeReply,
  parseReplyLine,
  preview,
  readSmtpReply,
  readSmtpReplyCode,
  type ReplyLimits,
  type SmtpReply,
  takeQuickRun,
} from "./smtp_reply.ts";
import { CHECK_EVERY_LINES, LineReader } from "./line_reader.ts";
import { Deadline } from "./deadline.ts";
import { ExpiringDeadline } from "../tests/fuzz/expiring.ts";
import {
  ConnectionClosedError,
  ProtocolError,
  TimeoutError,
} from "../errors.ts";

const enc = new TextEncoder();
const none = new Deadline(undefined);
const LIMITS: ReplyLimits = { maxLines: 100, maxBytes: 64 * 1024 };

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

async function read(
  chunks: readonly (Uint8Array | string)[],
  limits = LIMITS,
): Promise<SmtpReply> {
  const { readable } = source(chunks);
  const r = new LineReader(readable, 8192, () => {});
  return await readSmtpReply(r, none, limits, () => {});
}

/** Read expecting a failure; returns the error and how often onFail ran. */
async function readFail(
  chunks: readonly (Uint8Array | string)[],
  limits = LIMITS,
): Promise<{ err: unknown; failed: number }> {
  const { readable } = source(chunks);
  let failed = 0;
  const r = new LineReader(readable, 8192, () => failed++);
  try {
    await readSmtpReply(r, none, limits, () => failed++);
  } catch (err) {
    return { err, failed };
  }
  assert.fail(`expected a failure for ${JSON.stringify(chunks)}`);
}

// ---- parseReplyLine ----

test("smtp reply: parseReplyLine splits code, separator and text", () => {
  assert.deepEqual(parseReplyLine(enc.encode("250 ok")), {
    code: 250,
    last: true,
    text: "ok",
  });
  assert.deepEqual(parseReplyLine(enc.encode("250-PIPELINING")), {
    code: 250,
    last: false,
    text: "PIPELINING",
  });
  assert.deepEqual(parseReplyLine(enc.encode("250")), {
    code: 250,
    last: true,
    text: "",
  });
  assert.deepEqual(parseReplyLine(enc.encode("250 ")), {
    code: 250,
    last: true,
    text: "",
  });
  assert.deepEqual(parseReplyLine(enc.encode("354-")), {
    code: 354,
    last: false,
    text: "",
  });
  assert.equal(
    parseReplyLine(enc.encode("550 5.1.1  two  spaces ")).text,
    "5.1.1  two  spaces ",
  );
});

test("smtp reply: invalid codes and separators are ProtocolError", () => {
  for (
    const bad of [
      "",
      "2",
      "25",
      "099",
      "199",
      "600",
      "999",
      "2x0",
      "x50",
      "25x",
      "260",
      "290 x",
      "2500",
      "250x",
      "250\tok",
      "250_ok",
      " 250 ok",
      "-250 ok",
      "+OK",
      "25 0",
    ]
  ) {
    assert.throws(
      () => parseReplyLine(enc.encode(bad)),
      ProtocolError,
      JSON.stringify(bad),
    );
  }
  // all valid corners
  for (const good of ["200", "259 x", "500", "559-y", "450", "300"]) {
    parseReplyLine(enc.encode(good));
  }
});

test("smtp reply: the error message previews at most 40 bytes", () => {
  const long = "x".repeat(5000);
  assert.throws(() => parseReplyLine(enc.encode(long)), (e: unknown) => {
    assert.ok(e instanceof ProtocolError);
    assert.ok(e.message.length < 100, e.message);
    return true;
  });
  assert.equal(preview(enc.encode("abc")), "abc");
  assert.equal(preview(enc.encode("a".repeat(41))), "a".repeat(40) + "...");
});

// ---- makeReply ----

test("smtp reply: permanent and transient flags", () => {
  const flags = (code: number) => {
    const r = makeReply(code, ["x"]);
    return [r.permanent, r.transient];
  };
  assert.deepEqual(flags(250), [false, false]);
  assert.deepEqual(flags(354), [false, false]);
  assert.deepEqual(flags(421), [false, true]);
  assert.deepEqual(flags(499), [false, true]);
  assert.deepEqual(flags(500), [true, false]);
  assert.deepEqual(flags(554), [true, false]);
});

test("smtp reply: enhanced code only when its class matches the reply", () => {
  assert.equal(makeReply(250, ["2.1.0 Ok"]).enhancedCode, "2.1.0");
  assert.equal(makeReply(250, ["2.1.0"]).enhancedCode, "2.1.0");
  assert.equal(makeReply(550, ["5.7.1 Relay denied"]).enhancedCode, "5.7.1");
  assert.equal(makeReply(451, ["4.123.456 x"]).enhancedCode, "4.123.456");
  assert.equal(makeReply(550, ["2.1.0 Ok"]).enhancedCode, undefined);
  assert.equal(makeReply(250, ["5.1.1 x"]).enhancedCode, undefined);
  assert.equal(
    makeReply(354, ["3.0.0 go"]).enhancedCode,
    undefined,
    "no class 3",
  );
  assert.equal(makeReply(250, ["2.1.0x"]).enhancedCode, undefined);
  assert.equal(makeReply(250, ["2.1000.0 x"]).enhancedCode, undefined);
  assert.equal(makeReply(250, ["2.1 x"]).enhancedCode, undefined);
  assert.equal(makeReply(250, [" 2.1.0 x"]).enhancedCode, undefined);
  assert.equal(
    makeReply(250, ["Ok", "2.1.0 x"]).enhancedCode,
    undefined,
    "first line only",
  );
  assert.equal(makeReply(250, []).enhancedCode, undefined);
  assert.ok(
    !("enhancedCode" in makeReply(250, ["ok"])),
    "absent, not undefined",
  );
  const r = makeReply(250, ["2.0.0 a", "b"]);
  assert.deepEqual(r.lines, ["2.0.0 a", "b"]);
  assert.equal(r.text, "2.0.0 a\nb");
});

// ---- readSmtpReply ----

test("smtp reply: single-line reply", async () => {
  const r = await read(["220 mx.example ESMTP\r\n"]);
  assert.deepEqual(r, makeReply(220, ["mx.example ESMTP"]));
  assert.equal(r.text, "mx.example ESMTP");
});

test("smtp reply: bare code with no text", async () => {
  const r = await read(["250\r\n"]);
  assert.equal(r.code, 250);
  assert.deepEqual(r.lines, [""]);
  assert.equal(r.text, "");
});

test("smtp reply: multi-line EHLO reply over odd chunks", async () => {
  const wire =
    "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n";
  const r = await read([wire.slice(0, 5), wire.slice(5, 17), wire.slice(17)]);
  assert.equal(r.code, 250);
  assert.deepEqual(r.lines, [
    "mx.example",
    "PIPELINING",
    "SIZE 1000",
    "8BITMIME",
  ]);
  assert.equal(r.text, "mx.example\nPIPELINING\nSIZE 1000\n8BITMIME");
  assert.equal(r.permanent, false);
});

test("smtp reply: pipelined replies in one chunk are read one by one", async () => {
  const { readable, stats } = source([
    "250 2.1.0 a\r\n550 5.1.1 b\r\n354 go\r\n",
  ]);
  const lr = new LineReader(readable, 8192, () => {});
  const a = await readSmtpReply(lr, none, LIMITS, () => {});
  const b = await readSmtpReply(lr, none, LIMITS, () => {});
  const c = await readSmtpReply(lr, none, LIMITS, () => {});
  assert.deepEqual([a.code, b.code, c.code], [250, 550, 354]);
  assert.deepEqual([a.enhancedCode, b.enhancedCode, c.enhancedCode], [
    "2.1.0",
    "5.1.1",
    undefined,
  ]);
  assert.equal(b.permanent, true);
  assert.equal(stats.pulls, 1);
});

test("smtp reply: mixed codes are ProtocolError and close", async () => {
  const { err, failed } = await readFail(["250-a\r\n251 b\r\n"]);
  assert.ok(err instanceof ProtocolError);
  assert.match((err as Error).message, /250.*251/);
  assert.equal(failed, 1);
});

test("smtp reply: a malformed line (099, 600, 2x0, 260) fails and closes", async () => {
  for (
    const bad of ["099 x", "600 x", "2x0 x", "260 x", "250-ok\r\n25", "250x"]
  ) {
    const { err, failed } = await readFail([bad + "\r\n"]);
    assert.ok(err instanceof ProtocolError, bad);
    assert.equal(failed, 1, bad);
  }
});

test("smtp reply: EOF inside a multi-line reply is ConnectionClosedError", async () => {
  const { err } = await readFail(["250-a\r\n250-b\r\n"]);
  assert.ok(err instanceof ConnectionClosedError);
});

test("smtp reply: exactly maxLines lines are accepted", async () => {
  const lines = Array.from(
    { length: 5 },
    (_, i) => `250${i < 4 ? "-" : " "}l${i}\r\n`,
  );
  const r = await read([lines.join("")], { maxLines: 5, maxBytes: 1000 });
  assert.equal(r.lines.length, 5);
  const more = Array.from(
    { length: 6 },
    (_, i) => `250${i < 5 ? "-" : " "}l${i}\r\n`,
  );
  const { err, failed } = await readFail([more.join("")], {
    maxLines: 5,
    maxBytes: 1000,
  });
  assert.ok(err instanceof ProtocolError);
  assert.equal(failed, 1);
});

test("smtp reply: a 10^6-line reply stops at maxLines without reading it all", async () => {
  let pulls = 0;
  const line = enc.encode("250-spam spam spam\r\n");
  const readable = new ReadableStream<Uint8Array>({
    pull(c) {
      pulls++;
      if (pulls > 1_000_000) c.enqueue(enc.encode("250 end\r\n"));
      else c.enqueue(line);
    },
  }, { highWaterMark: 0 });
  let failed = 0;
  const lr = new LineReader(readable, 512, () => failed++);
  await assert.rejects(
    readSmtpReply(
      lr,
      none,
      { maxLines: 1000, maxBytes: 1 << 20 },
      () => failed++,
    ),
    ProtocolError,
  );
  assert.equal(pulls, 1000, "one chunk per line, none past the limit");
  assert.equal(failed, 1);
});

test("smtp reply: maxBytes caps the total size of a reply", async () => {
  let pulls = 0;
  const line = enc.encode("250-" + "x".repeat(96) + "\r\n"); // 100 bytes counted
  const readable = new ReadableStream<Uint8Array>({
    pull(c) {
      pulls++;
      c.enqueue(line);
    },
  }, { highWaterMark: 0 });
  let failed = 0;
  const lr = new LineReader(readable, 512, () => failed++);
  await assert.rejects(
    readSmtpReply(
      lr,
      none,
      { maxLines: 1_000_000, maxBytes: 1000 },
      () => failed++,
    ),
    ProtocolError,
  );
  assert.ok(pulls <= 11, `pulled ${pulls} lines`);
  assert.equal(failed, 1);
});

test("smtp reply: a line longer than the reader's cap is ProtocolError", async () => {
  const { readable } = source(["250-" + "x".repeat(600) + "\r\n"]);
  let failed = 0;
  const lr = new LineReader(readable, 512, () => failed++);
  await assert.rejects(
    readSmtpReply(lr, none, LIMITS, () => failed++),
    ProtocolError,
  );
  assert.equal(failed, 1);
});

test("smtp reply: text is decoded as UTF-8, U+FEFF and all", async () => {
  const r = await read(["250-\u00e9t\u00e9\r\n250 \uFEFFbom\r\n"]);
  assert.deepEqual(r.lines, ["\u00e9t\u00e9", "\uFEFFbom"]);
  const bad = await read([new Uint8Array([50, 53, 48, 32, 0xff, 13, 10])]);
  assert.deepEqual(bad.lines, ["\uFFFD"], "invalid UTF-8 does not throw");
});

// ---- properties ----

const codeArb = fc
  .tuple(
    fc.integer({ min: 2, max: 5 }),
    fc.integer({ min: 0, max: 5 }),
    fc.integer({ min: 0, max: 9 }),
  )
  .map(([a, b, c]) => a * 100 + b * 10 + c);
const textArb = fc.oneof(
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.tuple(
    fc.integer({ min: 2, max: 5 }),
    fc.nat(999),
    fc.nat(999),
    fc.string({ maxLength: 10 }),
  ).map(([a, b, c, t]) => `${a}.${b}.${c} ${t}`),
).map((s) => s.replace(/[\r\n]/g, " "));

test("smtp reply property: parse(serialize(r)) deep-equals r under any chunking", async () => {
  await fc.assert(
    fc.asyncProperty(
      codeArb,
      fc.array(textArb, { minLength: 1, maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      async (code, lines, cuts) => {
        const r = makeReply(code, lines);
        assert.deepEqual(r.lines, lines);
        const wire = enc.encode(
          lines.map((t, i) =>
            `${code}${i === lines.length - 1 ? " " : "-"}${t}\r\n`
          )
            .join(""),
        );
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))]
          .sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(wire.slice(prev, p));
          prev = p;
        }
        chunks.push(wire.slice(prev));
        const got = await read(chunks.filter((c) => c.length));
        assert.deepEqual(got, r);
      },
    ),
    { numRuns: 500 },
  );
});

test("smtp reply fuzz: random bytes fail only with ProtocolError or ConnectionClosedError", async () => {
  const byteArb = fc.oneof(
    fc.integer({ min: 0, max: 255 }),
    fc.constantFrom(13, 10, 32, 45, 48, 50, 53, 57),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(byteArb, { maxLength: 60 }), { maxLength: 6 }),
      fc.boolean(),
      async (chunks, prefix) => {
        const parts = chunks.map((c) => new Uint8Array(c));
        if (prefix) parts.unshift(enc.encode("250-"));
        const { readable } = source(parts.filter((c) => c.length));
        const lr = new LineReader(readable, 64, () => {});
        try {
          const r = await readSmtpReply(lr, none, {
            maxLines: 4,
            maxBytes: 100,
          }, () => {});
          assert.ok(r.code >= 200 && r.code <= 559);
          assert.ok(r.lines.length >= 1 && r.lines.length <= 4);
        } catch (err) {
          assert.ok(
            err instanceof ProtocolError ||
              err instanceof ConnectionClosedError,
            String(err),
          );
        }
      },
    ),
    { numRuns: 1000 },
  );
});

// ---- deadlines over buffered data, caps ----

test("smtp reply: a reply already buffered is stopped by a passed deadline (checked by the clock)", async () => {
  // 10 000 EHLO lines in one chunk: no read, so no timer, until the end.
  const text = "250-AUTH PLAIN LOGIN\r\n".repeat(10_000) + "250 OK\r\n";
  const { readable } = source([text]);
  let failed = 0;
  const r = new LineReader(readable, 8192, () => failed++);
  const d = new ExpiringDeadline();
  // The first line is read (a real read), then the deadline passes.
  assert.equal((await r.readLine(d)).length, 20);
  d.expired = true;
  await assert.rejects(
    readSmtpReply(
      r,
      d,
      { maxLines: 100_000, maxBytes: 1 << 20 },
      () => failed++,
    ),
    (e: unknown) => {
      assert.ok(e instanceof TimeoutError);
      assert.match(
        e.message,
        /reading a reply did not complete within 60000 ms/,
      );
      return true;
    },
  );
  assert.ok(failed >= 1, "the connection is closed");
  // It stopped within CHECK_EVERY_LINES lines, not at the end of the reply.
  const left = r.buffered / 22;
  assert.ok(left > 10_000 - 1 - CHECK_EVERY_LINES, `${left} lines left`);
});

test("smtp reply: a large allowed reply finishes within its deadline, or the deadline fires on time", async () => {
  // 200 000 lines (4.4 MB) buffered at once, a 30 ms budget: either it is
  // parsed in time or the TimeoutError comes promptly, never long after.
  const text = "250-AUTH PLAIN LOGIN\r\n".repeat(200_000) + "250 OK\r\n";
  const { readable } = source([text]);
  const r = new LineReader(readable, 8192, () => {});
  const t0 = performance.now();
  let outcome: string;
  try {
    const reply = await readSmtpReply(
      r,
      new Deadline(30),
      { maxLines: 1_000_000, maxBytes: 1 << 23 },
      () => {},
    );
    outcome = `${reply.lines.length} lines`;
  } catch (err) {
    assert.ok(err instanceof TimeoutError, String(err));
    outcome = "timeout";
  }
  const elapsed = performance.now() - t0;
  assert.ok(elapsed < 30 + 400, `${outcome} after ${elapsed} ms`);
});

test("smtp reply: the cap messages name the cap, the final line counts toward maxBytes", async () => {
  const lines = await readFail(["250-a\r\n250-b\r\n250 c\r\n"], {
    maxLines: 2,
    maxBytes: 1000,
    what: "ehlo reply",
  });
  assert.ok(lines.err instanceof ProtocolError);
  assert.equal(lines.err.message, "ehlo reply has more than 2 lines");
  // A single final line over maxBytes is refused too (it used to pass).
  const bytes = await readFail(["250 " + "x".repeat(100) + "\r\n"], {
    maxLines: 10,
    maxBytes: 50,
  });
  assert.ok(bytes.err instanceof ProtocolError);
  assert.equal(bytes.err.message, "smtp reply exceeds 50 bytes");
  assert.equal(bytes.failed, 1);
  const ok = await read(["250 " + "x".repeat(46) + "\r\n"], {
    maxLines: 10,
    maxBytes: 50,
  });
  assert.equal(ok.text.length, 46);
});

test("makeReply: the enhanced code is read as RFC 3463 says (the class matching the reply's), same as the pattern", () => {
  const pattern = /^([245])\.(\d{1,3})\.(\d{1,3})(?: |$)/;
  const expected = (code: number, first: string) => {
    const m = pattern.exec(first);
    return m && Number(m[1]) === Math.floor(code / 100)
      ? `${m[1]}.${m[2]}.${m[3]}`
      : undefined;
  };
  for (
    const [code, first] of [
      [250, "2.0.0 ok"],
      [250, "2.0.0"],
      [250, "2.1.5 recipient ok"],
      [550, "5.123.999 x"],
      [550, "5.1234.1 x"],
      [550, "5.1.1234 x"],
      [550, "2.1.1 wrong class"],
      [550, "5.1.1x"],
      [550, "5..1 x"],
      [550, "5.1. x"],
      [250, "3.0.0 no such class"],
      [250, ""],
      [250, "ok"],
    ] as const
  ) {
    assert.equal(makeReply(code, [first]).enhancedCode, expected(code, first));
  }
  fc.assert(
    fc.property(
      fc.constantFrom(250, 354, 421, 451, 550),
      fc.stringMatching(/^[245]?\.?[0-9]{0,4}\.?[0-9]{0,4}[ x]?.{0,3}$/),
      fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }),
      (code, first, rest) => {
        const r = makeReply(code, [first, ...rest]);
        assert.equal(r.enhancedCode, expected(code, first));
        assert.equal("enhancedCode" in r, expected(code, first) !== undefined);
        assert.equal(r.text, [first, ...rest].join("\n"));
      },
    ),
  );
});

// ---- takeQuickRun: a pipelined envelope's replies in one call ------------

/** A reader with `chunks` buffered (each pulled once), for takeQuickRun. */
async function buffered(chunks: string[], maxLine = 1000) {
  const { readable } = source(chunks);
  const reader = new LineReader(readable, maxLine, () => {});
  for (let i = 0; i < chunks.length; i++) await reader.more(none);
  return reader;
}

const text = (b: Uint8Array | null) => b && new TextDecoder().decode(b);

test("takeQuickRun: takes the buffered single-line replies with the code, stops before any other", async () => {
  const r = await buffered([
    "250 2.1.5 ok\r\n250\r\n250 x\n",
    "251 forward\r\n250 ok\r\n",
  ]);
  assert.equal(takeQuickRun(r, 250, 10, 1000), 3);
  // The 251 stays for a full read; nothing of it was taken.
  assert.equal(text(r.tryReadLine()), "251 forward");
  assert.equal(takeQuickRun(r, 250, 10, 1000), 1);
  assert.equal(r.buffered, 0);
  assert.equal(takeQuickRun(r, 250, 10, 1000), 0);
});

test("takeQuickRun: at most `max`; a line split across reads, a continuation, a 421 and a long line stop it", async () => {
  let r = await buffered(["250 a\r\n250 b\r\n250 c\r\n"]);
  assert.equal(takeQuickRun(r, 250, 2, 1000), 2);
  assert.equal(text(r.tryReadLine()), "250 c");

  // An incomplete line (the rest in the next read) stays buffered.
  const { readable } = source(["250 a\r\n25", "0 b\r\n"]);
  r = new LineReader(readable, 1000, () => {});
  await r.more(none);
  assert.equal(takeQuickRun(r, 250, 10, 1000), 1);
  assert.equal(r.tryReadLine(), null);
  assert.equal(text(await r.readLine(none)), "250 b");

  for (
    const stop of [
      "250-first\r\n250 last\r\n",
      "421 4.3.2 bye\r\n",
      "2500 no\r\n",
      "250x\r\n",
      `250 ${"x".repeat(20)}\r\n`,
      "25\r\n",
      "\r\n",
    ]
  ) {
    r = await buffered(["250 a\r\n" + stop + "250 b\r\n"]);
    assert.equal(takeQuickRun(r, 250, 10, 20), 1, JSON.stringify(stop));
    assert.equal(text(r.tryReadLine()), stop.split(/\r?\n/)[0]);
  }
});

test("takeQuickRun: the same verdict as readSmtpReplyCode, line by line (random replies and chunking)", async () => {
  const line = fc.oneof(
    fc.constantFrom("250", "250 ok", "250 2.1.5 ok", "250-more", "251 ok"),
    fc.constantFrom("421 bye", "550 no", "25", "2500", "250x", ""),
    fc.string({ maxLength: 12 }).map((s) => "250 " + s.replace(/[\r\n]/g, "")),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(line, fc.boolean()), { maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 6 }),
      fc.integer({ min: 0, max: 14 }),
      async (lines, cuts, max) => {
        const all = lines.map(([l, cr]) => l + (cr ? "\r\n" : "\n")).join("");
        const chunks: string[] = [];
        let at = 0;
        for (const c of cuts) {
          if (at >= all.length) break;
          chunks.push(all.slice(at, at + c));
          at += c;
        }
        if (at < all.length) chunks.push(all.slice(at));
        const r = await buffered(chunks, 16);
        const n = takeQuickRun(r, 250, max, 16);
        // What readSmtpReplyCode makes of the same bytes, reply by reply.
        const { readable } = source([all]);
        const ref = new LineReader(readable, 16, () => {});
        let want = 0;
        while (want < max) {
          const got = await readSmtpReplyCode(
            ref,
            none,
            LIMITS,
            () => {},
            250,
          ).catch(() => undefined);
          if (got !== 250) break;
          want++;
        }
        // Everything is buffered: the run takes exactly those replies.
        assert.equal(n, want);
        const rest = all.slice(
          all.split(/(?<=\n)/).slice(0, n).join("").length,
        );
        assert.equal(text(r.view()), rest);
      },
    ),
  );
});
