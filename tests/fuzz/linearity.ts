// Linearity harness: time per byte of every parser over server data (and the encoders), 1 KiB against 1 MiB inputs.
import { authenticate } from "../../auth/authenticate.ts";
import { decodeBase64, encodeBase64 } from "../../auth/base64.ts";
import { CramMd5Mechanism } from "../../auth/cram_md5.ts";
import { Deadline } from "../../io/deadline.ts";
import { DotStuffer } from "../../io/dot.ts";
import { headerFields } from "../../io/headers.ts";
import { LineReader } from "../../io/line_reader.ts";
import { parsePop3Status, readMultiline } from "../../io/pop3_status.ts";
import { readSmtpReply } from "../../io/smtp_reply.ts";
import { findApopTimestamp } from "../../pop3/apop.ts";
import {
  parseCapabilities,
  parseScanListings,
  parseUidListings,
} from "../../pop3/parse.ts";
import { ascii, stream } from "./rng.ts";

/** One parser and the worst-shaped input of a given size for it. */
export interface LinearityCase<T = unknown> {
  name: string;
  /** An input of about `size` bytes. */
  make(size: number): T;
  /** Parse it once (must not modify it). */
  run(input: T): unknown;
}

/** Time per byte at both sizes, and their ratio (large / small: flat is 1, quadratic would be ~1000). */
export interface LinearityFigure {
  name: string;
  nsPerByteSmall: number;
  nsPerByteLarge: number;
  ratio: number;
  /** Rounds it took (each round: medians of `samples` runs at each size). */
  rounds: number;
}

export interface LinearityOptions {
  small?: number;
  large?: number;
  /** Bytes of work per timed sample (the small input is run this many bytes' worth of times). */
  work?: number;
  samples?: number;
  /** At most this many rounds (default 5); stop at the first whose ratio is below `target`. */
  rounds?: number;
  target?: number;
}

const none = new Deadline(undefined);
const BIG = { maxLines: Infinity, maxBytes: Infinity };

/** Split into TCP-segment-sized chunks (what a socket delivers). */
function segments(bytes: Uint8Array, size = 1460): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    out.push(bytes.subarray(i, i + size));
  }
  return out;
}

function repeatTo(unit: string, size: number, last = ""): Uint8Array {
  return ascii(
    unit.repeat(Math.max(1, Math.floor((size - last.length) / unit.length))) +
      last,
  );
}

function lines(unit: (i: number) => string, size: number): string[] {
  const out: string[] = [];
  for (let n = 0, i = 1; n < size; i++) {
    const l = unit(i);
    out.push(l);
    n += l.length + 2;
  }
  return out;
}

/** readSmtpReply over `chunks`, no caps. */
function reply(chunks: Uint8Array[], maxLine = 8192): Promise<unknown> {
  const reader = new LineReader(stream(chunks), maxLine, () => {});
  return readSmtpReply(reader, none, BIG, () => {});
}

/** readMultiline over `chunks`, no caps. */
function multiline(chunks: Uint8Array[]): Promise<void> {
  const reader = new LineReader(stream(chunks), 8192, () => {});
  return readMultiline(reader, none, Infinity, () => {}, () => {});
}

/** Erase a case's input type, so cases of all kinds fit in one list. */
function kase<T>(c: LinearityCase<T>): LinearityCase<unknown> {
  return { name: c.name, make: c.make, run: (input) => c.run(input as T) };
}

