// Deadline: the point in time (and the AbortSignal) that bounds one whole operation, with at most one timer.
import { AbortedError, type MailwireError, TimeoutError } from "../errors.ts";

/** setTimeout takes a signed 32-bit delay; longer ones fire at once. */
const MAX_TIMER = 2 ** 31 - 1;

/**
 * How long a {@linkcode PacedDeadline}'s timer waits at most before it looks
 * again: it outlives the waits, so a stream left unread (its connection
 * closed under it) keeps a process alive this long at most.
 */
const RECHECK = 500;

/** One wait in progress: how to fail it. */
interface Pending {
  onFail: () => void;
  reject: (err: MailwireError) => void;
  what: string;
}

/**
 * A point in time by which an operation must finish, plus an optional
 * AbortSignal. One deadline bounds a whole operation (all its reads and
 * writes), so a peer that drips one byte a second cannot keep it alive.
 *
 * With `shared` (what every public call gets), the deadline arms one timer
 * and one abort listener on its first wait and keeps them for its life,
 * however many reads and writes wait on it (concurrent ones included);
 * {@linkcode Deadline.dispose} releases them when the call ends. Without
 * it, each wait arms and clears its own timer (nothing to dispose).
 */
export class Deadline {
  /** The budget in milliseconds (Infinity for none). */
  readonly ms: number;
  /** The caller's signal, if any. */
  readonly signal: AbortSignal | undefined;
  #at: number;
  readonly #shared: boolean;
  #armed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pending: Set<Pending> | undefined;
  #onAbort: (() => void) | undefined;

