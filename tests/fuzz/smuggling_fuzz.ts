// Property harness: generated messages through the DATA (dot-stuffing) and BDAT (CRLF-only) encoders.
import { Deadline } from "../../io/deadline.ts";
import { DotStuffer, stuffDots } from "../../io/dot.ts";
import { LineReader } from "../../io/line_reader.ts";
import { readMultiline } from "../../io/pop3_status.ts";
import { concat, Rng, show, stream } from "./rng.ts";
import { type FuzzOptions, type FuzzReport, Tally } from "./report.ts";

const CR = 13;
const LF = 10;
const DOT = 46;

/** A message body: mostly CR, LF, dots and a few letters, sometimes any bytes, sometimes large. */
function message(rng: Rng): Uint8Array {
  const n = rng.chance(0.002)
    ? rng.int(64 * 1024)
    : rng.chance(0.02)
    ? rng.int(8 * 1024)
    : rng.int(300);
  const out = new Uint8Array(n);
  const dense = rng.chance(0.7);
  for (let i = 0; i < n; i++) {
    out[i] = dense
      ? rng.pick([CR, LF, DOT, DOT, 0x61, 0x20, 0x00, 0xff])
      : rng.int(256);
  }
  if (rng.chance(0.1) && n >= 5) out.set([CR, LF, DOT, CR, LF], rng.int(n - 4)); // a forged end of data
  return out;
}

/** Chunks at random points, empty ones included (a stream may deliver them). */
function chunks(rng: Rng, body: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  // Tiny chunks (every boundary case) for small bodies, larger ones else.
  const tiny = body.length < 1000 && rng.chance(0.5);
  while (at < body.length) {
    const len = rng.chance(0.2) ? 0 : 1 + rng.int(tiny ? 4 : 2000);
    out.push(body.subarray(at, at + len));
    at += len;
  }
  if (rng.chance(0.1)) out.push(new Uint8Array(0));
  return out;
}

/** The reference normalisation, independent of dot.ts: CRLF, CR, LF each → CRLF. */
function normalise(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(input.length * 2);
  let o = 0;
  for (let i = 0; i < input.length; i++) {
    const b = input[i];
    if (b === CR || b === LF) {
      out[o++] = CR;
      out[o++] = LF;
      if (b === CR && input[i + 1] === LF) i++;
    } else out[o++] = b;
  }
  return out.subarray(0, o);
}

/** Index of the first bare CR or LF (a CR not followed by LF, an LF not after CR), or -1. */
function bareLineEnd(b: Uint8Array): number {
  for (let i = 0; i < b.length; i++) {
    if (b[i] === CR && b[i + 1] !== LF) return i;
    if (b[i] === LF && (i === 0 || b[i - 1] !== CR)) return i;
  }
  return -1;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const none = new Deadline(undefined);

/**
 * Decode DATA output with the project's own reader of dot-terminated data
 * (POP3's multi-line reader, RFC 1939 §3 = RFC 5321 §4.5.2): the body, and
 * how many bytes came after the first terminator (must be 0).
 */
async function unstuff(
  encoded: Uint8Array,
): Promise<{ body: Uint8Array; after: number }> {
  const reader = new LineReader(
    stream([encoded]),
    encoded.length + 2,
    () => {},
  );
  const body = new Uint8Array(encoded.length);
  let o = 0;
  await readMultiline(reader, none, Infinity, () => {}, (line) => {
    body.set(line, o);
    o += line.length;
    body[o++] = CR;
    body[o++] = LF;
  });
  return { body: body.subarray(0, o), after: reader.buffered };
}

function encode(
  pieces: readonly Uint8Array[],
  stuff: boolean,
): { out: Uint8Array; dots: number } {
  const enc = new DotStuffer(stuff);
  const out = pieces.map((p) => enc.push(p));
  out.push(enc.end());
  return { out: concat(out), dots: enc.dotsAdded };
}

/** Line-starting dots in a normalised body: what stuffing must add. */
function leadingDots(normal: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < normal.length; i++) {
    if (normal[i] === DOT && (i === 0 || normal[i - 1] === LF)) n++;
  }
  return n;
}

async function viaStream(
  pieces: readonly Uint8Array[],
  stuff: boolean,
  terminate: boolean,
): Promise<Uint8Array> {
  const reader = stream(pieces).pipeThrough(stuffDots({ stuff, terminate }))
    .getReader();
  const out: Uint8Array[] = [];
  for (;;) {
    const r = await reader.read();
    if (r.done) return concat(out);
    out.push(r.value);
  }
}

/**
 * Feed `inputs` generated messages, split at random points, through the
 * DATA encoder (stuffing) and the BDAT encoder (normalisation only), and
 * one in eight through the stuffDots stream too. Each output: no bare CR or
 * LF; DATA ends with exactly one terminator and unstuffs to the normalised
 * input; BDAT is the normalised input (plus a final CRLF when open); the
 * chunked encoding equals the one-shot one.
 */
export async function fuzzSmuggling(options: FuzzOptions): Promise<FuzzReport> {
  const rng = new Rng(options.seed);
  const tally = new Tally("smuggling (DATA + BDAT encoders)");
  for (let i = 0; i < options.inputs; i++) {
    tally.feed();
    const body = message(rng);
    const pieces = chunks(rng, body);
    const context = () =>
      `seed ${options.seed} input ${i} ${
        show(body)
      } in ${pieces.length} chunks`;
    const fail = (what: string): never => {
      throw new Error(`smuggling: ${what}: ${context()}`);
    };
    const normal = normalise(body);
    const open = normal.length > 0 && normal[normal.length - 1] !== LF;
    const expected = open ? concat([normal, new Uint8Array([CR, LF])]) : normal;

    const data = encode(pieces, true);
    if (bareLineEnd(data.out) !== -1) {
      fail(`bare CR/LF in DATA output at ${bareLineEnd(data.out)}`);
    }
    const tail = data.out.subarray(Math.max(0, data.out.length - 5));
    const ends = expected.length === 0
      ? equal(data.out, new Uint8Array([DOT, CR, LF]))
      : equal(tail, new Uint8Array([CR, LF, DOT, CR, LF]));
    if (!ends) fail("DATA output does not end with the terminator");
    const decoded = await unstuff(data.out);
    if (decoded.after !== 0) {
      fail(
        `${decoded.after} bytes after the first terminator (a second message smuggled)`,
      );
    }
    if (!equal(decoded.body, expected)) {
      fail("DATA output does not unstuff to the normalised input");
    }
    if (data.dots !== leadingDots(expected)) fail(`dotsAdded ${data.dots}`);
    if (!equal(encode([body], true).out, data.out)) {
      fail("chunked DATA encoding differs from one-shot");
    }

    const bdat = encode(pieces, false);
    if (bareLineEnd(bdat.out) !== -1) fail("bare CR/LF in BDAT output");
    if (!equal(bdat.out, expected)) {
      fail("BDAT output is not the normalised input");
    }
    if (bdat.dots !== 0) fail("BDAT stuffed dots");

    if (i % 8 === 0) {
      const streamed = await viaStream(pieces, true, true);
      if (!equal(streamed, data.out)) {
        fail("stuffDots stream differs from DotStuffer");
      }
      // Without a terminator nothing is appended: the normalised input, exactly.
      const raw = await viaStream(pieces, false, false);
      if (!equal(raw, normal)) {
        fail(
          "stuffDots({ stuff: false, terminate: false }) is not the normalised input",
        );
      }
    }
    tally.ok();
  }
  return tally.report();
}
