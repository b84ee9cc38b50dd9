// SMTP replies: the reply type, the strict line parser and the reply reader.
import { ProtocolError } from "../errors.ts";
import type { Deadline } from "./deadline.ts";
import type { LineReader } from "./line_reader.ts";

/**
 * One SMTP reply: a 3-digit code and one or more text lines.
 *
 * @example Tell a permanent refusal apart (type-checked; needs a server to run)
 * ```ts
 * import type { SmtpClient, SmtpReply } from "@mailwire/mailwire/smtp";
 *
 * async function refusedForGood(client: SmtpClient, to: string): Promise<boolean> {
 *   const reply: SmtpReply = await client.rcpt(to);
 *   if (reply.permanent) console.log(reply.code, reply.enhancedCode, reply.text);
 *   return reply.permanent;
 * }
 * ```
 */
export interface SmtpReply {
  /** The reply code, e.g. 250. */
  readonly code: number;
  /** The enhanced status code (RFC 3463) of the first line, e.g. "2.1.0", when the server uses them. */
  readonly enhancedCode?: string;
  /** The text of each line, without code and separator. */
  readonly lines: readonly string[];
  /** The lines joined with "\n". */
  readonly text: string;
  /** A 5xx reply: do not retry as is. */
  readonly permanent: boolean;
  /** A 4xx reply: retrying later may work. */
  readonly transient: boolean;
}

/** Limits applied while reading one reply. */
export interface ReplyLimits {
  /** Most lines in one reply (for EHLO: the entry cap on its keywords). */
  maxLines: number;
  /** Most bytes in one reply (sum of line lengths, without line ends). */
  maxBytes: number;
  /** What the reply is, for the error messages (default `"smtp reply"`), e.g. `"ehlo reply"`. */
  what?: string;
}

// ignoreBOM: keep a leading U+FEFF in the text instead of silently dropping it.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

function digit(b: number | undefined): number {
  return b !== undefined && b >= 48 && b <= 57 ? b - 48 : -1;
}

/** Parse the code and separator of one reply line. Throws ProtocolError. */
export function parseReplyLine(
  line: Uint8Array,
): { code: number; last: boolean; text: string } {
  const a = digit(line[0]), b = digit(line[1]), c = digit(line[2]);
  const sep = line[3];
  if (
    a < 2 || a > 5 || b < 0 || b > 5 || c < 0 ||
    (line.length > 3 && sep !== 32 && sep !== 45)
  ) {
    throw new ProtocolError(
      `malformed smtp reply line: ${JSON.stringify(preview(line))}`,
    );
  }
  return {
    code: a * 100 + b * 10 + c,
    last: sep !== 45,
    text: line.length > 4 ? decoder.decode(line.subarray(4)) : "",
  };
}

/**
 * The length of the enhanced status code (RFC 3463) that `line` starts
 * with, `class.subject.detail` followed by a space or the end, 0 if none:
 * the class one of 2, 4, 5, the others 1 to 3 digits. (A byte scan of at
 * most 10 characters: this runs for every reply read in full.)
 */
