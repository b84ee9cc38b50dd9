// POP3 status lines (+OK/-ERR, RFC 2449 codes, SASL continuations) and multi-line bodies.
import { ProtocolError } from "../errors.ts";
import type { Deadline } from "./deadline.ts";
import { CHECK_EVERY_BYTES, type LineReader } from "./line_reader.ts";
import { preview } from "./smtp_reply.ts";

/**
 * A POP3 status line.
 *
 * @example Read a status (type-checked; needs a server to run)
 * ```ts
 * import type { Pop3Client, Pop3Status } from "@mailwire/mailwire/pop3";
 *
 * async function ping(client: Pop3Client): Promise<boolean> {
 *   const status: Pop3Status = await client.noop();
 *   console.log(status.ok, status.text, status.respCode);
 *   return status.ok;
 * }
 * ```
 */
export interface Pop3Status {
  /** `+OK` (true) or `-ERR` (false). */
  readonly ok: boolean;
  /** Text after the status indicator, without the response code. */
  readonly text: string;
  /** RFC 2449 response code without brackets, e.g. `IN-USE`, `SYS/TEMP`. */
  readonly respCode?: string;
}

/** A SASL continuation (`+ <base64>`) in place of a status. */
export interface Pop3Continuation {
  readonly continuation: true;
  /** The text after `+ ` (base64, may be empty). */
  readonly text: string;
}

// ignoreBOM: keep a leading U+FEFF in the text instead of silently dropping it.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const RESP_CODE = /^\[([^\]\s]+)\]\s?/;

/**
 * Parse a status line strictly: exactly `+OK` or `-ERR`, followed by the end
 * of the line or a space. Anything else (`+ERR`, garbage, an empty line) is
 * a ProtocolError. With `allowContinuation`, `+` or `+ text` is a SASL
 * continuation.
 */
export function parsePop3Status(
  line: Uint8Array,
  allowContinuation = false,
): Pop3Status | Pop3Continuation {
  const n = line.length;
  if (
    n >= 3 && line[0] === 43 && line[1] === 79 && line[2] === 75 &&
    (n === 3 || line[3] === 32)
  ) {
    return status(true, n > 4 ? decoder.decode(line.subarray(4)) : "");
  }
  if (
    n >= 4 && line[0] === 45 && line[1] === 69 && line[2] === 82 &&
    line[3] === 82 && (n === 4 || line[4] === 32)
  ) {
    return status(false, n > 5 ? decoder.decode(line.subarray(5)) : "");
  }
  if (allowContinuation && line[0] === 43 && (n === 1 || line[1] === 32)) {
    return {
      continuation: true,
      text: decoder.decode(line.subarray(2)).trim(),
    };
  }
  throw new ProtocolError(
    `malformed pop3 status line: ${JSON.stringify(preview(line))}`,
  );
}

function status(ok: boolean, text: string): Pop3Status {
  const m = RESP_CODE.exec(text);
  if (!m) return { ok, text };
  return { ok, text: text.slice(m[0].length), respCode: m[1].toUpperCase() };
}

/** Read and strictly parse one status line; `onFail` closes the connection on a protocol error. */
export async function readPop3Status(
  reader: LineReader,
  deadline: Deadline,
  onFail: () => void,
): Promise<Pop3Status> {
  const line = reader.tryReadLine(deadline) ??
    await reader.readLine(deadline);
  try {
    return parsePop3Status(line) as Pop3Status;
  } catch (err) {
    onFail();
    throw err;
  }
}

/**
 * Caps on one multi-line response. A number is `maxBytes` alone.
 */
export interface MultilineLimits {
  /** Most bytes, counting each line as its length + 2 (CRLF), dots removed. */
  maxBytes: number;
  /** Most lines (the entry cap of a listing: LIST, UIDL, CAPA). Default: none. */
  maxLines?: number;
  /** What the response is, for the error messages (default `"response"`), e.g. `"uidl listing"`. */
  what?: string;
}

