// sendMany and the mail queue: every send of a client goes through one pipeline; concurrent sends join it.

import { AbortedError, MailwireError } from "../errors.ts";
import { Deadline } from "../io/deadline.ts";
import type { Session, SessionCall } from "../io/session.ts";
import {
  SmtpNotSentError,
  SmtpOutcomeUnknownError,
  SmtpRecipientsRefusedError,
  SmtpSenderRefusedError,
} from "./errors.ts";
import {
  type JobInput,
  type JobSource,
  notSent,
  type Outcome,
  Pipeline,
  type SendProgress,
  type SentState,
} from "./pipeline.ts";
import { runSequential } from "./sequential.ts";
import type { Transaction, Wire } from "./transaction.ts";
import type { SmtpCallOptions } from "./options.ts";
import type {
  SendMailOptions,
  SendMessageOptions,
  SendResult,
} from "./types.ts";

/**
 * A composed message as `composeMessage` (the message entry) makes it:
 * what a send needs of it. Any object of this shape will do.
 *
 * @example
 * ```ts
 * import type { ComposedLike } from "@mailwire/mailwire/smtp";
 * const m: ComposedLike = {
 *   envelope: { from: "a@example.com", to: ["b@example.com"] },
 *   smtputf8: false,
 *   eightBit: false,
 *   size: 5,
 *   stream: () => new Blob(["hi\r\n\r\n"]).stream(),
 *   bytes: async () => new TextEncoder().encode("hi\r\n\r\n"),
 * };
 * console.log(m.envelope.to); // ["b@example.com"]
 * ```
 */
export interface ComposedLike {
  /** The envelope: sender and recipients. */
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  /** The message needs SMTPUTF8. */
  readonly smtputf8: boolean;
  /** The message has 8-bit bytes (BODY=8BITMIME). */
  readonly eightBit: boolean;
  /** Size in octets when known in advance (checked against the server's SIZE before sending). */
  readonly size: number | undefined;
  /** The whole message as a stream. */
  stream(): ReadableStream<Uint8Array>;
  /** The whole message in one buffer. */
  bytes(): Promise<Uint8Array>;
}

/**
 * One message of {@linkcode SmtpClient.sendMany}: the options of
 * `sendMail` (`data`), or a whole message with the options of
 * `sendMessage` (`message`). A per-message `signal` withdraws the message
 * while none of it was sent.
 *
 * @example
 * ```ts
 * import type { BatchMessage } from "@mailwire/mailwire/smtp";
 * const batch: BatchMessage[] = [
 *   { from: "me@example.com", to: "a@example.com", data: "Subject: 1\r\n\r\none\r\n" },
 *   { message: "From: me@example.com\r\nTo: b@example.com\r\nSubject: 2\r\n\r\ntwo\r\n" },
 * ];
 * console.log(batch.length); // 2
 * ```
 */
export type BatchMessage =
  | Omit<SendMailOptions, "timeout">
  | (Omit<SendMessageOptions, "timeout"> & {
    message: string | Uint8Array | ComposedLike;
  });

/**
 * The outcome of one message of a batch: its {@linkcode SendResult}, or
 * the error that says what happened to it: refused
 * (`SmtpSenderRefusedError`, `SmtpRecipientsRefusedError`,
 * `SmtpDataError`, `SmtpServiceClosingError`), not sent
 * (`SmtpNotSentError`, safe to send again; `AbortedError`; a bad input),
 * or of unknown outcome (`SmtpOutcomeUnknownError`: don't resend blindly).
 *
 * @example
 * ```ts
 * import type { SendManyResult } from "@mailwire/mailwire/smtp";
 * function report(results: SendManyResult[]) {
 *   for (const r of results) console.log(r.ok ? r.result.accepted : r.error.message);
 * }
 * console.log(typeof report); // "function"
 * ```
 */
export type SendManyResult =
  | { readonly ok: true; readonly result: SendResult }
  | { readonly ok: false; readonly error: Error };

