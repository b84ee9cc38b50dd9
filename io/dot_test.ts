import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DotStuffer, stuffDots, stuffMessage } from "./dot.ts";

const CR = 13;
const LF = 10;
const enc = new TextEncoder();
const dec = new TextDecoder();

function bytes(s: string): Uint8Array {
  return enc.encode(s);
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

/** Encode `chunks` with one DotStuffer, terminator included. */
function encodeChunks(chunks: readonly Uint8Array[], stuff = true): Uint8Array {
  const e = new DotStuffer(stuff);
  const out = chunks.map((c) => e.push(c));
  out.push(e.end());
  return concat(out);
}

/** Encode a string split into string chunks, returned as a string. */
function encodeStr(...chunks: string[]): string {
  return dec.decode(encodeChunks(chunks.map(bytes)));
}

/** Reference normaliser, independent of dot.ts: CRLF | CR | LF → CRLF. */
function normalise(input: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < input.length; i++) {
    const b = input[i];
    if (b === CR) {
      out.push(CR, LF);
      if (input[i + 1] === LF) i++;
    } else if (b === LF) {
      out.push(CR, LF);
    } else {
      out.push(b);
    }
  }
  return new Uint8Array(out);
}

function endsWithCrlf(b: Uint8Array): boolean {
  return b.length >= 2 && b[b.length - 2] === CR && b[b.length - 1] === LF;
}

/** Expected decoded body: normalised, with a final CRLF when missing. */
function expectedBody(input: Uint8Array): Uint8Array {
  const n = normalise(input);
  if (n.length === 0 || endsWithCrlf(n)) return n;
  return concat([n, new Uint8Array([CR, LF])]);
}

/**
 * Reference decoder: split on CRLF, check and drop the "." terminator line,
 * remove one leading dot per line.
 */
function decode(out: Uint8Array): Uint8Array {
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i + 1 < out.length; i++) {
    if (out[i] === CR && out[i + 1] === LF) {
      lines.push(out.subarray(start, i));
      start = i + 2;
      i++;
    }
  }
  assert.equal(start, out.length, "output ends with CRLF");
  const last = lines.pop();
  assert.deepEqual(last, new Uint8Array([46]), "last line is the terminator");
  const parts: Uint8Array[] = [];
  for (const line of lines) {
    parts.push(line[0] === 46 ? line.subarray(1) : line);
    parts.push(new Uint8Array([CR, LF]));
  }
  return concat(parts);
}

/** Split `data` at the given cut points (any values; reduced mod length). */
function split(data: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [
    ...new Set(cuts.map((c) => data.length ? c % (data.length + 1) : 0)),
  ].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    chunks.push(data.slice(prev, p)); // may be empty: empty chunks must be harmless
    prev = p;
  }
  chunks.push(data.slice(prev));
  return chunks;
}

/** Bytes biased towards the interesting ones (CR, LF, ".") plus anything. */
const bodyBytes = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.array(fc.constantFrom(CR, LF, 46, 97, 0), { maxLength: 200 }).map((a) =>
    new Uint8Array(a)
  ),
);
const cutPoints = fc.array(fc.nat(), { maxLength: 12 });

async function pipeChunks(
  chunks: readonly Uint8Array[],
  ts: TransformStream<Uint8Array, Uint8Array>,
): Promise<Uint8Array[]> {
  let i = 0;
  const src = new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < chunks.length) c.enqueue(chunks[i++]);
      else c.close();
    },
  });
  const out: Uint8Array[] = [];
  const reader = src.pipeThrough(ts).getReader();
  for (;;) {
    const r = await reader.read();
    if (r.done) return out;
    out.push(r.value);
  }
}

// ---- unit cases ----

test("dot: empty body is just the terminator", () => {
  assert.equal(encodeStr(), ".\r\n");
  assert.equal(encodeStr(""), ".\r\n");
  assert.equal(dec.decode(concat(stuffMessage(new Uint8Array(0)))), ".\r\n");
});

test("dot: a line without line end gets CRLF before the terminator", () => {
  assert.equal(encodeStr("a"), "a\r\n.\r\n");
});

test("dot: a body ending in CRLF gets no extra line", () => {
  assert.equal(encodeStr("a\r\n"), "a\r\n.\r\n");
});