  constructor(
    ms: number | undefined,
    signal?: AbortSignal,
    options?: { shared?: boolean },
  ) {
    this.ms = ms === undefined || ms <= 0 || !Number.isFinite(ms)
      ? Infinity
      : ms;
    this.signal = signal;
    this.#at = this.ms === Infinity ? Infinity : performance.now() + this.ms;
    this.#shared = options?.shared ?? false;
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
    if (this.#shared) return this.#sharedRace(promise, onFail, what);
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

  /** Release the timer and the abort listener of a shared deadline (idempotent). */
  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#onAbort) this.signal?.removeEventListener("abort", this.#onAbort);
    this.#onAbort = undefined;
  }

  #sharedRace<T>(
    promise: Promise<T>,
    onFail: () => void,
    what: string,
  ): Promise<T> {
    const early = this.signal?.aborted
      ? this.#abortError(what)
      : this.remaining() === 0
      ? this.#timeoutError(what)
      : undefined;
    if (early) {
      try {
        onFail();
      } catch { /* best effort */ }
      promise.catch(() => {});
      return Promise.reject(early);
    }
    if (!this.#armed) this.#arm();
    const pending = (this.#pending ??= new Set());
    return new Promise<T>((resolve, reject) => {
      const p: Pending = { onFail, reject, what };
      pending.add(p);
      promise.then(
        (value) => {
          pending.delete(p);
          resolve(value);
        },
        (err) => {
          pending.delete(p);
          reject(err);
        },
      );
    });
  }

  /** First wait of a shared deadline: one timer, one listener, for its life. */
  #arm(): void {
    this.#armed = true;
    const left = this.remaining();
    const step = (ms: number): void => {
      this.#timer = setTimeout(() => {
        if (ms > MAX_TIMER) return step(ms - MAX_TIMER);
        this.#timer = undefined;
        this.#at = 0;
        this.#failAll((what) => this.#timeoutError(what));
      }, Math.min(ms, MAX_TIMER));
    };
    if (left !== Infinity) step(left);
    const signal = this.signal;
    if (signal) {
      this.#onAbort = () => this.#failAll((what) => this.#abortError(what));
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  #failAll(error: (what: string) => MailwireError): void {
    const pending = this.#pending;
    if (!pending || pending.size === 0) return;
    const all = [...pending];
    pending.clear();
    for (const p of all) {
      try {
        p.onFail();
      } catch { /* closing is best effort */ }
      p.reject(error(p.what));
    }
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

/**
 * A deadline for a stream read at the consumer's pace: each
 * {@linkcode PacedDeadline.restart} (a pull) opens a fresh window of `ms`
 * from now, and every wait must end within the window it runs in. It arms
 * one timer, lazily: a pull only moves the end of the window; when the
 * timer fires it waits again for whatever the window has left, fails the
 * wait in progress if the window has passed, and stops when nothing waits
 * (the next wait arms it again). It looks at least every half second (so
 * it never lingers longer than that after the last wait). So a stream of
 * thousands of reads costs a timer per half second, not one per read, and a
 * stalled server still fails within the window. One abort listener for its life too;
 * {@linkcode PacedDeadline.dispose} releases both.
 */
export class PacedDeadline extends Deadline {
  #window: number;
  #end: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the armed timer fires (performance.now() time). */
  #due = 0;
  #wait: Pending | undefined;
  #onAbort: (() => void) | undefined;
  #disposed = false;

  /** `ms` and the signal are those of `template`; the first window opens now. */
  constructor(template: Deadline) {
    super(undefined, template.signal);
    this.#window = template.ms;
    this.#end = this.#window === Infinity
      ? Infinity
      : performance.now() + this.#window;
  }

  /** The budget of each window, in milliseconds (Infinity for none). */
  get window(): number {
    return this.#window;
  }

  /** Open a fresh window of `ms` (by default the current budget) from now. */
  restart(ms: number = this.#window): void {
    this.#window = ms;
    this.#end = ms === Infinity ? Infinity : performance.now() + ms;
    if (this.#timer !== undefined && this.#end < this.#due) {
      // A shorter window than the timer's (the drain after a cancel).
      clearTimeout(this.#timer);
      this.#timer = undefined;
      if (this.#wait) this.#arm(ms);
    }
  }

  override remaining(): number {
    return this.#end === Infinity
      ? Infinity
      : Math.max(0, this.#end - performance.now());
  }

  override check(what: string): void {
    if (this.signal?.aborted) throw this.#abortError(what);
    if (this.remaining() === 0) throw this.#timeoutError(what);
  }

  override race<T>(
    promise: Promise<T>,
    onFail: () => void,
    what: string,
  ): Promise<T> {
    const signal = this.signal;
    if (this.#end === Infinity && !signal) return promise;
    const early = signal?.aborted
      ? this.#abortError(what)
      : this.remaining() === 0
      ? this.#timeoutError(what)
      : undefined;
    if (early || this.#disposed) {
      try {
        onFail();
      } catch { /* closing is best effort */ }
      promise.catch(() => {});
      return Promise.reject(early ?? this.#abortError(what));
    }
    if (this.#timer === undefined && this.#end !== Infinity) {
      this.#arm(this.#end - performance.now());
    }
    if (signal && !this.#onAbort) {
      this.#onAbort = () => this.#fail(this.#abortError.bind(this));
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    return new Promise<T>((resolve, reject) => {
      const wait: Pending = { onFail, reject, what };
      this.#wait = wait;
      promise.then(
        (value) => {
          if (this.#wait === wait) this.#wait = undefined;
          resolve(value);
        },
        (err) => {
          if (this.#wait === wait) this.#wait = undefined;
          reject(err);
        },
      );
    });
  }

  /** Release the timer and the abort listener (idempotent); later waits fail. */
  override dispose(): void {
    this.#disposed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#onAbort) this.signal?.removeEventListener("abort", this.#onAbort);
    this.#onAbort = undefined;
  }

  #arm(ms: number): void {
    const delay = Math.min(Math.max(ms, 0), RECHECK);
    this.#due = performance.now() + delay;
    this.#timer = setTimeout(this.#fire, delay);
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    if (!this.#wait) return; // nothing waits: the next wait arms it again
    const left = this.#end - performance.now();
    // Under a millisecond left: the timer's rounding; the window is over.
    if (left >= 1) return this.#arm(left);
    this.#end = 0;
    this.#fail(this.#timeoutError.bind(this));
  };

  #fail(error: (what: string) => MailwireError): void {
    const wait = this.#wait;
    if (!wait) return;
    this.#wait = undefined;
    try {
      wait.onFail();
    } catch { /* closing is best effort */ }
    wait.reject(error(wait.what));
  }

  #timeoutError(what: string): TimeoutError {
    return new TimeoutError(
      `${what} did not complete within ${this.#window} ms`,
      this.#window,
    );
  }

  #abortError(what: string): AbortedError {
    return new AbortedError(`${what} aborted`, { cause: this.signal?.reason });
  }
}
