// Fuzz harness: SMTP replies (EHLO replies included) through LineReader + readSmtpReply, against a reference model.
import assert from "node:assert/strict";
import {
  ConnectionClosedError,
  type MailwireError,
  ProtocolError,
} from "../../errors.ts";
import { Deadline } from "../../io/deadline.ts";
import { LineReader } from "../../io/line_reader.ts";
import {
  readSmtpReply,
  type ReplyLimits,
  type SmtpReply,
} from "../../io/smtp_reply.ts";
import { ascii, concat, mixed, Rng, show, split, stream } from "./rng.ts";
import { type FuzzOptions, type FuzzReport, Tally } from "./report.ts";

const EHLO_KEYWORDS = [
  "PIPELINING",
  "SIZE 35882577",
  "SIZE",
  "8BITMIME",
  "AUTH PLAIN LOGIN CRAM-MD5",
  "AUTH=LOGIN PLAIN",
  "AUTH XOAUTH2 OAUTHBEARER",
  "ENHANCEDSTATUSCODES",
  "CHUNKING",
  "SMTPUTF8",
  "STARTTLS",
  "DSN",
  "VRFY",
  "ETRN",
  "DELIVERBY 240",
  "mx.example.com Hello [127.0.0.1]",
  "2.1.0 Ok",
  "5.7.1 <x@y>: Relay access denied",
  "4.7.0 Try again later",
  "",
];
const CODES = [
  220,
  221,
  235,
  250,
  251,
  252,
  334,
  354,
  421,
  450,
  451,
  452,
  500,
  501,
  502,
  503,
  504,
  530,
  534,
  535,
  550,
  552,
  554,
];

/** A well-formed reply, sometimes with a twist (LF only, odd text, a different code midway). */
function structured(rng: Rng): Uint8Array {
  const code = rng.chance(0.9) ? rng.pick(CODES) : 100 + rng.int(900);
  const n = rng.chance(0.05) ? 1 + rng.int(300) : 1 + rng.int(12);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const last = i === n - 1;
    const c = rng.chance(0.02) ? rng.pick(CODES) : code;
    const sep = last ? (rng.chance(0.1) ? "" : " ") : "-";
    const text = rng.chance(0.85)
      ? ascii(rng.pick(EHLO_KEYWORDS))
      : rng.bytes(rng.int(40));
    const end = rng.chance(0.9) ? "\r\n" : rng.pick(["\n", "\r", ""]);
    parts.push(
      ascii(`${c}${sep}`),
      sep === "" ? new Uint8Array() : text,
      ascii(end),
    );
  }
  if (rng.chance(0.2)) parts.push(ascii(`${rng.pick(CODES)} next reply\r\n`));
  return concat(parts);
}

function limits(rng: Rng): { limits: ReplyLimits; maxLine: number } {
  return {
    limits: {
      maxLines: rng.chance(0.3) ? 1 + rng.int(20) : 1000,
      maxBytes: rng.chance(0.3) ? 10 + rng.int(400) : 1 << 20,
    },
    maxLine: rng.pick([16, 64, 512, 8192, 8192]),
  };
}

type Outcome =
  | { ok: true; code: number; lines: string[] }
  | { ok: false; error: string };

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * What readSmtpReply must do with these bytes, written independently:
 * split on LF (a CR before it dropped), then a regex per line.
 */
export function referenceReply(
  input: Uint8Array,
  limits: ReplyLimits,
  maxLine: number,
): Outcome {
  const lines: string[] = [];
  let code = 0;
  let bytes = 0;
  let pos = 0;
  for (;;) {
    const lf = input.indexOf(10, pos);
    if (lf < 0) {
      const partial = input.length - pos;
      return {
        ok: false,
        error: partial > maxLine + 1
          ? "ProtocolError"
          : "ConnectionClosedError",
      };
    }
    let end = lf;
    if (end > pos && input[end - 1] === 13) end--;
    const raw = input.subarray(pos, end);
    pos = lf + 1;
    if (raw.length > maxLine) return { ok: false, error: "ProtocolError" };
    const latin1 = String.fromCharCode(...raw.subarray(0, 4));
    const m = /^([2-5][0-5][0-9])([ -]|$)/.exec(latin1);
    if (!m) return { ok: false, error: "ProtocolError" };
    const c = Number(m[1]);
    if (code !== 0 && c !== code) return { ok: false, error: "ProtocolError" };
    code = c;
    bytes += raw.length;
    if (bytes > limits.maxBytes) return { ok: false, error: "ProtocolError" };
    lines.push(raw.length > 4 ? utf8.decode(raw.subarray(4)) : "");
    if (m[2] !== "-") return { ok: true, code, lines };
    if (lines.length >= limits.maxLines) {
      return { ok: false, error: "ProtocolError" };
    }
  }
}

function checkReply(reply: SmtpReply, limits: ReplyLimits): void {
  if (
    !(reply.code >= 200 && reply.code <= 559) ||
    reply.lines.length < 1 || reply.lines.length > limits.maxLines ||
    reply.text !== reply.lines.join("\n") ||
    reply.permanent !== reply.code >= 500 ||
    reply.transient !== (reply.code >= 400 && reply.code < 500) ||
    (reply.enhancedCode !== undefined &&
      (!/^[245]\.\d{1,3}\.\d{1,3}$/.test(reply.enhancedCode) ||
        reply.enhancedCode[0] !== String(reply.code)[0]))
  ) {
    assert.fail(`inconsistent reply ${JSON.stringify(reply)}`);
  }
}

const none = new Deadline(undefined);

/**
 * Feed `inputs` replies (structured, mutated and random bytes, split into
 * random chunks). Each outcome must equal the reference model's; errors
 * must be typed. Throws on the first disagreement, with the input.
 */
export async function fuzzSmtpReply(options: FuzzOptions): Promise<FuzzReport> {
  const rng = new Rng(options.seed);
  const tally = new Tally("smtp reply (EHLO included)");
  let previous = structured(rng);
  for (let i = 0; i < options.inputs; i++) {
    const input = mixed(rng, structured, previous);
    previous = input;
    tally.feed();
    const { limits: lim, maxLine } = limits(rng);
    const want = referenceReply(input, lim, maxLine);
    const context = () =>
      `seed ${options.seed} input ${i} ${show(input)} limits ${
        JSON.stringify(lim)
      } line ${maxLine}`;
    let failed = 0;
    const reader = new LineReader(
      stream(split(rng, input)),
      maxLine,
      () => failed++,
    );
    try {
      const reply = await readSmtpReply(reader, none, lim, () => failed++);
      checkReply(reply, lim);
      if (
        !want.ok || want.code !== reply.code ||
        want.lines.length !== reply.lines.length ||
        want.lines.some((l, k) => l !== reply.lines[k])
      ) {
        assert.fail(
          `got ${JSON.stringify(reply.lines)}, want ${
            JSON.stringify(want)
          }: ${context()}`,
        );
      }
      tally.ok();
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      tally.error(err, context);
      const got = err instanceof ProtocolError
        ? "ProtocolError"
        : err instanceof ConnectionClosedError
        ? "ConnectionClosedError"
        : (err as MailwireError).constructor.name;
      if (want.ok || want.error !== got) {
        assert.fail(`got ${got}, want ${JSON.stringify(want)}: ${context()}`);
      }
      assert.ok(failed >= 1, `the connection was not closed: ${context()}`);
    }
  }
  return tally.report();
}