test("dot: leading dot is doubled", () => {
  assert.equal(encodeStr(".x"), "..x\r\n.\r\n");
  assert.equal(encodeStr("a\r\n.x\r\n"), "a\r\n..x\r\n.\r\n");
  assert.equal(encodeStr("a.b\r\n"), "a.b\r\n.\r\n", "inner dots untouched");
});

test("dot: bare LF and bare CR become CRLF", () => {
  assert.equal(encodeStr("a\nb\n"), "a\r\nb\r\n.\r\n");
  assert.equal(encodeStr("a\rb\r"), "a\r\nb\r\n.\r\n");
  assert.equal(encodeStr("\n\n"), "\r\n\r\n.\r\n");
  assert.equal(encodeStr("a\n\rb"), "a\r\n\r\nb\r\n.\r\n", "LF CR is two ends");
});

test("dot: CR CR LF is two line ends", () => {
  assert.equal(encodeStr("a\r\r\nb"), "a\r\n\r\nb\r\n.\r\n");
});

test("dot: a lone '.' line mid-message is stuffed, not an end", () => {
  assert.equal(encodeStr("a\r\n.\r\nb\r\n"), "a\r\n..\r\nb\r\n.\r\n");
  assert.equal(encodeStr("a\n.\nb"), "a\r\n..\r\nb\r\n.\r\n");
  assert.equal(encodeStr(".\r\n"), "..\r\n.\r\n");
});

test("dot: body ending in CR", () => {
  assert.equal(encodeStr("a\r"), "a\r\n.\r\n");
  assert.equal(encodeStr("\r"), "\r\n.\r\n");
  assert.equal(encodeStr("a", "\r"), "a\r\n.\r\n");
});

test("dot: chunk boundary between CR | LF", () => {
  assert.equal(encodeStr("a\r", "\nb"), "a\r\nb\r\n.\r\n");
  assert.equal(encodeStr("a\r", "\n"), "a\r\n.\r\n");
  assert.equal(encodeStr("a\r", "", "\nb"), "a\r\nb\r\n.\r\n");
  // CR | CR LF: the first CR is a line end of its own
  assert.equal(encodeStr("a\r", "\r\nb"), "a\r\n\r\nb\r\n.\r\n");
});

test("dot: chunk boundary between LF | '.'", () => {
  assert.equal(encodeStr("a\r\n", ".b\r\n"), "a\r\n..b\r\n.\r\n");
  assert.equal(encodeStr("a\n", ".b"), "a\r\n..b\r\n.\r\n");
  assert.equal(encodeStr("a\r\n", ".\r\n"), "a\r\n..\r\n.\r\n");
});

test("dot: chunk boundary between CR | '.'", () => {
  assert.equal(encodeStr("a\r", ".b"), "a\r\n..b\r\n.\r\n");
  assert.equal(encodeStr("a\r", ".\r\n"), "a\r\n..\r\n.\r\n");
});

test("dot: chunk boundary between CR | LF | '.'", () => {
  assert.equal(encodeStr("a\r", "\n", ".b"), "a\r\n..b\r\n.\r\n");
  assert.equal(encodeStr("a\r", "\n.", "b"), "a\r\n..b\r\n.\r\n");
});

test("dot: a dot chunk mid-line is not stuffed", () => {
  assert.equal(encodeStr("a", ".b"), "a.b\r\n.\r\n");
  assert.equal(encodeStr("a", ".", ".", "\r\n"), "a..\r\n.\r\n");
});

test("dot: clean chunks pass through as the same object", () => {
  const e = new DotStuffer();
  const c1 = bytes("hello\r\nworld\r\n");
  const c2 = bytes("no line end yet");
  const c3 = bytes(" ... still\r\n");
  const c4 = bytes("x.y\r\n");
  const c5 = new Uint8Array(0);
  assert.equal(e.push(c1), c1);
  assert.equal(e.push(c2), c2);
  assert.equal(e.push(c3), c3);
  assert.equal(e.push(c4), c4);
  assert.equal(e.push(c5), c5);
  assert.equal(dec.decode(e.end()), ".\r\n");
});

test("dot: dirty chunks are copied, never modified in place", () => {
  const e = new DotStuffer();
  const c = bytes(".a\nb");
  const before = c.slice();
  const out = e.push(c);
  assert.notEqual(out, c);
  assert.deepEqual(c, before);
  assert.equal(dec.decode(out), "..a\r\nb");
});

