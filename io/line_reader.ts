// A pull-based CRLF line reader over a byte stream, with line caps and deadline checks.
import {
  ConnectionClosedError,
  MailwireError,
  ProtocolError,
} from "../errors.ts";
import type { Deadline } from "./deadline.ts";

const LF = 10;
const CR = 13;

/**
 * Lines, or bytes, handed out from the buffer between two deadline checks.
 * A loop over data already buffered never yields to timers, so the deadline
 * is checked by the clock instead: often enough to stop within a few
 * milliseconds of it, rarely enough to cost nothing measurable.
 */
export const CHECK_EVERY_LINES = 128;
/** See {@linkcode CHECK_EVERY_LINES}. */
export const CHECK_EVERY_BYTES = 256 * 1024;

/** Largest owned buffer kept for reuse once the reader borrows chunks again. */
const SPARE_MAX = 64 * 1024;

/**
 * A pull-based line reader over a byte stream. It reads from the stream only
 * when a line is asked for and not yet buffered, keeps one growable buffer,
 * finds line ends by scanning bytes, and caps the length of a line.
 *
 * Lines end at LF; a CR before the LF is removed too. The returned line is a
 * view into the buffer, valid until the next call.
 *
 * Linear in the bytes received, however they are chunked: a line end is
 * searched for only in bytes not searched before, and the buffer grows by
 * doubling. While lines are taken from the buffer without reading (no timer
 * can fire then), the deadline passed to {@linkcode LineReader.readLine} or
 * {@linkcode LineReader.tryReadLine} is checked every
 * {@linkcode CHECK_EVERY_LINES} lines or {@linkcode CHECK_EVERY_BYTES} bytes.
 */
