/**
 * Dot-stuffing and line-end normalisation for SMTP DATA (and CRLF
 * normalisation for BDAT), correct across chunk boundaries.
 *
 * Every CR, LF or CRLF becomes CRLF, so no bare CR or LF ever leaves (SMTP
 * smuggling). With stuffing on, a line that starts with "." gets one more.
 * Clean chunks (CRLF only, no line starting with a dot) pass through
 * without a copy.
 */

const CR = 13;
const LF = 10;
const DOT = 46;
const CRLF = new Uint8Array([CR, LF]);
const END_AFTER_LINE = new Uint8Array([DOT, CR, LF]);
const END_MID_LINE = new Uint8Array([CR, LF, DOT, CR, LF]);

/** Stateful encoder: feed chunks with `push`, then call `end` once. */
export class DotStuffer {
  #stuff: boolean;
  #lineStart = true;
  #pendingCr = false;
  #eightBit = false;
  #dots = 0;

  /** Whether any byte pushed so far was above 127 (the body needs 8BITMIME). */
  get eightBit(): boolean {
    return this.#eightBit;
  }

  /** How many dots stuffing added so far (RFC 1870 sizes leave them out). */
  get dotsAdded(): number {
    return this.#dots;
  }

  /** `stuff: false` only normalises line ends (BDAT). */
  constructor(stuff = true) {
    this.#stuff = stuff;
  }

  /**
   * Encode one chunk. May return the chunk itself when nothing changes.
   * `scratch`, when given and at least `2 * chunk.length + 2` bytes, holds
   * the output instead of a fresh buffer (a streaming sender reuses one
   * once its previous output was written): no garbage per chunk.
   */
  push(chunk: Uint8Array, scratch?: Uint8Array): Uint8Array {
    const n = chunk.length;
    if (n === 0) return chunk;
    if (!this.#pendingCr && this.#isClean(chunk)) {
      this.#lineStart = chunk[n - 1] === LF;
      return chunk;
    }
    const out = scratch && scratch.length >= 2 * n + 2
      ? scratch
      : new Uint8Array(2 * n + 2);
    let o = 0;
    let i = 0;
    let lineStart = this.#lineStart;
    if (this.#pendingCr) {
      this.#pendingCr = false;
      out[o++] = CR;
      out[o++] = LF;
      lineStart = true;
      if (chunk[0] === LF) i = 1;
    }
    const stuff = this.#stuff;
    for (; i < n; i++) {
      const b = chunk[i];
      if (b === CR) {
        if (i + 1 === n) {
          this.#pendingCr = true;
          break;
        }
        if (chunk[i + 1] === LF) i++;
        out[o++] = CR;
        out[o++] = LF;
        lineStart = true;
      } else if (b === LF) {
        out[o++] = CR;
        out[o++] = LF;
        lineStart = true;
      } else {
        if (b > 127) this.#eightBit = true;
        if (lineStart && b === DOT && stuff) {
          out[o++] = DOT;
          this.#dots++;
        }
        out[o++] = b;
        lineStart = false;
      }
    }
    this.#lineStart = lineStart;
    return out.subarray(0, o);
  }

  /**
   * Finish: the final line end when the data didn't end with one, then (when
   * stuffing) the `.` terminator, so the stream ends in exactly one CRLF.CRLF.
   */
  end(): Uint8Array {
    const pending = this.#pendingCr;
    this.#pendingCr = false;
    const open = pending || !this.#lineStart;
    this.#lineStart = true;
    // Fresh copies: a consumer may modify or transfer the chunk it gets, and
    // that must not corrupt the terminator of every later message.
    if (this.#stuff) return (open ? END_MID_LINE : END_AFTER_LINE).slice();
    return open ? CRLF.slice() : new Uint8Array(0);
  }

  /**
   * One pass over the chunk: clean means only CRLF line ends and (when
   * stuffing) no line starting with a dot. Also notes 8-bit bytes. A plain
   * loop beats indexOf here: mail lines are short, and each indexOf call
   * costs more than the bytes it skips (measured on Deno and Bun).
   */
  #isClean(chunk: Uint8Array): boolean {
    const stuff = this.#stuff;
    if (stuff && this.#lineStart && chunk[0] === DOT) return false;
    const n = chunk.length;
    let high = 0;
    for (let i = 0; i < n; i++) {
      const b = chunk[i];
      high |= b;
      if (b > CR) continue;
      if (b === CR) {
        if (chunk[++i] !== LF) return false;
        if (stuff && chunk[i + 1] === DOT) return false;
      } else if (b === LF) return false;
    }
    if (high > 127) this.#eightBit = true;
    return true;
  }
}

/**
 * A TransformStream that dot-stuffs and CRLF-normalises a message body and,
 * with `terminate` (default), appends the end-of-data marker.
 */
export function stuffDots(
  options: { stuff?: boolean; terminate?: boolean } = {},
): TransformStream<Uint8Array, Uint8Array> {
  const enc = new DotStuffer(options.stuff ?? true);
  const terminate = options.terminate ?? true;
  let lastCr = false; // the encoder holds back a final CR (an LF may follow)
  return new TransformStream({
    transform(chunk, controller) {
      if (chunk.length) lastCr = chunk[chunk.length - 1] === CR;
      const out = enc.push(chunk);
      if (out.length) controller.enqueue(out);
    },
    flush(controller) {
      const tail = enc.end();
      if (terminate) {
        if (tail.length) controller.enqueue(tail);
      } else if (lastCr) {
        // Without a terminator the held-back CR must still come out, as CRLF.
        controller.enqueue(CRLF.slice());
      }
    },
  });
}

/** Encode a whole body held in memory: the encoded parts, terminator last. */
export function stuffMessage(body: Uint8Array, stuff = true): Uint8Array[] {
  const enc = new DotStuffer(stuff);
  const parts = [enc.push(body), enc.end()];
  return parts.filter((p) => p.length > 0);
}