/**
 * Options of {@linkcode SmtpClient.sendMany}.
 *
 * @example
 * ```ts
 * import type { SendManyOptions } from "@mailwire/mailwire/smtp";
 * const options: SendManyOptions = {
 *   timeout: 600_000, // the whole batch
 *   onProgress: ({ index, bytes, done }) => console.log(index, bytes, done),
 * };
 * console.log(typeof options.onProgress); // "function"
 * ```
 */
export interface SendManyOptions extends SmtpCallOptions {
  /**
   * Called as data goes out (`bytes` of message `index`) and as messages
   * end (`done` so far). Never called when not given.
   */
  onProgress?: (progress: SendProgress) => void;
}

/** What the queue needs of its client. @internal */
export interface MailHost {
  readonly session: Session;
  readonly wire: Wire;
  /** The client's timeout. */
  readonly timeout: number;
}

/** How far each settled message got, kept for the pool's retry decision. */
const SENT = new WeakMap<object, SentState>();

/**
 * How much of a message went out before the error it was settled with (for
 * errors a send reported; undefined for others). @internal
 */
export function sentStateOf(error: unknown): SentState | undefined {
  return typeof error === "object" && error !== null
    ? SENT.get(error)
    : undefined;
}

/** The phase a send's error belongs to, for its message. */
function phaseOf(error: unknown, fallback: string): string {
  if (error instanceof SmtpSenderRefusedError) return "mail";
  // (LMTP's refusals after the data are tagged "data reply" where read.)
  if (error instanceof SmtpRecipientsRefusedError) return "rcpt";
  if (error instanceof SmtpOutcomeUnknownError) {
    // Where the connection failed: the reply being read or the data being written.
    const cause = error.cause;
    return cause instanceof MailwireError && cause.phase !== undefined
      ? cause.phase
      : "data reply";
  }
  if (error instanceof SmtpNotSentError) return "mail";
  // A refused DATA, chunk or end of data is tagged where its reply is read.
  return fallback;
}

interface Queued {
  input: JobInput;
  call?: SessionCall;
  /** Rejects the send while it waits (an abort). */
  reject?: (err: unknown) => void;
}

/** A batch's messages, pulled one ahead (async iterables) so the next is ready when the wire is. */
class Feed {
  readonly #it: Iterator<BatchMessage> | AsyncIterator<BatchMessage>;
  readonly #make: (m: BatchMessage, index: number) => JobInput;
  #index = 0;
  #ready: JobInput | undefined;
  #next: Promise<void> | undefined;
  #done = false;
  #error: unknown;
  #hasError = false;
  #listeners: Array<() => void> = [];

  constructor(
    messages: Iterable<BatchMessage> | AsyncIterable<BatchMessage>,
    make: (m: BatchMessage, index: number) => JobInput,
  ) {
    const m = messages as Partial<
      Iterable<BatchMessage> & AsyncIterable<BatchMessage>
    >;
    if (typeof m[Symbol.asyncIterator] === "function") {
      this.#it = m[Symbol.asyncIterator]!();
    } else if (typeof m[Symbol.iterator] === "function") {
      this.#it = m[Symbol.iterator]!();
    } else {
      throw new TypeError(
        "sendMany takes an iterable or async iterable of messages",
      );
    }
    this.#make = make;
  }

  /** Messages taken so far. */
  get count(): number {
    return this.#index;
  }

  /** Whether the iterator is done (or failed) and nothing is buffered. */
  get done(): boolean {
    return this.#done && this.#ready === undefined;
  }

