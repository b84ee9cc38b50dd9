import { type Deadline, PacedDeadline } from "../io/deadline.ts";
import type { LineReader } from "../io/line_reader.ts";
import { readBody } from "../io/pop3_status.ts";
import { AbortedError } from "../errors.ts";

/** Never allocate more than this up front on the server's word ("+OK n octets"). */
const MAX_PREALLOCATION = 16 << 20;
/** The first buffer when no size was announced. */
const INITIAL = 16384;

/**
 * Collects the lines of a multi-line body (already unstuffed by io) into
 * one buffer, each followed by CRLF.
 *
 * Starts at the announced size (at most 16 MiB up front), so the common case
 * needs neither growth nor a final copy. Past that, the data itself has
 * shown the message is big: the buffer grows once, straight to the
 * announced size (capped by `maxBytes`); just past the announced size (a
 * server counting differently) by an eighth; with no size announced, or
 * past that, it doubles (never beyond `maxBytes` unless a line needs it).
 * {@linkcode BodyBuffer.bytes} hands out a view when the spare room is at
 * most an eighth of the data, else an exact copy.
 */
export class BodyBuffer {
  #buf: Uint8Array;
  #n = 0;
  /** What the buffer may grow to at once: min(announced, maxBytes). */
  readonly #target: number | undefined;
  readonly #max: number;
  #copies = 0;

  constructor(sizeHint?: number, maxBytes = Infinity) {
    this.#max = maxBytes;
    this.#target = sizeHint !== undefined && Number.isSafeInteger(sizeHint) &&
        sizeHint > 0
      ? Math.min(sizeHint, maxBytes)
      : undefined;
    this.#buf = new Uint8Array(
      this.#target !== undefined
        ? Math.min(this.#target, MAX_PREALLOCATION)
        : INITIAL,
    );
  }

  /** Bytes collected so far. */
  get length(): number {
    return this.#n;
  }

  /** Full copies of the data made so far (growths and a final trim). */
  get copies(): number {
    return this.#copies;
  }