export function enhancedLength(line: string): number {
  const c = line.charCodeAt(0);
  if ((c !== 50 && c !== 52 && c !== 53) || line.charCodeAt(1) !== 46) {
    return 0;
  }
  let i = 2;
  for (let part = 0; part < 2; part++) {
    const start = i;
    while (i - start < 3 && isDigit(line.charCodeAt(i))) i++;
    if (i === start) return 0;
    if (part === 0 && line.charCodeAt(i++) !== 46) return 0;
  }
  return i === line.length || line.charCodeAt(i) === 32 ? i : 0;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Build a reply object from its parts. */
export function makeReply(code: number, lines: string[]): SmtpReply {
  const first = lines.length > 0 ? lines[0] : "";
  const n = enhancedLength(first);
  const text = lines.length === 1 ? first : lines.join("\n");
  const permanent = code >= 500;
  const transient = code >= 400 && code < 500;
  // The class must match the reply's (2.x.x for a 2yz reply).
  if (n > 0 && first.charCodeAt(0) - 48 === Math.floor(code / 100)) {
    const enhancedCode = first.slice(0, n);
    return { code, enhancedCode, lines, text, permanent, transient };
  }
  return { code, lines, text, permanent, transient };
}

/**
 * Read one complete (possibly multi-line) reply. Mixed codes, malformed
 * lines and replies over the limits are protocol errors; `onFail` closes
 * the connection first.
 *
 * Linear in the reply's size. A reply already buffered in full is parsed
 * without yielding to timers, so the deadline is also checked by the clock
 * every few lines (see the line reader): a large reply within the caps ends
 * within the deadline, or the deadline's error is thrown (after closing).
 * A line count over `maxLines` is known before the extra line is read.
 */
export async function readSmtpReply(
  reader: LineReader,
  deadline: Deadline,
  limits: ReplyLimits,
  onFail: () => void,
): Promise<SmtpReply> {
  // (Awaited here: the hop orders a read failure after a concurrent write
  // failure, which names the step, as the pipeline's errors promise.)
  return await finishReply(reader, deadline, limits, onFail);
}

/**
 * Whether `line` is a whole single-line reply with code `quick` (a
 * terminating `NNN ` or a bare `NNN`), checked on the bytes alone.
 */
export function isQuickLine(line: Uint8Array, quick: number): boolean {
  const a = line[0] - 48, b = line[1] - 48, c = line[2] - 48;
  return (line.length === 3 || line[3] === 32) && a >= 0 && a <= 9 &&
    b >= 0 && b <= 9 && c >= 0 && c <= 9 && a * 100 + b * 10 + c === quick;
}

/**
 * Take from the reader's buffer, without reading, up to `max` consecutive
 * whole lines that are each a single-line reply with code `quick` (as
 * {@linkcode isQuickLine} says) of at most `maxLength` bytes; return how
 * many were taken. It stops before the first line that is anything else
 * (another code, a continuation, a longer line, an incomplete line), which
 * stays buffered for a full read: the replies of a pipelined envelope in
 * one call, nothing decoded or allocated per line.
 *
 * Linear: each byte is looked at once, and a line it stops at is the next
 * one read (so a line is scanned here at most once before it is taken).
 */
export function takeQuickRun(
  reader: LineReader,
  quick: number,
  max: number,
  maxLength: number,
): number {
  if (max <= 0 || reader.buffered < 4) return 0;
  const buf = reader.view();
  const a = 48 + Math.floor(quick / 100);
  const b = 48 + Math.floor(quick / 10) % 10;
  const c = 48 + quick % 10;
  let at = 0;
  let n = 0;
  while (n < max) {
    if (buf[at] !== a || buf[at + 1] !== b || buf[at + 2] !== c) break;
    const lf = buf.indexOf(10, at + 3);
    if (lf < 0) break;
    const stop = buf[lf - 1] === 13 ? lf - 1 : lf;
    const len = stop - at;
    if (len < 3 || len > maxLength || (len > 3 && buf[at + 3] !== 32)) break;
    at = lf + 1;
    n++;
  }
  if (at > 0) reader.consume(at);
  return n;
}

/**
 * Read one reply, but when it is a single line with code `quick` (e.g. 250
 * to a RCPT), return just the code: nothing is decoded or allocated. Any
 * other reply comes back whole, as from {@linkcode readSmtpReply}. `first`:
 * its first line, when the caller already took it from the reader.
 */
export async function readSmtpReplyCode(
  reader: LineReader,
  deadline: Deadline,
  limits: ReplyLimits,
  onFail: () => void,
  quick: number,
  first?: Uint8Array,
): Promise<number | SmtpReply> {
  const raw = first ?? reader.tryReadLine(deadline) ??
    await reader.readLine(deadline);
  if (isQuickLine(raw, quick)) return quick;
  return await finishReply(reader, deadline, limits, onFail, raw);
}

/** The rest of readSmtpReply, optionally from an already read first line. */
async function finishReply(
  reader: LineReader,
  deadline: Deadline,
  limits: ReplyLimits,
  onFail: () => void,
  first?: Uint8Array,
): Promise<SmtpReply> {
  const what = limits.what ?? "smtp reply";
  const lines: string[] = [];
  let code = 0;
  let bytes = 0;
  for (;;) {
    const raw = first ?? reader.tryReadLine(deadline) ??
      await reader.readLine(deadline);
    first = undefined;
    let parsed;
    try {
      parsed = parseReplyLine(raw);
    } catch (err) {
      onFail();
      throw err;
    }
    if (code !== 0 && parsed.code !== code) {
      onFail();
      throw new ProtocolError(
        `smtp reply mixes codes ${code} and ${parsed.code}`,
      );
    }
    code = parsed.code;
    bytes += raw.length;
    if (bytes > limits.maxBytes) {
      onFail();
      throw new ProtocolError(`${what} exceeds ${limits.maxBytes} bytes`);
    }
    lines.push(parsed.text);
    if (parsed.last) return makeReply(code, lines);
    if (lines.length >= limits.maxLines) {
      onFail();
      throw new ProtocolError(
        `${what} has more than ${limits.maxLines} lines`,
      );
    }
  }
}

/** First bytes of a line, for error messages (never a whole line). */
export function preview(line: Uint8Array): string {
  const text = decoder.decode(line.subarray(0, 40));
  return line.length > 40 ? text + "..." : text;
}