  #finish!: () => void;
  /** Resolves when the iterator is done (every message made). */
  readonly finished: Promise<void> = new Promise((r) => this.#finish = r);

  /** The iterator's own failure, if it threw. */
  get failure(): { error: unknown } | undefined {
    return this.#hasError ? { error: this.#error } : undefined;
  }

  take(): JobInput | undefined {
    if (this.#ready === undefined) this.#pull();
    const r = this.#ready;
    this.#ready = undefined;
    if (r !== undefined && !this.#done) this.#pull();
    return r;
  }

  /** Resolves once an item is ready or the iterator is done. */
  wait(): Promise<void> {
    if (this.#ready !== undefined || this.#done) return Promise.resolve();
    this.#pull();
    if (this.#ready !== undefined || this.#done) return Promise.resolve();
    return new Promise((r) => this.#listeners.push(r));
  }

  #notify(): void {
    const l = this.#listeners;
    this.#listeners = [];
    for (const f of l) f();
  }

  #accept(r: IteratorResult<BatchMessage>): void {
    if (r.done) {
      this.#done = true;
      this.#finish();
    } else this.#ready = this.#make(r.value, this.#index++);
  }

  #fail(err: unknown): void {
    this.#done = true;
    this.#finish();
    this.#hasError = true;
    this.#error = err;
  }

  #pull(): void {
    if (this.#done || this.#ready !== undefined || this.#next) return;
    let r: IteratorResult<BatchMessage> | Promise<IteratorResult<BatchMessage>>;
    try {
      r = this.#it.next();
    } catch (err) {
      this.#fail(err);
      return;
    }
    if (!(r instanceof Promise)) {
      this.#accept(r);
      return;
    }
    this.#next = r.then(
      (v) => this.#accept(v),
      (err) => this.#fail(err),
    ).finally(() => {
      this.#next = undefined;
      this.#notify();
    });
  }

  /** Stop early: every message not taken yet is settled by `settleRest`. */
  async drain(settleRest: (input: JobInput) => void): Promise<void> {
    for (let n = 0; n < 1e9; n++) {
      await this.wait();
      const input = this.take();
      if (input === undefined) break;
      settleRest(input);
    }
  }
}

/**
 * Every send of one client goes through this queue. When nothing is being
 * sent, a send starts a pump: one session call that runs a pipeline (or,
 * without PIPELINING, one transaction after another) until the queue is
 * empty. Sends made meanwhile (concurrent `sendMail`s, a `sendMany`'s
 * messages) join that pump instead of waiting their turn. @internal
 */
export class MailQueue implements JobSource {
  readonly #host: MailHost;
  #jobs: Queued[] = [];
  #feeds: Feed[] = [];
  #pumping = false;
  #waiters: Array<() => void> = [];
  /** Waiting sends by signal: one abort listener per signal, however many share it. */
  #watched = new AbortGroups<Queued>((signal, qs) => {
    // Taken ones stay: the pipeline decides.
    withdraw(
      this.#jobs,
      qs,
      (q) => q.reject?.(this.#error(abortedWaiting(signal), undefined)),
    );
  });

  constructor(host: MailHost) {
    this.#host = host;
  }

  /** A deadline for a message (or a batch) sent under `call`. */
  #deadline(call: SessionCall | undefined): Deadline {
    const s = this.#host.session;
    return new Deadline(
      call?.timeout ?? this.#host.timeout,
      s.signal(call),
      { shared: true },
    );
  }