/**
 * Read a multi-line body up to the terminating `.` line. Every line that
 * starts with a dot loses that first dot (RFC 1939 §3, all lines, not only
 * `..`). `onLine` receives each line without its line end (a view valid only
 * during the call). Throws ProtocolError (after `onFail`) when the body
 * exceeds `maxBytes` or has more than `maxLines` lines.
 *
 * Linear in the body's size; a body already buffered is read without
 * yielding to timers, so the deadline is checked by the clock every few
 * lines too (see the line reader).
 */
export async function readMultiline(
  reader: LineReader,
  deadline: Deadline,
  limits: number | MultilineLimits,
  onFail: () => void,
  onLine: (line: Uint8Array) => void | Promise<void>,
): Promise<void> {
  const { maxBytes, maxLines = Infinity, what } = typeof limits === "number"
    ? { maxBytes: limits }
    : limits;
  const reading = what === undefined
    ? "reading a message"
    : `reading the ${what}`;
  const name = what ?? "response";
  let total = 0;
  let count = 0;
  for (;;) {
    let line = reader.tryReadLine(deadline, reading) ??
      await reader.readLine(deadline, reading);
    if (line.length > 0 && line[0] === 46) {
      if (line.length === 1) return;
      line = line.subarray(1);
    }
    total += line.length + 2;
    if (total > maxBytes) {
      onFail();
      throw new ProtocolError(`${name} exceeds ${maxBytes} bytes`);
    }
    if (++count > maxLines) {
      onFail();
      throw new ProtocolError(`${name} has more than ${maxLines} lines`);
    }
    const r = onLine(line);
    if (r) await r;
  }
}

const LF = 10;
const CR = 13;
const CRLF = new Uint8Array([13, 10]);
const CR_ONLY = CRLF.subarray(0, 1);

/** Options of {@linkcode readBody}. */
export interface ReadBodyOptions {
  /** What is read, for the deadline's errors (default `"reading a message"`). */
  what?: string;
  /**
   * The consumer keeps what it is given: when the reader holds a chunk it
   * borrowed from the stream (nobody else writes it), the body is unstuffed
   * in that chunk itself, and handed out as views of it that `onData` may
   * keep (`kept` true), one per chunk read. Otherwise, and for the few
   * bytes not in the chunk (a CR made of a bare LF with no room before it),
   * `onData` gets views it must copy (`kept` false).
   */
  keep?: boolean;
}

/**
 * Read a message body (RETR, TOP) up to the terminating `.` line, in bulk:
 * the bytes already received are scanned in place and handed to `onData`
 * several lines at a time, never split into lines here. The bytes are
 * exactly those {@linkcode readMultiline} gives, joined with CRLF: the
 * first dot of every dot-led line removed (RFC 1939 §3), a bare LF made
 * CRLF, the terminating line dropped. Bytes after it stay in the reader
 * for the next response.
 *
 * Without `keep`, `onData` gets views valid only during the call: runs of
 * whole lines between dot-led lines. With `keep`, see
 * {@linkcode ReadBodyOptions.keep}.
 *
 * Linear: each byte is looked at once (line ends are found with a native
 * search) and moved at most once, however the stream is chunked; a line
 * split across reads, inside its CRLF or right after its dot included,
 * costs no copy (the state is carried, not the bytes), so every chunk read
 * is borrowed from the stream. Lines may be of any length (only the total
 * is capped). When `onData` returns a promise, what it was given is
 * consumed and the scan waits for it. Throws ProtocolError (after
 * `onFail`) when the body exceeds `maxBytes`. The deadline bounds every
 * read and is checked by the clock between the buffers scanned.
 *
 * Returns the number of bytes handed out.
 */
