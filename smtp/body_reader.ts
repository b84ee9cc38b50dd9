// The reader of a streamed message body: one recycled buffer for byte streams (a file's), chunk by chunk otherwise.

import type { Deadline } from "../io/deadline.ts";
import { InvalidInputError } from "../errors.ts";

/** Size of the buffer a byte stream is read into. */
export const BODY_READ_SIZE = 64 * 1024;

/**
 * Reads a message body stream within a deadline. A byte stream (e.g.
 * `Deno.open().readable`) is read with a BYOB reader into one buffer that
 * is used again for the next read once the caller says it is done with the
 * last chunk ({@linkcode BodyReader.recycle}): no allocation per chunk, so
 * the source's garbage cannot pile up until the next collection (on Deno a
 * 50 MiB file read this way grows RSS by 9–11 MiB, against 38–40 read
 * chunk by chunk). Any other stream is read chunk by chunk.
 *
 * @internal
 */
export class BodyReader {
  #byob: ReadableStreamBYOBReader | undefined;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  /** The buffer for the next BYOB read, once recycled. */
  #spare: Uint8Array | undefined;
  /** The last chunk a BYOB read returned. */
  #last: Uint8Array | undefined;

  constructor(stream: ReadableStream<Uint8Array>) {
    try {
      this.#byob = stream.getReader({ mode: "byob" });
    } catch {
      // Not a byte stream: the default reader (the stream is still unlocked).
      this.#reader = stream.getReader();
    }
  }

  /**
   * The next chunk within `d` (cancelling the stream at the deadline), or
   * undefined at the end. A chunk that is not a Uint8Array is an error.
   * From a byte stream, the chunk is valid until the read after
   * {@linkcode recycle}.
   */
  async read(d: Deadline): Promise<Uint8Array | undefined> {
    const byob = this.#byob;
    if (byob === undefined) {
      const reader = this.#reader!;
      const { done, value } = await d.race(
        reader.read(),
        () => reader.cancel().catch(() => {}),
        "reading message data",
      );
      if (done) return undefined;
      if (!(value instanceof Uint8Array)) {
        throw new InvalidInputError(
          "message stream must yield Uint8Array chunks",
        );
      }
      return value;
    }
    const buffer = this.#spare ?? new Uint8Array(BODY_READ_SIZE);
    this.#spare = undefined;
    const { done, value } = await d.race(
      byob.read(buffer),
      () => byob.cancel().catch(() => {}),
      "reading message data",
    );
    if (done || value === undefined) return undefined;
    this.#last = value;
    return value;
  }

  /**
   * The caller is done with the last chunk (written, or copied): the next
   * read of a byte stream may fill its buffer again. Without this call it
   * reads into a fresh buffer.
   */
  recycle(): void {
    const last = this.#last;
    this.#last = undefined;
    if (last !== undefined && last.buffer.byteLength > 0) {
      this.#spare = new Uint8Array(last.buffer, 0, last.buffer.byteLength);
    }
  }

  /** Cancel the stream (after a failure). */
  cancel(reason?: unknown): void {
    (this.#byob ?? this.#reader)!.cancel(reason).catch(() => {});
  }

  /** Release the stream's lock. */
  releaseLock(): void {
    (this.#byob ?? this.#reader)!.releaseLock();
  }
}