test("dot: the fast path is not taken after a chunk ending in CR", () => {
  const e = new DotStuffer();
  e.push(bytes("a\r"));
  const c = bytes("\nb\r\n");
  const out = e.push(c);
  assert.equal(dec.decode(out), "\r\nb\r\n");
  // the LF of the first line end is not doubled
  assert.equal(dec.decode(e.end()), ".\r\n");
});

test("dot: the fast path is not taken for a line-leading dot", () => {
  const e = new DotStuffer();
  assert.equal(dec.decode(e.push(bytes("a\r\n"))), "a\r\n");
  const c = bytes(".b\r\n");
  const out = e.push(c);
  assert.notEqual(out, c);
  assert.equal(dec.decode(out), "..b\r\n");
});

test("dot: stuff=false (BDAT) normalises line ends only", () => {
  const run = (...chunks: string[]) =>
    dec.decode(encodeChunks(chunks.map(bytes), false));
  assert.equal(run(), "");
  assert.equal(run("a"), "a\r\n");
  assert.equal(run(".a\r\n"), ".a\r\n");
  assert.equal(run("a\n.\nb"), "a\r\n.\r\nb\r\n");
  assert.equal(run("a\r", ".b\r"), "a\r\n.b\r\n");
  // clean chunks with leading dots still pass through without a copy
  const e = new DotStuffer(false);
  const c = bytes(".x\r\n.\r\n");
  assert.equal(e.push(c), c);
});

test("dot: stuffMessage returns the encoded parts, terminator last", () => {
  const body = bytes("Subject: x\r\n\r\n.hi\r\n");
  const parts = stuffMessage(body);
  assert.equal(
    dec.decode(concat(parts)),
    "Subject: x\r\n\r\n..hi\r\n.\r\n",
  );
  const clean = bytes("Subject: x\r\n\r\nhi\r\n");
  const p2 = stuffMessage(clean);
  assert.equal(p2[0], clean, "a clean body is not copied");
  assert.equal(
    dec.decode(concat(stuffMessage(bytes("a\nb"), false))),
    "a\r\nb\r\n",
  );
});

test("dot: the terminator arrays are not shared between encoders", () => {
  const a = new DotStuffer().end();
  a.fill(0); // a consumer that scribbles on (or transfers) its chunk
  assert.equal(dec.decode(new DotStuffer().end()), ".\r\n");
  const b = new DotStuffer();
  b.push(bytes("x"));
  b.end().fill(0);
  const c = new DotStuffer();
  c.push(bytes("x"));
  assert.equal(dec.decode(c.end()), "\r\n.\r\n");
});

test("dot: stuffDots stream encodes across chunks", async () => {
  const chunks = ["a\r", "\n.", "b\n", "c"].map(bytes);
  const out = await pipeChunks(chunks, stuffDots());
  assert.equal(dec.decode(concat(out)), "a\r\n..b\r\nc\r\n.\r\n");
});

test("dot: stuffDots passes clean chunks through by identity", async () => {
  const c = bytes("clean\r\n");
  const out = await pipeChunks([c], stuffDots());
  assert.equal(out[0], c);
  assert.equal(dec.decode(concat(out)), "clean\r\n.\r\n");
});

test("dot: stuffDots with terminate=false and stuff=false", async () => {
  const out = await pipeChunks(
    ["a\n", ".b"].map(bytes),
    stuffDots({ terminate: false }),
  );
  assert.equal(dec.decode(concat(out)), "a\r\n..b");
  const out2 = await pipeChunks(
    ["a\n", ".b"].map(bytes),
    stuffDots({ stuff: false }),
  );
  assert.equal(dec.decode(concat(out2)), "a\r\n.b\r\n");
});

test("dot: stuffDots with terminate=false never drops a trailing CR", async () => {
  // A trailing CR is held back in case an LF follows; at the end it must
  // still come out (as CRLF), not vanish.
  for (const stuff of [true, false]) {
    const out = await pipeChunks(
      ["a\r"].map(bytes),
      stuffDots({ stuff, terminate: false }),
    );
    assert.equal(dec.decode(concat(out)), "a\r\n", `stuff=${stuff}`);
    const out2 = await pipeChunks(
      ["a", "\r", ""].map(bytes),
      stuffDots({ stuff, terminate: false }),
    );
    assert.equal(dec.decode(concat(out2)), "a\r\n", `stuff=${stuff}`);
  }
});