export async function readBody(
  reader: LineReader,
  deadline: Deadline,
  maxBytes: number,
  onFail: () => void,
  onData: (bytes: Uint8Array, kept: boolean) => void | Promise<void>,
  options: ReadBodyOptions = {},
): Promise<number> {
  const what = options.what ?? "reading a message";
  let total = 0;
  // Where the scan is: at a line's first byte (`lineStart`), possibly with
  // its dot (`dot` 1) or dot and CR (`dot` 2) seen at the end of the last
  // buffer; `prevCR`: the last byte handed out (mid-line) was a CR.
  let lineStart = true;
  let dot = 0;
  let prevCR = false;
  let checked = 0;
  /** A constant owed to `onData`, after a wait (in place only). */
  let owe: Uint8Array | undefined;
  const count = (k: number) => {
    total += k;
    if (total > maxBytes) {
      onFail();
      throw new ProtocolError(`response exceeds ${maxBytes} bytes`);
    }
  };
  for (;;) {
    if (owe) {
      const c = owe;
      owe = undefined;
      const r = onData(c, false);
      if (r) await r;
    }
    const b = reader.view();
    const n = b.length;
    if (n === 0) {
      await reader.more(deadline, what);
      continue;
    }
    if (checked >= CHECK_EVERY_BYTES) {
      checked = 0;
      try {
        deadline.check(what);
      } catch (err) {
        onFail();
        throw err;
      }
    }
    const inPlace = options.keep === true && reader.borrowed;
    // In place: b[out, w) is data unstuffed and not handed out yet.
    let w = 0;
    let out = 0;
    /** Data: b[x, y). In place it joins b[out, w); else it goes out now. */
    const give = (x: number, y: number): void | Promise<void> => {
      count(y - x);
      if (!inPlace) return onData(b.subarray(x, y), false);
      if (w !== x) b.copyWithin(w, x, y);
      w += y - x;
    };
    const flush = (): void | Promise<void> => {
      if (w === out) return;
      const v = b.subarray(out, w);
      out = w;
      return onData(v, true);
    };
    /** Bytes not in b: after what b holds so far. */
    const constant = (c: Uint8Array): void | Promise<void> => {
      count(c.length);
      if (inPlace) {
        const r = flush();
        if (r) {
          owe = c;
          return r;
        }
      }
      return onData(c, false);
    };
    let i = 0;
    let wait: void | Promise<void> = undefined;
    let end = false;
    // One pass over b; leaves early (to wait) when onData returns a promise.
    scan: while (i < n && !wait) {
      let from = i;
      if (lineStart) {
        if (dot === 0) {
          if (b[i] === 46) {
            dot = 1;
            i++;
          } else {
            lineStart = false;
          }
        }
        if (dot === 1) {
          if (i >= n) break scan;
          if (b[i] === LF) {
            i++;
            end = true;
            break scan;
          }
          if (b[i] === CR) {
            dot = 2;
            i++;
          } else {
            dot = 0;
            lineStart = false;
          }
        }
        from = i;
        if (dot === 2) {
          if (i >= n) break scan;
          if (b[i] === LF) {
            i++;
            end = true;
            break scan;
          }
          // `.` CR and more: the CR is data.
          dot = 0;
          lineStart = false;
          if (i > 0) {
            from = i - 1; // the CR, in this buffer: part of the line's run
          } else {
            prevCR = true;
            wait = constant(CR_ONLY);
            if (wait) break scan;
          }
        }
      }
      // Mid-line: whole lines at once, up to a dot-led line, a bare LF, or
      // the end of the buffer.
      for (;;) {
        const at = b.indexOf(LF, i);
        if (at < 0) {
          prevCR = b[n - 1] === CR;
          i = n;
          wait = give(from, n);
          break scan;
        }
        // The byte before the LF, in this buffer or the one before.
        const bare = at > 0 ? b[at - 1] !== CR : !prevCR;
        i = at + 1;
        prevCR = false;
        if (bare) {
          if (at > from) {
            wait = give(from, at);
            if (wait) {
              i = at; // back to the LF: found again (bare) after the wait
              break scan;
            }
          }
          if (inPlace && w < at) {
            // Room left by a stuffing dot: the CR goes there, in place.
            count(1);
            b[w++] = CR;
            from = at;
          } else {
            wait = constant(CRLF);
            lineStart = true;
            continue scan;
          }
        }
        if (i >= n || b[i] === 46) {
          lineStart = true;
          wait = give(from, i);
          continue scan;
        }
      }
    }
    if (!wait) wait = flush();
    reader.consume(i);
    checked += i;
    if (wait) await wait;
    if (end) return total;
  }
}
