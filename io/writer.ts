import { ConnectionClosedError, MailwireError } from "../errors.ts";
import type { Deadline } from "./deadline.ts";

/** Parts smaller than this are coalesced into one write; larger ones go as they are (no copy). */
const COALESCE_LIMIT = 64 * 1024;

/**
 * Writes groups of byte parts (a pipelined batch of commands, a body and its
 * terminator) with as few writes as possible: small parts are joined into
 * one buffer, large parts are written without a copy.
 */
export class Writer {
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #onFail: () => void;

  constructor(writable: WritableStream<Uint8Array>, onFail: () => void) {
    this.#writer = writable.getWriter();
    this.#onFail = onFail;
  }

  /** Write every part, in order, within the deadline. */
  async write(
    parts: readonly Uint8Array[],
    deadline: Deadline,
    what = "sending",
  ): Promise<void> {
    let group: Uint8Array[] = [];
    let size = 0;
    for (const part of parts) {
      if (part.length >= COALESCE_LIMIT) {
        if (size) await this.#one(join(group, size), deadline, what);
        group = [];
        size = 0;
        await this.#one(part, deadline, what);
      } else if (part.length) {
        group.push(part);
        size += part.length;
      }
    }
    if (size) await this.#one(join(group, size), deadline, what);
  }

  async #one(bytes: Uint8Array, deadline: Deadline, what: string) {
    if (deadline.signal?.aborted || deadline.remaining() === 0) {
      // Already too late: send nothing, close as on any other failure.
      this.#onFail();
      deadline.check(what);
    }
    try {
      await deadline.race(this.#writer.write(bytes), this.#onFail, what);
    } catch (err) {
      if (err instanceof MailwireError) throw err;
      this.#onFail();
      throw new ConnectionClosedError("connection lost while writing", {
        cause: err,
      });
    }
  }

  /** Release the stream lock (before a TLS upgrade). */
  release(): void {
    try {
      this.#writer.releaseLock();
    } catch { /* already released */ }
  }
}

/** Concatenate parts into one buffer of `size` bytes (no copy for one part). */
export function join(parts: readonly Uint8Array[], size?: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const total = size ?? parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
