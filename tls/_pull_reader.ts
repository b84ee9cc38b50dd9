// The read side of a connector over a socket that emits data events (node:net, Bun's own): one chunk held, handed to the pull that waits.
import type { MailwireError } from "../errors.ts";
import { attempt } from "./_util.ts";

/** What a {@linkcode PullReader} asks of its connection. */
export interface PullSource {
  /** Start reading: called when a pull waits and nothing is held. */
  resume(): void;
  /** Stop reading (the reader cancelled). */
  pause(): void;
  /** The error to hand to the reader, once there is one. */
  error(): MailwireError | null;
  /** Whether the stream is over (the peer ended, or the connection closed or upgraded). */
  over(): boolean;
}

/**
 * A pull-based readable over data events. The socket is read only while a
 * pull waits: its connection pauses it at each chunk
 * ({@linkcode PullReader.take}) and the next pull resumes it. At most one
 * chunk is held; one that arrives anyway is joined to it, never lost.
 *
 * @internal
 */
export class PullReader {
  readonly readable: ReadableStream<Uint8Array>;
  #source: PullSource;
  #chunk: Uint8Array | null = null;
  #pulling: (() => void) | null = null;
  #controller!: ReadableStreamDefaultController<Uint8Array>;

  constructor(source: PullSource) {
    this.#source = source;
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () =>
        new Promise<void>((resolve) => {
          this.#pulling = resolve;
          this.settle();
          if (this.#pulling !== null) source.resume();
        }),
      cancel: () => {
        // The reader gave up: stop reading. The socket stays open until
        // close() (the writable is still usable).
        this.#pulling = null;
        source.pause();
      },
    }, { highWaterMark: 0 });
  }

  /** Bytes received and not handed out yet. */
  get held(): number {
    return this.#chunk?.byteLength ?? 0;
  }

  /** Whether a pull waits. */
  get reading(): boolean {
    return this.#pulling !== null;
  }

  /** Bytes received: held for (or handed to) the pull. */
  take(data: Uint8Array): void {
    const held = this.#chunk;
    if (held === null) {
      this.#chunk = data;
    } else {
      // Not expected (a paused socket delivers nothing), but never lose bytes.
      const joined = new Uint8Array(held.byteLength + data.byteLength);
      joined.set(held);
      joined.set(data, held.byteLength);
      this.#chunk = joined;
    }
    this.settle();
  }

  /** Hands what arrived (bytes, then an error or the end) to the waiting pull. */
  settle(): void {
    const done = this.#pulling;
    if (done === null) return;
    const controller = this.#controller;
    const error = this.#source.error();
    if (this.#chunk !== null) {
      const chunk = this.#chunk;
      this.#chunk = null;
      attempt(() => controller.enqueue(chunk));
    } else if (error !== null) {
      attempt(() => controller.error(error));
    } else if (this.#source.over()) {
      attempt(() => controller.close());
    } else {
      return;
    }
    this.#pulling = null;
    done();
  }

  /** Ends the readable (the connection closed or was upgraded). */
  end(): void {
    this.settle();
    if (this.#pulling === null) attempt(() => this.#controller.close());
  }
}