  /**
   * Send one message (built lazily by `t`), joining the pump when one is
   * running. Resolves or rejects with its outcome.
   */
  send(
    t: Transaction | (() => Promise<Transaction>),
    call: SessionCall | undefined,
    progress?: (p: SendProgress) => void,
  ): Promise<SendResult> {
    return new Promise<SendResult>((resolve, reject) => {
      let d: Deadline | undefined;
      const deadline = () => d ??= this.#deadline(call);
      const q: Queued = {
        call,
        input: {
          t,
          get d() {
            return deadline();
          },
          signal: call?.signal,
          index: 0,
          progress,
          settle: (o, sent) => {
            d?.dispose();
            if (signal) this.#watched.remove(q, signal);
            if (o.ok) resolve(o.result);
            else reject(this.#error(o.error, sent));
          },
        },
      };
      const signal = call?.signal;
      if (signal) {
        if (signal.aborted) {
          reject(this.#error(abortedWaiting(signal), undefined));
          return;
        }
        q.reject = reject;
        this.#watched.add(q, signal);
      }
      this.#jobs.push(q);
      this.#kick(call);
    });
  }

  /** Send a batch; one result per message, in order. */
  async sendMany(
    messages: Iterable<BatchMessage> | AsyncIterable<BatchMessage>,
    options: SendManyOptions | undefined,
    make: (m: BatchMessage) => Transaction | (() => Promise<Transaction>),
  ): Promise<SendManyResult[]> {
    const results: SendManyResult[] = [];
    const d = this.#deadline(options);
    const progress = options?.onProgress;
    let settled = 0;
    let finish!: () => void;
    const finished = new Promise<void>((r) => finish = r);
    let exhausted = false;
    const check = () => {
      if (exhausted && settled === feed.count) finish();
    };
    const feed: Feed = new Feed(messages, (m, index): JobInput => {
      let t: Transaction | (() => Promise<Transaction>);
      let signal: AbortSignal | undefined;
      try {
        signal = itemSignal(m);
        t = make(m);
      } catch (err) {
        t = () => Promise.reject(err);
      }
      return {
        t,
        d,
        signal,
        index,
        progress,
        settle: (o, sent) => {
          results[index] = o.ok
            ? { ok: true, result: o.result }
            : { ok: false, error: this.#error(o.error, sent) as Error };
          settled++;
          check();
        },
      };
    });
    this.#feeds.push(feed);
    this.#kick(options);
    void feed.finished.then(() => {
      exhausted = true;
      check();
    });
    try {
      await finished;
    } finally {
      d.dispose();
      const i = this.#feeds.indexOf(feed);
      if (i >= 0) this.#feeds.splice(i, 1);
    }
    // An iterator that throws ends the batch: its error is the last result.
    const failure = feed.failure;
    if (failure) {
      results.push({
        ok: false,
        error: failure.error instanceof Error
          ? failure.error
          : new TypeError(String(failure.error)),
      });
    }
    return results;
  }

  /** The error a message settles with: annotated, with its sent state kept. */
  #error(err: unknown, sent: SentState | undefined): unknown {
    const s = this.#host.session;
    const out = s.annotate(err, phaseOf(err, s.phase));
    if (sent && typeof out === "object" && out !== null) SENT.set(out, sent);
    return out;
  }

  /** Start a pump unless one runs. */
  #kick(call: SessionCall | undefined): void {
    this.#wakeWaiters();
    if (this.#pumping) return;
    this.#pumping = true;
    void this.#pump(call);
  }

  async #pump(call: SessionCall | undefined): Promise<void> {
    // (The first message's own signal is its own: it must not stop the pump.)
    const host = this.#host;
    const s = host.session;
    try {
      // One session call for the whole pump; each message keeps its own
      // deadline (the first's bounds the greeting).
      await s.run(undefined, "mail", async () => {
        const first = this.#peekDeadline() ?? this.#deadline(call);
        const w = host.wire;
        await w.greet(first);
        if (w.pipelining()) await new Pipeline(w, this).run(first);
        else await runSequential(w, this);
      });
    } catch (err) {
      // Nothing could be sent (not connected, the greeting failed, the
      // turn was aborted): every waiting message gets the failure.
      this.#pumping = false;
      await this.drain(err, true);
      return;
    }
    this.#pumping = false;
    // A send that arrived as the pump ended starts the next one.
    if (this.#jobs.length || this.#feeds.some((f) => !f.done)) {
      this.#kick(undefined);
    }
  }

  #peekDeadline(): Deadline | undefined {
    if (this.#jobs.length) return this.#jobs[0].input.d;
    for (const f of this.#feeds) {
      const t = f.take();
      if (t) {
        this.#unread.push(t);
        return t.d;
      }
    }
    return undefined;
  }

  /** Inputs taken from a feed ahead of time (to look at them). */
  #unread: JobInput[] = [];

  // ---- JobSource ---------------------------------------------------------

  take(): JobInput | undefined {
    if (this.#unread.length) return this.#unread.shift();
    const q = this.#jobs.shift();
    if (q) {
      const signal = q.call?.signal;
      if (signal) this.#watched.remove(q, signal); // taken: the pipeline decides
      return q.input;
    }
    for (const f of this.#feeds) {
      const t = f.take();
      if (t) return t;
    }
    return undefined;
  }

  wait(): Promise<void> {
    if (this.#unread.length || this.#jobs.length || this.exhausted()) {
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      let done = false;
      const once = () => {
        if (done) return;
        done = true;
        resolve();
      };
      this.#waiters.push(once);
      for (const f of this.#feeds) void f.wait().then(once);
    });
  }

  #wakeWaiters(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  exhausted(): boolean {
    return this.#unread.length === 0 && this.#jobs.length === 0 &&
      this.#feeds.every((f) => f.done);
  }

  end(): boolean {
    return this.exhausted();
  }

  /** Settle every message not taken yet: not sent (or, `whole`, the failure itself). */
  async drain(error: unknown, whole = false): Promise<void> {
    const outcome = (): Outcome => ({
      ok: false,
      error: whole ? error : notSent(error),
    });
    const none: SentState = { dataStarted: false, ended: false };
    for (;;) {
      const input = this.#unread.shift() ?? this.#jobs.shift()?.input;
      if (!input) break;
      input.settle(outcome(), none);
    }
    for (const f of [...this.#feeds]) {
      await f.drain((input) => input.settle(outcome(), none));
    }
  }
}

function abortedWaiting(signal: AbortSignal): AbortedError {
  return new AbortedError("call aborted before it started", {
    cause: signal.reason,
  });
}

function itemSignal(m: BatchMessage): AbortSignal | undefined {
  const s = (m as { signal?: unknown } | null)?.signal;
  if (s === undefined) return undefined;
  if (!(s instanceof AbortSignal)) {
    throw new TypeError("a batch message's signal must be an AbortSignal");
  }
  return s;
}

/**
 * A batch message's own DKIM choice, overriding the client's `dkim`
 * option (`false`: don't sign). Set by `SmtpPool.send`. @internal
 */
export const DKIM_CHOICE: unique symbol = Symbol("mailwire.dkim");

/** `result` with the `Message-ID` of `message` when it is a composed message. @internal */
export function withMessageId(
  result: SendResult,
  message: unknown,
): SendResult {
  const id = (message as { messageId?: unknown } | null)?.messageId;
  return typeof id === "string" ? { ...result, messageId: id } : result;
}

/**
 * Items waiting under abort signals, with one listener per signal however
 * many items share it (a batch's signal): `onAbort` gets the signal's items
 * still registered. @internal
 */
export class AbortGroups<T> {
  readonly #groups = new Map<
    AbortSignal,
    { items: Set<T>; listener: () => void }
  >();
  readonly #onAbort: (signal: AbortSignal, items: Set<T>) => void;

  constructor(onAbort: (signal: AbortSignal, items: Set<T>) => void) {
    this.#onAbort = onAbort;
  }

  add(item: T, signal: AbortSignal): void {
    let g = this.#groups.get(signal);
    if (!g) {
      const items = new Set<T>();
      const listener = () => {
        this.#groups.delete(signal);
        this.#onAbort(signal, items);
      };
      g = { items, listener };
      this.#groups.set(signal, g);
      signal.addEventListener("abort", listener, { once: true });
    }
    g.items.add(item);
  }

  remove(item: T, signal: AbortSignal): void {
    const g = this.#groups.get(signal);
    if (!g) return;
    g.items.delete(item);
    if (g.items.size === 0) {
      this.#groups.delete(signal);
      signal.removeEventListener("abort", g.listener);
    }
  }
}

/** Take the items of `gone` out of `queue` in one pass (order kept), calling `each` on them. @internal */
export function withdraw<T>(
  queue: T[],
  gone: Set<T>,
  each: (item: T) => void,
): void {
  let kept = 0;
  for (const item of queue) {
    if (gone.has(item)) each(item);
    else queue[kept++] = item;
  }
  queue.length = kept;
}
