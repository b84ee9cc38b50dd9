import {
  ConnectionClosedError,
  MailwireError,
  ProtocolError,
} from "../errors.ts";
import type { Deadline } from "./deadline.ts";

const LF = 10;
const CR = 13;

/**
 * A pull-based line reader over a byte stream. It reads from the stream only
 * when a line is asked for and not yet buffered, keeps one growable buffer,
 * finds line ends by scanning bytes, and caps the length of a line.
 *
 * Lines end at LF; a CR before the LF is removed too. The returned line is a
 * view into the buffer, valid until the next call.
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
      const line = this.#takeLine();
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

  /** Try to take a line from the buffer only; null if none is complete. */
  tryReadLine(): Uint8Array | null {
    return this.#takeLine();
  }

  #takeLine(): Uint8Array | null {
    const buf = this.#buf;
    // Search the whole buffer (no view allocated per line); an LF found in
    // the stale space past #end doesn't count.
    let at = this.#end === this.#start
      ? -1
      : buf.indexOf(LF, this.#start + this.#scanned);
    if (at >= this.#end) at = -1;
    if (at < 0) {
      this.#scanned = this.#end - this.#start;
      return null;
    }
    const stop = at > this.#start && buf[at - 1] === CR ? at - 1 : at;
    if (stop - this.#start > this.maxLineLength) {
      this.#fail();
      throw new ProtocolError(
        `server sent a line longer than ${this.maxLineLength} bytes`,
      );
    }
    const line = buf.subarray(this.#start, stop);
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
      this.#buf = chunk;
      this.#owned = false;
      this.#start = 0;
      this.#end = chunk.length;
      return;
    }
    const need = len + chunk.length;
    if (!this.#owned || this.#buf.length < need) {
      const next = new Uint8Array(Math.max(need, 2 * len, 16384));
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#owned = true;
    } else if (this.#end + chunk.length > this.#buf.length) {
      this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      this.#buf.set(chunk, this.#end);
      this.#end += chunk.length;
      return;
    }
    this.#start = 0;
    this.#end = len;
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
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
