// Fuzz harness: POP3 status lines and multi-line responses through LineReader, against a reference model.
import assert from "node:assert/strict";
import { Deadline } from "../../io/deadline.ts";
import { LineReader } from "../../io/line_reader.ts";
import {
  parsePop3Status,
  readMultiline,
  readPop3Status,
} from "../../io/pop3_status.ts";
import { MailwireError } from "../../errors.ts";
import {
  ascii,
  concat,
  latin1,
  mixed,
  Rng,
  show,
  split,
  stream,
} from "./rng.ts";
import { type FuzzOptions, type FuzzReport, Tally } from "./report.ts";

const STATUS = [
  "+OK",
  "+OK ",
  "+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>",
  "+OK 2 320",
  "+OK 120 octets",
  "-ERR",
  "-ERR [IN-USE] maildrop locked",
  "-ERR [SYS/TEMP] try later",
  "-ERR [AUTH] bad login",
  "-ERR [ ] x",
  "-ERR [LOGIN-DELAY 900]",
  "+ ",
  "+",
  "+ VXNlcm5hbWU6",
  "+  ",
  "+ERR",
  "-OK",
  "+OKAY",
];
const BODY = [
  "1 120",
  "2 3000",
  "1 whqtswO00WBw418f9t5JxYwZ",
  "SASL PLAIN LOGIN",
  "TOP",
  "UIDL",
  "..",
  "...",
  ". ",
  ".x",
  "",
  "Subject: hi",
  ".\r",
];

/** A status line, then (when +OK) a multi-line body, with twists. */
function structured(rng: Rng): Uint8Array {
  const parts: Uint8Array[] = [ascii(rng.pick(STATUS)), ascii("\r\n")];
  const n = rng.chance(0.05) ? rng.int(400) : rng.int(12);
  for (let i = 0; i < n; i++) {
    parts.push(
      rng.chance(0.8) ? ascii(rng.pick(BODY)) : rng.bytes(rng.int(30)),
      ascii(rng.chance(0.9) ? "\r\n" : rng.pick(["\n", "\r", ""])),
    );
  }
  if (rng.chance(0.85)) parts.push(ascii(".\r\n"));
  if (rng.chance(0.2)) parts.push(ascii("+OK next\r\n"));
  return concat(parts);
}

/** The lines the line reader gives, written independently (split on LF). */
function splitLines(
  input: Uint8Array,
  maxLine: number,
): { lines: Uint8Array[]; end: "eof" | "long" } {
  const lines: Uint8Array[] = [];
  let pos = 0;
  for (;;) {
    const lf = input.indexOf(10, pos);
    if (lf < 0) {
      return {
        lines,
        end: input.length - pos > maxLine + 1 ? "long" : "eof",
      };
    }
    let end = lf;
    if (end > pos && input[end - 1] === 13) end--;
    if (end - pos > maxLine) return { lines, end: "long" };
    lines.push(input.subarray(pos, end));
    pos = lf + 1;
  }
}

type Outcome = { status: string; lines: string[] | null; error?: string };

/**
 * What readPop3Status then readMultiline (when +OK) must give: the status
 * by a regex, the body by the RFC 1939 rules (first dot of a dot-leading
 * line removed, a lone dot ends it).
 */
function reference(
  input: Uint8Array,
  maxLine: number,
  maxBytes: number,
  maxLines: number,
): Outcome {
  const { lines, end } = splitLines(input, maxLine);
  const fail = end === "long" ? "ProtocolError" : "ConnectionClosedError";
  if (lines.length === 0) return { status: "", lines: null, error: fail };
  const first = latin1(lines[0]);
  const m = /^(\+OK|-ERR)(?: |$)/.exec(first);
  if (!m) return { status: "", lines: null, error: "ProtocolError" };
  if (m[1] === "-ERR") return { status: "-ERR", lines: null };
  const out: string[] = [];
  let total = 0;
  for (let i = 1; i < lines.length; i++) {
    let l = lines[i];
    if (l.length === 1 && l[0] === 46) return { status: "+OK", lines: out };
    if (l[0] === 46) l = l.subarray(1);
    total += l.length + 2;
    if (total > maxBytes || out.length + 1 > maxLines) {
      return { status: "+OK", lines: null, error: "ProtocolError" };
    }
    out.push(latin1(l));
  }
  return { status: "+OK", lines: null, error: fail };
}

const none = new Deadline(undefined);

/**
 * Feed `inputs` POP3 responses (status + body) through the real readers
 * under random chunking and caps; also every first line through
 * parsePop3Status with continuations allowed. Outcomes must equal the
 * reference; errors must be typed.
 */
export async function fuzzPop3(options: FuzzOptions): Promise<FuzzReport> {
  const rng = new Rng(options.seed);
  const tally = new Tally("pop3 status + multi-line");
  let previous = structured(rng);
  for (let i = 0; i < options.inputs; i++) {
    const input = mixed(rng, structured, previous);
    previous = input;
    tally.feed();
    const maxLine = rng.pick([16, 64, 512, 8192]);
    const maxBytes = rng.chance(0.3) ? rng.int(300) : 1 << 20;
    const maxLines = rng.chance(0.3) ? rng.int(20) : Infinity;
    const want = reference(input, maxLine, maxBytes, maxLines);
    const context = () =>
      `seed ${options.seed} input ${i} ${
        show(input)
      } line ${maxLine} bytes ${maxBytes} lines ${maxLines}`;
    let failed = 0;
    const onFail = () => failed++;
    const reader = new LineReader(stream(split(rng, input)), maxLine, onFail);
    const got: Outcome = { status: "", lines: null };
    try {
      const status = await readPop3Status(reader, none, onFail);
      got.status = status.ok ? "+OK" : "-ERR";
      if (status.ok) {
        const lines: string[] = [];
        await readMultiline(
          reader,
          none,
          { maxBytes, maxLines },
          onFail,
          (l) => {
            lines.push(latin1(l));
          },
        );
        got.lines = lines;
      }
      tally.ok();
    } catch (err) {
      tally.error(err, context);
      got.error = (err as MailwireError).constructor.name;
      if (failed === 0) assert.fail(`not closed on ${got.error}: ${context()}`);
    }
    if (
      got.status !== want.status || got.error !== want.error ||
      JSON.stringify(got.lines) !== JSON.stringify(want.lines)
    ) {
      assert.fail(
        `got ${JSON.stringify(got)}, want ${
          JSON.stringify(want)
        }: ${context()}`,
      );
    }
    // The status parser alone, continuations allowed, on the first line.
    const nl = input.indexOf(10);
    const line = input.subarray(0, nl < 0 ? input.length : nl);
    try {
      const s = parsePop3Status(line, true);
      const text = latin1(line);
      if ("continuation" in s) {
        if (!/^\+(?: |$)/.test(text) || /^\+OK(?: |$)/.test(text)) {
          assert.fail(`continuation from ${show(line)}`);
        }
        if (s.text !== s.text.trim()) assert.fail(`untrimmed ${show(line)}`);
      } else if (s.respCode !== undefined && /[\s\]]/.test(s.respCode)) {
        assert.fail(
          `respCode ${JSON.stringify(s.respCode)} from ${show(line)}`,
        );
      }
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      if (!(err instanceof MailwireError)) {
        throw new Error(`untyped ${String(err)} for ${show(line)}`);
      }
    }
  }
  return tally.report();
}