// ---- properties ----

test("dot property: chunked encoding equals one-shot encoding", () => {
  fc.assert(
    fc.property(bodyBytes, cutPoints, fc.boolean(), (data, cuts, stuff) => {
      const oneShot = encodeChunks([data], stuff);
      const chunked = encodeChunks(split(data, cuts), stuff);
      assert.deepEqual(chunked, oneShot);
    }),
    { numRuns: 1000 },
  );
});

test("dot property: no bare CR or LF in the output", () => {
  fc.assert(
    fc.property(bodyBytes, cutPoints, fc.boolean(), (data, cuts, stuff) => {
      const out = encodeChunks(split(data, cuts), stuff);
      for (let i = 0; i < out.length; i++) {
        if (out[i] === CR) assert.equal(out[i + 1], LF, `CR at ${i}`);
        if (out[i] === LF) assert.equal(out[i - 1], CR, `LF at ${i}`);
      }
    }),
    { numRuns: 1000 },
  );
});

test("dot property: exactly one CRLF.CRLF, at the very end", () => {
  fc.assert(
    fc.property(bodyBytes, cutPoints, (data, cuts) => {
      // The DATA command line's CRLF precedes the body on the wire.
      const wire = dec.decode(
        concat([bytes("\r\n"), encodeChunks(split(data, cuts))]),
      );
      // decode() maps bytes >= 0x80 to U+FFFD, which cannot fake "\r\n.\r\n".
      assert.ok(wire.endsWith("\r\n.\r\n"));
      assert.equal(wire.indexOf("\r\n.\r\n"), wire.length - 5);
    }),
    { numRuns: 1000 },
  );
});

test("dot property: decoding gives back the normalised input", () => {
  fc.assert(
    fc.property(bodyBytes, cutPoints, (data, cuts) => {
      const out = encodeChunks(split(data, cuts));
      assert.deepEqual(decode(out), expectedBody(data));
    }),
    { numRuns: 1000 },
  );
});

test("dot property: stuff=false output is the normalised input", () => {
  fc.assert(
    fc.property(bodyBytes, cutPoints, (data, cuts) => {
      const out = encodeChunks(split(data, cuts), false);
      assert.deepEqual(out, expectedBody(data));
    }),
    { numRuns: 500 },
  );
});

test("dot property: output length at most 2 × input + 5", () => {
  fc.assert(
    fc.property(bodyBytes, cutPoints, (data, cuts) => {
      const out = encodeChunks(split(data, cuts));
      assert.ok(out.length <= 2 * data.length + 5, `${out.length}`);
    }),
    { numRuns: 1000 },
  );
});

test("dot property: stuffDots stream equals one-shot encoding", async () => {
  await fc.assert(
    fc.asyncProperty(
      bodyBytes,
      cutPoints,
      fc.boolean(),
      async (data, cuts, stuff) => {
        const out = await pipeChunks(split(data, cuts), stuffDots({ stuff }));
        assert.deepEqual(concat(out), encodeChunks([data], stuff));
      },
    ),
    { numRuns: 300 },
  );
});

test("dot: eightBit and dotsAdded describe the pushed bytes, however chunked", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.array(fc.nat(300), { maxLength: 6 }),
      (input, cuts) => {
        const enc = new DotStuffer(true);
        const points = [...new Set(cuts.map((c) => c % (input.length + 1)))]
          .sort((a, b) => a - b);
        let last = 0;
        for (const p of [...points, input.length]) {
          enc.push(input.subarray(last, p));
          last = p;
        }
        enc.end();
        assert.equal(enc.eightBit, input.some((b) => b > 127));
        // reference: lines (after CRLF|CR|LF normalisation) that start with "."
        const text = Array.from(input, (b) => String.fromCharCode(b)).join("");
        const lines = text.split(/\r\n|\r|\n/);
        if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
        assert.equal(
          enc.dotsAdded,
          lines.filter((l) => l.startsWith(".")).length,
        );
      },
    ),
    { numRuns: 500 },
  );
});