/** Every parser over server-controlled data, and the body encoder, each in its worst shape. */
export const CASES: LinearityCase<unknown>[] = [
  kase({
    name: "smtp reply: EHLO of 250-AUTH lines, one chunk",
    make: (size: number) =>
      repeatTo("250-AUTH PLAIN LOGIN\r\n", size, "250 OK\r\n"),
    run: (b: Uint8Array) => reply([b]),
  }),
  kase({
    name: "smtp reply: EHLO lines in 1460-byte segments",
    make: (size: number) =>
      segments(repeatTo("250-AUTH PLAIN LOGIN\r\n", size, "250 OK\r\n")),
    run: (c: Uint8Array[]) => reply(c),
  }),
  kase({
    name: "smtp reply: one line of the whole size (line cap raised)",
    make: (size: number) => segments(ascii("250 " + "x".repeat(size) + "\r\n")),
    run: (c: Uint8Array[]) => reply(c, 1 << 22),
  }),
  kase({
    name: "line reader: one long line in 1 KiB chunks",
    make: (size: number) => segments(ascii("y".repeat(size) + "\r\n"), 1024),
    run: (c: Uint8Array[]) =>
      new LineReader(stream(c), 1 << 22, () => {}).readLine(none),
  }),
  kase({
    name: "pop3 multi-line: LIST lines",
    make: (size: number) =>
      segments(repeatTo("12345 67890\r\n", size, ".\r\n")),
    run: (c: Uint8Array[]) => multiline(c),
  }),
  kase({
    name: "pop3 multi-line: dot-stuffed lines",
    make: (size: number) => segments(repeatTo("..\r\n", size, ".\r\n")),
    run: (c: Uint8Array[]) => multiline(c),
  }),
  kase({
    name: "pop3 status: +OK [ with no closing bracket (RESP-CODE regex)",
    make: (size: number) => ascii("+OK [" + "a".repeat(size)),
    run: (b: Uint8Array) => parsePop3Status(b),
  }),
  kase({
    name: "pop3 status: SASL continuation of spaces",
    make: (size: number) => ascii("+ " + " ".repeat(size) + "x"),
    run: (b: Uint8Array) => parsePop3Status(b, true),
  }),
  kase({
    name: "parseScanListings: LIST lines (strings)",
    make: (size: number) => lines((i) => `${i} ${i * 7}`, size),
    run: (l: string[]) => parseScanListings(l),
  }),
  kase({
    name: "parseUidListings: UIDL lines (bytes)",
    make: (size: number) =>
      lines((i) => `${i} uid-${i}-whqtswO00WBw418f9t5JxYwZ`, size).map(ascii),
    run: (l: Uint8Array[]) => parseUidListings(l),
  }),
  kase({
    name: "parseCapabilities: one SASL line of many mechanisms",
    make: (size: number) => ["SASL" + " PLAIN".repeat(size / 6)],
    run: (l: string[]) => parseCapabilities(l),
  }),
  kase({
    name: "parseCapabilities: many CAPA lines",
    make: (size: number) => lines((i) => `X-CAP${i} arg`, size),
    run: (l: string[]) => parseCapabilities(l),
  }),
  kase({
    name: "findApopTimestamp: '<' then '@' (the old regex: quadratic)",
    make: (size: number) => "<" + "@".repeat(size),
    run: (s: string) => findApopTimestamp(s),
  }),
  kase({
    name: "findApopTimestamp: '<a@' repeated",
    make: (size: number) => "<a@".repeat(size / 3),
    run: (s: string) => findApopTimestamp(s),
  }),
  kase({
    name: "sasl: decodeBase64 of a challenge",
    make: (size: number) =>
      encodeBase64(new Uint8Array((size / 4) * 3).fill(97)),
    run: (s: string) => decodeBase64(s),
  }),
  kase({
    name: "sasl: CRAM-MD5 exchange with a padded challenge",
    make: (size: number) =>
      "   " + encodeBase64(new Uint8Array((size / 4) * 3).fill(60)) + "   ",
    run: (challenge: string) =>
      authenticate(
        new CramMd5Mechanism({ username: "tim", password: "tanstaaf" }),
        {
          begin: () => Promise.resolve({ done: false, challenge }),
          respond: () => Promise.resolve({ done: true }),
        },
      ),
  }),
  kase({
    name: "DATA encoder: dots and bare line ends",
    make: (size: number) => repeatTo(".\r.\n..\ra", size),
    run: (b: Uint8Array) => {
      const e = new DotStuffer(true);
      e.push(b);
      return e.end();
    },
  }),
  kase({
    name: "headers: folded header lines",
    make: (size: number) => repeatTo("X-A: b\r\n c\r\n", size),
    run: (b: Uint8Array) => headerFields(b),
  }),
];

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** ns per byte of `run(input)`, repeated until about `work` bytes are done. */
async function perByte<T>(
  c: LinearityCase<T>,
  input: T,
  size: number,
  work: number,
): Promise<number> {
  const reps = Math.max(1, Math.round(work / size));
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) {
    const p = c.run(input);
    if (p instanceof Promise) await p;
  }
  return ((performance.now() - t0) * 1e6) / (reps * size);
}

/**
 * Measure each case at `small` and `large` bytes. A round: a warm-up, then
 * `samples` pairs of timed runs, small and large interleaved (so a change
 * of load on a shared machine hits both sizes alike), and the ratio of the
 * two medians. The best of up to `rounds` rounds, stopping at the first
 * whose ratio is under `target`.
 */
export async function measureLinearity(
  cases: readonly LinearityCase<unknown>[] = CASES,
  options: LinearityOptions = {},
): Promise<LinearityFigure[]> {
  const {
    small = 1024,
    large = 1 << 20,
    work = 1 << 20,
    samples = 5,
    rounds = 5,
    target = 3,
  } = options;
  const figures: LinearityFigure[] = [];
  for (const c of cases) {
    const a = c.make(small);
    const b = c.make(large);
    let best: LinearityFigure | undefined;
    for (let round = 1; round <= rounds; round++) {
      await perByte(c, a, small, work / 4); // warm-up
      await perByte(c, b, large, large);
      const s: number[] = [];
      const l: number[] = [];
      for (let k = 0; k < samples; k++) {
        s.push(await perByte(c, a, small, work));
        l.push(await perByte(c, b, large, large));
      }
      const figure = {
        name: c.name,
        nsPerByteSmall: median(s),
        nsPerByteLarge: median(l),
        ratio: median(l) / median(s),
        rounds: round,
      };
      if (!best || figure.ratio < best.ratio) best = figure;
      if (best.ratio < target) break;
    }
    figures.push(best!);
  }
  return figures;
}

/** One line per figure. */
export function formatFigure(f: LinearityFigure): string {
  return `${f.name}: ${f.nsPerByteSmall.toFixed(2)} ns/byte at 1 KiB, ${
    f.nsPerByteLarge.toFixed(2)
  } at 1 MiB, ratio ${f.ratio.toFixed(2)}${
    f.rounds > 1 ? ` (round ${f.rounds})` : ""
  }`;
}