  /** Append a line and its CRLF. */
  push(line: Uint8Array): void {
    const need = this.#n + line.length + 2;
    if (need > this.#buf.length) this.#grow(need);
    this.#buf.set(line, this.#n);
    this.#buf[this.#n + line.length] = 13;
    this.#buf[this.#n + line.length + 1] = 10;
    this.#n = need;
  }

  /** Append bytes as they are (a span of a body already unstuffed). */
  append(bytes: Uint8Array): void {
    const need = this.#n + bytes.length;
    if (need > this.#buf.length) this.#grow(need);
    this.#buf.set(bytes, this.#n);
    this.#n = need;
  }

  #grow(need: number): void {
    const target = this.#target;
    const size = target !== undefined && need <= target
      ? target // straight to the announced size
      : target !== undefined && this.#buf.length === target
      ? need + Math.floor(need / 8) // just past it: a server counting differently
      : this.#buf.length * 2; // no size announced, or a wrong one
    const next = new Uint8Array(Math.max(need, Math.min(size, this.#max)));
    next.set(this.#buf.subarray(0, this.#n));
    this.#buf = next;
    this.#copies++;
  }

  /**
   * The collected bytes: the buffer itself when full, a view of it when the
   * spare room is small (at most an eighth of the data), else an exact copy.
   */
  bytes(): Uint8Array {
    const spare = this.#buf.length - this.#n;
    if (spare === 0) return this.#buf;
    if (spare <= this.#n / 8) return this.#buf.subarray(0, this.#n);
    this.#copies++;
    return this.#buf.slice(0, this.#n);
  }
}

/** Thrown inside the body reader when a drain would read too much. */
const DRAIN_LIMIT = Symbol("drain limit");

/** What {@linkcode messageStream} needs from the client. */
export interface MessageStreamOptions {
  /** The connection's line reader, positioned after the `+OK` status line. */
  reader: LineReader;
  /** Most body bytes accepted (after unstuffing). */
  maxBytes: number;
  /** Size of the chunks handed out. */
  chunkSize: number;
  /**
   * The deadline of one pull: its budget (and signal) bound each pull,
   * counted from the pull's start. Called once, when the stream is made.
   */
  pullDeadline: () => Deadline;
  /** The deadline of the drain after a cancel (called at the cancel). */
  drainDeadline: () => Deadline;
  /** Most bytes read and discarded after a cancel before closing instead. */
  drainLimit: number;
  /** Aborting it ends the stream at once with an AbortedError, connection closed. */
  signal?: AbortSignal;
  /** Close the connection (its state is unknown). */
  abort: () => void;
  /** Turn a failure into the error the consumer sees. */
  mapError: (err: unknown) => unknown;
  /**
   * Called once, when the stream is over: `true` when the whole body was
   * read (the connection is ready for the next command), `false` when the
   * connection was closed.
   */
  done: (clean: boolean) => void;
}

/**
 * A pull-based stream over a multi-line body: lines are read from the
 * connection only while the consumer asks for a chunk, and each pull has
 * its own deadline. Memory stays bounded by a chunk read (lines may be of
 * any length): the body is unstuffed in the chunk the connection read and
 * handed out as views of it (at most `chunkSize` each); only bytes not
 * found there (a buffer of the line reader's own, a CR added to a bare
 * LF) are copied into a chunk of `chunkSize`.
 *
 * Cancelling reads and discards the rest of the body (up to `drainLimit`
 * bytes, within the drain deadline) so the connection stays usable; past
 * either bound the connection is closed. Either way `cancel()` resolves
 * once the connection is in a known state.
 */
export function messageStream(
  o: MessageStreamOptions,
): ReadableStream<Uint8Array> {
  // One timer for the stream, re-checked lazily (not one per socket read):
  // each pull opens a fresh window of the pull's budget.
  const deadline = new PacedDeadline(o.pullDeadline());
  const pullBudget = deadline.window;
  const ready: Uint8Array[] = [];
  let block: Uint8Array | undefined; // being filled by copies
  let used = 0;
  let resume: (() => void) | undefined; // wakes the reader suspended in onData
  let notify: (() => void) | undefined; // wakes a pull waiting for a chunk
  let task: Promise<void> | undefined;
  let finished = false;
  let failed = false;
  let failure: unknown;
  let discarding = false;
  let discarded = 0;
  let over = false;

  const onAbort = () => {
    if (over || finished) return;
    fail(
      new AbortedError("reading a message aborted", {
        cause: o.signal?.reason,
      }),
    );
    end(false);
    wake();
  };
  const end = (clean: boolean) => {
    if (over) return;
    over = true;
    deadline.dispose();
    o.signal?.removeEventListener("abort", onAbort);
    if (!clean) o.abort();
    o.done(clean);
  };
  const fail = (err: unknown) => {
    if (failed) return;
    failed = true;
    failure = err;
  };
  const wake = () => {
    const n = notify;
    notify = undefined;
    n?.();
  };
  const copy = (bytes: Uint8Array) => {
    let off = 0;
    while (off < bytes.length) {
      block ??= new Uint8Array(o.chunkSize);
      const n = Math.min(bytes.length - off, o.chunkSize - used);
      block.set(bytes.subarray(off, off + n), used);
      used += n;
      off += n;
      if (used === o.chunkSize) {
        ready.push(block);
        block = undefined;
        used = 0;
      }
    }
  };
  const onData = (bytes: Uint8Array, kept: boolean): void | Promise<void> => {
    if (discarding) {
      discarded += bytes.length;
      if (discarded > o.drainLimit) throw DRAIN_LIMIT;
      return;
    }
    if (kept) {
      // Ours (unstuffed in the chunk read): handed out as it is, in pieces
      // of at most a chunk, after what was copied before it.
      if (block && used > 0) ready.push(block.subarray(0, used));
      block = undefined;
      used = 0;
      for (let off = 0; off < bytes.length; off += o.chunkSize) {
        ready.push(bytes.subarray(off, off + o.chunkSize));
      }
    } else {
      copy(bytes);
    }
    if (ready.length > 0) {
      // A chunk is ready: hand it over and read nothing more until asked.
      wake();
      return new Promise<void>((r) => resume = r);
    }
  };
  const start = () =>
    readBody(o.reader, deadline, o.maxBytes, o.abort, onData, { keep: true })
      .then(
        () => {
          finished = true;
          if (block && used > 0 && !discarding) {
            ready.push(block.subarray(0, used));
          }
        },
        fail,
      ).finally(wake);
  const proceed = () => {
    const r = resume;
    resume = undefined;
    r?.();
  };

  o.signal?.addEventListener("abort", onAbort, { once: true });
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (ready.length === 0 && !finished && !failed) {
        deadline.restart(pullBudget);
        try {
          deadline.check("reading a message");
        } catch (err) {
          end(false);
          throw o.mapError(err);
        }
        task ??= start();
        proceed();
        // Bounded: each round either yields a chunk, or the reader ends,
        // fails, or times out (it is under the pull's deadline).
        while (ready.length === 0 && !finished && !failed) {
          await new Promise<void>((r) => notify = r);
        }
        if (discarding) return; // cancelled meanwhile: cancel() finishes up
      }
      const chunk = ready.shift();
      if (chunk) {
        controller.enqueue(chunk);
        return;
      }
      if (failed) {
        end(false);
        throw o.mapError(failure);
      }
      end(true);
      controller.close();
    },
    async cancel() {
      if (over) return;
      discarding = true;
      ready.length = 0;
      if (!finished && !failed) {
        deadline.restart(o.drainDeadline().ms);
        task ??= start();
        proceed();
        await task;
      }
      end(finished && !failed);
    },
  }, { highWaterMark: 0 });
}
