import { AbortedError, type MailwireError, TimeoutError } from "../errors.ts";

/** setTimeout takes a signed 32-bit delay; longer ones fire at once. */
const MAX_TIMER = 2 ** 31 - 1;

/**
 * A point in time by which an operation must finish, plus an optional
 * AbortSignal. One deadline bounds a whole operation (all its reads and
 * writes), so a peer that drips one byte a second cannot keep it alive.
 */
export class Deadline {
  /** The budget in milliseconds (Infinity for none). */
  readonly ms: number;
  /** The caller's signal, if any. */
  readonly signal: AbortSignal | undefined;
  #at: number;

  constructor(ms: number | undefined, signal?: AbortSignal) {
    this.ms = ms === undefined || ms <= 0 || !Number.isFinite(ms)
      ? Infinity
      : ms;
    this.signal = signal;
    this.#at = this.ms === Infinity ? Infinity : performance.now() + this.ms;
  }

  /** Milliseconds left (Infinity for none, 0 when passed). */
  remaining(): number {
    return this.#at === Infinity
      ? Infinity
      : Math.max(0, this.#at - performance.now());
  }

  /** Throw the typed error if the deadline passed or the signal fired. */
  check(what: string): void {
    if (this.signal?.aborted) throw this.#abortError(what);
    if (this.remaining() === 0) throw this.#timeoutError(what);
  }

  /**
   * Wait for `promise`, but no longer than the deadline and not past an
   * abort. On expiry or abort, `onFail` runs first (it closes the
   * connection, which also settles `promise`), then the typed error is
   * thrown.
   */
  race<T>(promise: Promise<T>, onFail: () => void, what: string): Promise<T> {
    const signal = this.signal;
    if (this.#at === Infinity && !signal) return promise;
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const fail = (err: MailwireError) => {
        cleanup();
        try {
          onFail();
        } catch { /* closing is best effort */ }
        promise.catch(() => {}); // the close settles it; ignore the outcome
        reject(err);
      };
      const onAbort = () => fail(this.#abortError(what));
      const cleanup = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      if (signal?.aborted) return onAbort();
      const left = this.remaining();
      if (left === 0) return fail(this.#timeoutError(what));
      // A delay over MAX_TIMER would fire at once: wait in steps instead.
      const arm = (ms: number): void => {
        timer = setTimeout(
          () => ms > MAX_TIMER ? arm(ms - MAX_TIMER) : this.#expire(fail, what),
          Math.min(ms, MAX_TIMER),
        );
      };
      if (left !== Infinity) arm(left);
      signal?.addEventListener("abort", onAbort, { once: true });
      promise.then(
        (value) => {
          cleanup();
          resolve(value);
        },
        (err) => {
          cleanup();
          reject(err);
        },
      );
    });
  }

  /** The timer fired: the deadline has passed, whatever the clocks' rounding says. */
  #expire(fail: (err: MailwireError) => void, what: string): void {
    this.#at = 0;
    fail(this.#timeoutError(what));
  }

  #timeoutError(what: string): TimeoutError {
    return new TimeoutError(
      `${what} did not complete within ${this.ms} ms`,
      this.ms,
    );
  }

  #abortError(what: string): AbortedError {
    return new AbortedError(`${what} aborted`, { cause: this.signal?.reason });
  }
}