export class LineReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #onFail: () => void;
  #buf: Uint8Array = new Uint8Array(0);
  #owned = false;
  #start = 0;
  #end = 0;
  #scanned = 0; // bytes from #start known to hold no LF
  #eof = false;
  #spare: Uint8Array | undefined; // an owned buffer to reuse (at most SPARE_MAX)
  #lines = 0; // lines handed out since the last deadline check
  #bytes = 0; // bytes handed out since the last deadline check

  /** Longest accepted line in bytes, without its line end. */
  maxLineLength: number;

  constructor(
    readable: ReadableStream<Uint8Array>,
    maxLineLength: number,
    onFail: () => void,
  ) {
    this.#reader = readable.getReader();
    this.maxLineLength = maxLineLength;
    this.#onFail = onFail;
  }

  /** Bytes received but not yet handed out. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * The next line without its line end (view, valid until the next call).
   * Throws ConnectionClosedError at end of stream, ProtocolError for a line
   * over the cap, TimeoutError/AbortedError from the deadline.
   */
  async readLine(
    deadline: Deadline,
    what = "reading a reply",
  ): Promise<Uint8Array> {
    for (;;) {
      const line = this.#takeLine(deadline, what);
      if (line) return line;
      if (this.#end - this.#start > this.maxLineLength + 1) {
        this.#fail();
        throw new ProtocolError(
          `server sent a line longer than ${this.maxLineLength} bytes`,
        );
      }
      await this.#fill(deadline, what);
    }
  }

  /**
   * Try to take a line from the buffer only; null if none is complete.
   * With a deadline, a TimeoutError/AbortedError (after closing) when it
   * has passed, checked every {@linkcode CHECK_EVERY_LINES} lines.
   */
  tryReadLine(
    deadline?: Deadline,
    what = "reading a reply",
  ): Uint8Array | null {
    return this.#takeLine(deadline, what);
  }

  /**
   * The bytes received but not yet handed out (a view, valid until the next
   * call): for a reader that consumes them in bulk ({@linkcode consume}),
   * e.g. a message body scanned in place.
   */
  view(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /**
   * Whether {@linkcode view} is a chunk as the stream gave it (borrowed;
   * the reader never writes it), not a buffer of the reader's own (which
   * it reuses).
   */
  get borrowed(): boolean {
    return !this.#owned;
  }

  /** Mark the first `n` bytes of {@linkcode view} as handed out. */
  consume(n: number): void {
    if (n <= 0) return;
    if (n > this.#end - this.#start) throw new RangeError("consume past end");
    this.#start += n;
    this.#scanned = 0;
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  /**
   * Read one more chunk from the stream into the buffer, bounded by
   * `deadline`. Throws ConnectionClosedError at end of stream (after
   * closing), TimeoutError/AbortedError from the deadline. Once every
   * buffered byte was consumed, the chunk is borrowed, not copied.
   */
  more(deadline: Deadline, what = "reading a reply"): Promise<void> {
    return this.#fill(deadline, what);
  }

  #takeLine(deadline: Deadline | undefined, what: string): Uint8Array | null {
    const buf = this.#buf;
    // Search the whole buffer (no view allocated per line): an owned buffer
    // holds an LF sentinel just past #end, so the search never runs into
    // the stale space beyond (which made a long, finely chunked line cost
    // time quadratic in its length); a borrowed one ends at #end.
    let at = this.#end === this.#start
      ? -1
      : buf.indexOf(LF, this.#start + this.#scanned);
    if (at >= this.#end) at = -1;
    if (at < 0) {
      this.#scanned = this.#end - this.#start;
      return null;
    }
    if (
      deadline &&
      (++this.#lines >= CHECK_EVERY_LINES || this.#bytes >= CHECK_EVERY_BYTES)
    ) {
      this.#lines = 0;
      this.#bytes = 0;
      try {
        deadline.check(what);
      } catch (err) {
        this.#fail();
        throw err;
      }
    }
    const stop = at > this.#start && buf[at - 1] === CR ? at - 1 : at;
    if (stop - this.#start > this.maxLineLength) {
      this.#fail();
      throw new ProtocolError(
        `server sent a line longer than ${this.maxLineLength} bytes`,
      );
    }
    const line = buf.subarray(this.#start, stop);
    this.#bytes += at + 1 - this.#start;
    this.#start = at + 1;
    this.#scanned = 0;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return line;
  }

  async #fill(deadline: Deadline, what: string): Promise<void> {
    if (this.#eof) {
      this.#fail();
      throw new ConnectionClosedError("connection closed by server");
    }
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await deadline.race(
        this.#reader.read(),
        () => this.#fail(),
        what,
      );
    } catch (err) {
      if (err instanceof MailwireError) throw err;
      this.#fail();
      throw new ConnectionClosedError("connection lost while reading", {
        cause: err,
      });
    }
    if (result.done) {
      // The peer closed (or half-closed) while we expected data: close our
      // side too, as on every other failure.
      this.#eof = true;
      this.#fail();
      throw new ConnectionClosedError("connection closed by server");
    }
    this.#append(result.value);
  }

  #append(chunk: Uint8Array): void {
    const len = this.#end - this.#start;
    if (len === 0) {
      // Borrow the chunk: no copy for the common case of one reply per read.
      // Keep a small owned buffer for the next line split across reads.
      if (this.#owned && this.#buf.length <= SPARE_MAX) this.#spare = this.#buf;
      this.#buf = chunk;
      this.#owned = false;
      this.#start = 0;
      this.#end = chunk.length;
      return;
    }
    const need = len + chunk.length;
    if (!this.#owned || this.#buf.length < need) {
      // Room for half as much again: the next chunk (with the partial line
      // it leaves) then fits without another allocation.
      const spare = this.#spare;
      const next = !this.#owned && spare && spare.length >= need
        ? spare
        : new Uint8Array(Math.max(need + (need >> 1), 2 * len, 16384));
      this.#spare = undefined;
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#owned = true;
    } else if (this.#end + chunk.length > this.#buf.length) {
      this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      this.#buf.set(chunk, this.#end);
      this.#end += chunk.length;
      this.#sentinel();
      return;
    }
    this.#start = 0;
    this.#end = len;
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
    this.#sentinel();
  }

  /** An LF just past the data of an owned buffer stops every search there. */
  #sentinel(): void {
    if (this.#end < this.#buf.length) this.#buf[this.#end] = LF;
  }

  #fail(): void {
    this.#onFail();
  }

  /** Release the stream lock (before a TLS upgrade). */
  release(): void {
    try {
      this.#reader.releaseLock();
    } catch { /* already released */ }
  }
}
