// SmtpPool: many messages over a few SmtpClient connections, with reconnects, rate limits and exact accounting.

import {
  AbortedError,
  ConnectionClosedError,
  type MailwireError,
} from "../errors.ts";
import { checkClientOptions } from "../io/client_options.ts";
import {
  checkCallOptions,
  checkOptions,
  func,
  object,
  positiveInteger,
  type Spec,
  timeout,
} from "../io/options.ts";
import { SmtpClient } from "./client.ts";
import { composeForSend } from "./composed.ts";
import { SmtpNotSentError } from "./errors.ts";
import {
  AbortGroups,
  type BatchMessage,
  type ComposedLike,
  DKIM_CHOICE,
  type SendManyOptions,
  type SendManyResult,
  sentStateOf,
  withdraw,
  withMessageId,
} from "./many.ts";
import { SMTP_SPEC, type SmtpClientOptions } from "./options.ts";
import type { SendProgress } from "./job.ts";
import type {
  SendMailOptions,
  SendMessageOptions,
  SendOptions,
  SendResult,
} from "./types.ts";

/**
 * Options of {@linkcode SmtpPool}: every {@linkcode SmtpClientOptions}
 * (for each connection), plus the pool's own. Checked strictly when the
 * pool is created.
 *
 * @example
 * ```ts
 * import type { SmtpPoolOptions } from "@mailwire/mailwire/smtp";
 * const options: SmtpPoolOptions = {
 *   hostname: "smtp.example.com",
 *   auth: { username: "me@example.com", password: "app-password" },
 *   maxConnections: 3,
 *   maxMessagesPerConnection: 500,
 *   rateLimit: { messages: 100, interval: 60_000 }, // at most 100 a minute
 * };
 * console.log(options.maxConnections); // 3
 * ```
 */
export interface SmtpPoolOptions extends SmtpClientOptions {
  /** Connections open at once at most. Default 5. */
  maxConnections?: number;
  /** Messages sent over one connection before it is replaced. Default 100; `Infinity` for no limit. */
  maxMessagesPerConnection?: number;
  /** A connection idle this long (ms) is closed with QUIT. Default 30 000. */
  idleTimeout?: number;
  /** At most `messages` messages started per `interval` ms, across the pool. */
  rateLimit?: { messages: number; interval: number };
  /** How many times a message that was never sent is put back in the queue after a lost connection. Default 3. */
  maxRequeues?: number;
}

const POOL_SPEC: Spec = {
  maxConnections: positiveInteger(1000),
  maxMessagesPerConnection: (value, name) => {
    if (value !== Infinity) positiveInteger()(value, name);
  },
  idleTimeout: timeout,
  rateLimit: (value, name) => {
    object({ messages: positiveInteger(), interval: timeout })(value, name);
    const r = value as { messages?: unknown; interval?: unknown };
    if (r.messages === undefined || r.interval === undefined) {
      throw new TypeError(`${name} needs { messages, interval }`);
    }
  },
  maxRequeues: (value, name) => {
    if (value !== 0) positiveInteger(100)(value, name);
  },
};
const POOL_KEYS = Object.keys(POOL_SPEC);
/**
 * Messages one connection takes from the queue at once: enough to keep its
 * pipeline full, few enough that the other connections get a share.
 */
const IN_FLIGHT = 100;
const SEND_SPEC: Spec = {
  from: () => {},
  to: () => {},
  data: () => {},
  mailOptions: () => {},
  rcptOptions: () => {},
  signal: () => {},
  timeout: () => {},
  onProgress: func,
};

interface PoolJob {
  item: BatchMessage;
  signal?: AbortSignal;
  timeout?: number;
  requeues: number;
  /** Progress of this message on its connection. */
  progress?: (p: SendProgress) => void;
  settle(r: SendManyResult): void;
}

/** One connection of the pool and its life. */
class Slot {
  client: SmtpClient | undefined;
  sent = 0;
  busy = 0;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  connecting: Promise<void> | undefined;
  /** Why the connection could not be opened. */
  error: unknown;
  dead = false;
}

/**
 * A pool of SMTP connections with the same sending surface as
 * {@linkcode SmtpClient} (`send`, `sendMail`, `sendMessage`, `sendMany`).
 * Messages wait in one queue; each connection takes up to 100 at once into
 * its pipeline (concurrent sends on one client join one pipeline), and a
 * new connection opens while messages still wait, up to
 * `maxConnections` connections, each replaced after
 * `maxMessagesPerConnection` messages and closed after `idleTimeout` ms
 * idle. It uses nothing but `SmtpClient`, so it runs wherever the client
 * does (a Worker included: one pool per isolate, with a `connector`).
 *
 * Failures are exact: a refusal rejects that message (the connection is
 * reset with RSET and goes on); a `421` or a lost connection reconnects,
 * and puts back in the queue only the messages none of whose data was
 * sent (at most `maxRequeues` times). A message whose data went out but
 * whose reply never came rejects with `SmtpOutcomeUnknownError`: it is
 * never sent twice.
 *
 * @example
 * ```ts
 * import { SmtpPool } from "@mailwire/mailwire/smtp";
 * async function notify(addresses: string[], password: string) {
 *   await using pool = new SmtpPool({
 *     hostname: "smtp.example.com",
 *     auth: { username: "me@example.com", password },
 *     maxConnections: 2,
 *   });
 *   await Promise.all(addresses.map((to) =>
 *     pool.sendMail({ from: "me@example.com", to, data: `To: ${to}\r\nSubject: hi\r\n\r\nHello\r\n` })
 *   ));
 * } // the pool drains, then QUITs every connection
 * console.log(typeof notify); // "function"
 * ```
 */
export class SmtpPool {
  readonly #clientOptions: SmtpClientOptions;
  readonly #max: number;
  readonly #perConnection: number;
  readonly #idle: number;
  readonly #rate: { messages: number; interval: number } | undefined;
  readonly #maxRequeues: number;
  readonly #queue: PoolJob[] = [];
  readonly #slots = new Set<Slot>();
  readonly #starts: number[] = [];
  readonly #quitting = new Set<Promise<void>>();
  /** Queued messages by signal: one abort listener per signal (a batch's). */
  readonly #watched = new AbortGroups<PoolJob>((signal, jobs) => {
    // Taken ones stay: their connection withdraws them if unsent.
    withdraw(
      this.#queue,
      jobs,
      (j) => j.settle({ ok: false, error: aborted(signal) }),
    );
    this.#checkDrained();
  });
  #rateTimer: ReturnType<typeof setTimeout> | undefined;
  #opened = 0;
  #closing = false;
  #drained: (() => void) | undefined;

  /**
   * Create a pool (no connection opens until a message is sent). Every
   * option is checked here, as for {@linkcode SmtpClient}.
   *
   * @example
   * ```ts
   * import { SmtpPool } from "@mailwire/mailwire/smtp";
   * const pool = new SmtpPool({ hostname: "smtp.example.com", maxConnections: 2 });
   * console.log(pool.pending); // 0
   * await pool.close();
   * ```
   */
  constructor(options: SmtpPoolOptions = {}) {
    checkClientOptions(options, { ...SMTP_SPEC, ...POOL_SPEC }, "SmtpPool");
    const o = options ?? {};
    const client: Record<string, unknown> = { ...o };
    for (const k of POOL_KEYS) delete client[k];
    this.#clientOptions = client as SmtpClientOptions;
    // Every client option is checked once more by the client itself.
    new SmtpClient(this.#clientOptions);
    this.#max = o.maxConnections ?? 5;
    this.#perConnection = o.maxMessagesPerConnection ?? 100;
    this.#idle = o.idleTimeout ?? 30_000;
    this.#rate = o.rateLimit;
    this.#maxRequeues = o.maxRequeues ?? 3;
  }

  /**
   * Messages waiting for a connection (not counting those being sent).
   *
   * @example
   * ```ts
   * import { SmtpPool } from "@mailwire/mailwire/smtp";
   * const pool = new SmtpPool({ hostname: "smtp.example.com" });
   * console.log(pool.pending); // 0
   * await pool.close();
   * ```
   */
  get pending(): number {
    return this.#queue.length;
  }

  /**
   * Connections open or opening.
   *
   * @example
   * ```ts
   * import { SmtpPool } from "@mailwire/mailwire/smtp";
   * const pool = new SmtpPool({ hostname: "smtp.example.com" });
   * console.log(pool.connections); // 0 until something is sent
   * await pool.close();
   * ```
   */
  get connections(): number {
    return this.#slots.size;
  }

  /**
   * Connections opened since the pool was created, replacements after a
   * lost connection or `maxMessagesPerConnection` included.
   *
   * @example
   * ```ts
   * import { SmtpPool } from "@mailwire/mailwire/smtp";
   * const pool = new SmtpPool({ hostname: "smtp.example.com" });
   * console.log(pool.opened); // 0
   * await pool.close();
   * ```
   */
  get opened(): number {
    return this.#opened;
  }

  /**
   * Open one connection now (connect, TLS, EHLO, login), so that a wrong
   * host, certificate or password shows when the program starts rather
   * than at the first message (nodemailer's `verify()`). When a
   * connection is already open it is checked instead (busy, or answering a
   * NOOP), and replaced if the server dropped it. Rejects with the error
   * (`ConnectError`, `TlsError`, `AuthError`, …, with host, port and
   * phase), and the pool stays usable. The connection then serves messages
   * like any other, and is closed after `idleTimeout` ms idle.
   *
   * @example
   * ```ts
   * import { SmtpPool } from "@mailwire/mailwire/smtp";
   * async function start(password: string): Promise<SmtpPool> {
   *   const pool = new SmtpPool({
   *     hostname: "smtp.example.com",
   *     auth: { username: "me@example.com", password },
   *   });
   *   try {
   *     await pool.connect(); // fails here on a bad password
   *   } catch (err) {
   *     await pool.close();
   *     throw err;
   *   }
   *   return pool;
   * }
   * console.log(typeof start); // "function"
   * ```
   */
  async connect(): Promise<void> {
    if (this.#closing) {
      throw new ConnectionClosedError("the pool is closed; create a new one");
    }
    let opening: Slot | undefined;
    for (const slot of [...this.#slots]) {
      if (slot.dead) continue;
      if (slot.connecting) {
        opening ??= slot;
      } else if (slot.client?.connected && slot.busy > 0) {
        return; // sending: alive
      } else if (slot.client?.connected && await this.#alive(slot)) {
        return;
      } else if (!slot.dead) {
        this.#retire(slot); // the server went away while it was idle
      }
    }
    const slot = opening ?? this.#open();
    await slot.connecting;
    if (slot.error !== undefined) throw slot.error;
  }

  /**
   * Send one message, as {@linkcode SmtpClient.sendMail} does. Its
   * `signal` withdraws it while it waits in the queue or none of it was
   * sent; its `timeout` bounds its send once a connection takes it.
   *
   * @example
   * ```ts
   * import type { SmtpPool } from "@mailwire/mailwire/smtp";
   * async function send(pool: SmtpPool) {
   *   const { accepted } = await pool.sendMail({
   *     from: "me@example.com",
   *     to: "you@example.com",
   *     data: "Subject: hi\r\n\r\nHello\r\n",
   *   });
   *   console.log(accepted); // ["you@example.com"]
   * }
   * console.log(typeof send); // "function"
   * ```
   */
  sendMail(options: SendMailOptions): Promise<SendResult> {
    try {
      checkCallOptions(options, "mail");
      checkOptions(options, SEND_SPEC, "sendMail options");
    } catch (err) {
      return Promise.reject(err);
    }
    const { signal, timeout, onProgress, ...item } = options;
    return this.#one(item, signal, timeout, onProgress);
  }

  /**
   * Compose and send a message, as {@linkcode SmtpClient.send} does
   * (nodemailer-shaped options: `from`, `to`, `subject`, `text`, `html`,
   * `attachments`, …). A `dkim` option signs this message, in place of the
   * pool's own `dkim` option. The result carries the `messageId`.
   *
   * @example
   * ```ts
   * import type { SmtpPool } from "@mailwire/mailwire/smtp";
   * async function welcome(pool: SmtpPool, to: string) {
   *   const { messageId } = await pool.send({
   *     from: { name: "Example", address: "hello@example.com" },
   *     to,
   *     subject: "Welcome",
   *     text: "Glad to have you.",
   *     html: "<p>Glad to have you.</p>",
   *   });
   *   console.log(messageId); // "<…@example.com>"
   * }
   * console.log(typeof welcome); // "function"
   * ```
   */
  send(options: SendOptions): Promise<SendResult> {
    let composed;
    try {
      checkCallOptions(options, "mail");
      composed = composeForSend(options);
    } catch (err) {
      return Promise.reject(err);
    }
    const { message, dkim } = composed;
    const { signal, timeout, ...rest } = composed.send;
    const item: BatchMessage & { [DKIM_CHOICE]?: unknown } = {
      ...rest,
      message,
    };
    if (dkim) item[DKIM_CHOICE] = dkim;
    return this.#one(item, signal, timeout, options.onProgress)
      .then((result) => withMessageId(result, message));
  }

  /**
   * Send a whole message, as {@linkcode SmtpClient.sendMessage} does (a
   * composed message included).
   *
   * @example
   * ```ts
   * import type { SmtpPool } from "@mailwire/mailwire/smtp";
   * async function forward(pool: SmtpPool, raw: Uint8Array) {
   *   await pool.sendMessage(raw, { to: ["archive@example.com"] });
   * }
   * console.log(typeof forward); // "function"
   * ```
   */
  sendMessage(
    message: string | Uint8Array | ComposedLike,
    options: SendMessageOptions = {},
  ): Promise<SendResult> {
    try {
      checkCallOptions(options, "mail");
    } catch (err) {
      return Promise.reject(err);
    }
    const { signal, timeout, onProgress, ...rest } = options;
    return this.#one({ ...rest, message }, signal, timeout, onProgress)
      .then((result) => withMessageId(result, message));
  }

  /**
   * Send a batch, one {@linkcode SendManyResult} per message in order, as
   * {@linkcode SmtpClient.sendMany} does, spread over the pool's
   * connections. Messages are taken from `messages` as the pool has room.
   *
   * @example
   * ```ts
   * import type { SmtpPool } from "@mailwire/mailwire/smtp";
   * async function campaign(pool: SmtpPool, to: string[]) {
   *   const results = await pool.sendMany(
   *     to.map((rcpt) => ({ from: "news@example.com", to: rcpt, data: "Subject: news\r\n\r\nHi\r\n" })),
   *   );
   *   console.log(results.filter((r) => r.ok).length, "sent");
   * }
   * console.log(typeof campaign); // "function"
   * ```
   */
  async sendMany(
    messages: Iterable<BatchMessage> | AsyncIterable<BatchMessage>,
    options: SendManyOptions = {},
  ): Promise<SendManyResult[]> {
    checkCallOptions(options, "mail");
    checkOptions(
      options,
      { signal: () => {}, timeout: () => {}, onProgress: func },
      "sendMany options",
    );
    const results: Promise<SendManyResult>[] = [];
    const window = this.#max * 1000;
    let inFlight = 0;
    let wake: (() => void) | undefined;
    // Progress in batch terms: the message's index, messages settled so far.
    const onProgress = options.onProgress;
    let done = 0;
    for await (const item of messages as AsyncIterable<BatchMessage>) {
      while (inFlight >= window) await new Promise<void>((r) => wake = r);
      inFlight++;
      const signal = (item as { signal?: AbortSignal })?.signal ??
        options.signal;
      const index = results.length;
      let bytes = 0;
      results.push(
        new Promise<SendManyResult>((settle) =>
          this.#enqueue({
            item,
            signal,
            timeout: options.timeout,
            requeues: 0,
            progress: onProgress &&
              ((p) => onProgress({ index, bytes: bytes = p.bytes, done })),
            settle: (r) => {
              inFlight--;
              done++;
              onProgress?.({ index, bytes, done });
              wake?.();
              settle(r);
            },
          })
        ),
      );
    }
    return await Promise.all(results);
  }

  #one(
    item: BatchMessage,
    signal: AbortSignal | undefined,
    timeout: number | undefined,
    progress: ((p: SendProgress) => void) | undefined,
  ): Promise<SendResult> {
    return new Promise((resolve, reject) =>
      this.#enqueue({
        item,
        signal,
        timeout,
        requeues: 0,
        progress,
        settle: (r) => r.ok ? resolve(r.result) : reject(r.error),
      })
    );
  }

  #enqueue(job: PoolJob): void {
    if (this.#closing) {
      job.settle({
        ok: false,
        error: new SmtpNotSentError("not sent: the pool is closed"),
      });
      return;
    }
    const signal = job.signal;
    if (signal?.aborted) {
      job.settle({ ok: false, error: aborted(signal) });
      return;
    }
    if (signal) this.#watched.add(job, signal);
    this.#queue.push(job);
    this.#dispatch();
  }

  /** Hand queued messages to connections, opening new ones as needed. */
  #dispatch(): void {
    if (this.#queue.length === 0) return;
    if (!this.#rateAllows()) return;
    // Existing connections take what they can first.
    for (const slot of this.#slots) {
      if (slot.dead || slot.connecting) continue;
      this.#feed(slot);
      if (this.#queue.length === 0) return;
    }
    // One connection opening at a time: each new one takes a full share.
    const opening = [...this.#slots].some((s) => s.connecting);
    if (!opening && this.#slots.size < this.#max) this.#open();
  }

  /** Whether the rate limit lets one more message start now; else a timer retries. */
  #rateAllows(): boolean {
    const r = this.#rate;
    if (!r) return true;
    const now = performance.now();
    while (this.#starts.length && this.#starts[0] <= now - r.interval) {
      this.#starts.shift();
    }
    if (this.#starts.length < r.messages) return true;
    if (!this.#rateTimer) {
      const wait = this.#starts[0] + r.interval - now;
      this.#rateTimer = setTimeout(() => {
        this.#rateTimer = undefined;
        this.#dispatch();
      }, Math.max(1, wait));
    }
    return false;
  }

  /** Whether an idle connection still answers (NOOP). */
  async #alive(slot: Slot): Promise<boolean> {
    const t = this.#clientOptions.timeout ?? 60_000;
    try {
      await slot.client!.noop({ timeout: Math.min(t, 5000) });
      return true;
    } catch {
      return false;
    }
  }

  #open(): Slot {
    const slot = new Slot();
    this.#slots.add(slot);
    this.#opened++;
    const client = new SmtpClient(this.#clientOptions);
    slot.client = client;
    slot.connecting = client.connect().then(
      () => {
        slot.connecting = undefined;
        this.#feed(slot);
        this.#idleCheck(slot);
        this.#dispatch();
      },
      (err) => {
        slot.connecting = undefined;
        slot.error = err;
        this.#retire(slot);
        // No connection can be had: the waiting messages fail (not sent).
        const others = [...this.#slots].some((s) => !s.dead);
        if (!others) {
          for (const job of this.#queue.splice(0)) {
            this.#finish(job, { ok: false, error: err });
          }
          this.#checkDrained();
        }
      },
    );
    return slot;
  }

  /** Give `slot` as many queued messages as it may take now. */
  #feed(slot: Slot): void {
    const client = slot.client!;
    if (!client.connected && !slot.dead) {
      // The server went away while the connection was idle.
      this.#retire(slot);
      queueMicrotask(() => this.#dispatch());
      return;
    }
    while (
      this.#queue.length > 0 && !slot.dead &&
      slot.sent < this.#perConnection && slot.busy < IN_FLIGHT &&
      client.connected && this.#rateAllows()
    ) {
      const job = this.#queue.shift()!;
      if (this.#rate) this.#starts.push(performance.now());
      slot.sent++;
      slot.busy++;
      if (slot.idleTimer) clearTimeout(slot.idleTimer);
      slot.idleTimer = undefined;
      void this.#send(slot, client, job);
    }
    if (slot.sent >= this.#perConnection && slot.busy === 0) {
      void this.#quit(slot);
      this.#dispatch();
    }
  }

  async #send(slot: Slot, client: SmtpClient, job: PoolJob): Promise<void> {
    const item = job.signal ? { ...job.item, signal: job.signal } : job.item;
    let result: SendManyResult;
    try {
      [result] = await client.sendMany([item], {
        timeout: job.timeout,
        onProgress: job.progress,
      });
    } catch (err) {
      result = { ok: false, error: err as Error };
    }
    slot.busy--;
    if (!result.ok && !client.connected) {
      // A 421 or a lost connection: the connection is done for.
      this.#retire(slot);
      if (this.#requeueable(job, result.error)) {
        job.requeues++;
        this.#queue.unshift(job);
        this.#dispatch();
        return;
      }
    }
    this.#finish(job, result);
    if (!slot.dead) {
      this.#feed(slot);
      this.#idleCheck(slot);
    }
    this.#dispatch();
    this.#checkDrained();
  }

  /**
   * Put back only what cannot have been delivered and can be sent again as
   * it was: nothing of it sent, or (a body in memory) all of it discarded
   * by a server that said 421 before taking its end of data.
   */
  #requeueable(job: PoolJob, error: unknown): boolean {
    if (job.requeues >= this.#maxRequeues) return false;
    if (error instanceof AbortedError) return false;
    const sent = sentStateOf(error);
    if (error instanceof SmtpNotSentError || sent?.dataStarted === false) {
      return !sent?.dataStarted || replayable(job.item);
    }
    return sent?.discarded === true && replayable(job.item);
  }

  #finish(job: PoolJob, result: SendManyResult): void {
    if (job.signal) this.#watched.remove(job, job.signal);
    job.settle(result);
  }

  #idleCheck(slot: Slot): void {
    if (slot.busy > 0 || slot.dead) return;
    if (this.#closing && this.#queue.length === 0) {
      void this.#quit(slot);
      return;
    }
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.idleTimer = setTimeout(() => {
      if (slot.busy === 0) void this.#quit(slot);
    }, this.#idle);
  }

  #retire(slot: Slot): void {
    slot.dead = true;
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    this.#slots.delete(slot);
    void slot.client?.close();
  }

  async #quit(slot: Slot): Promise<void> {
    if (slot.dead) return;
    slot.dead = true;
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    this.#slots.delete(slot);
    const client = slot.client!;
    const t = this.#clientOptions.timeout ?? 60_000;
    const quit = client.quit({ timeout: Math.min(t, 5000) }).then(
      () => {},
      () => client.close(),
    );
    this.#quitting.add(quit);
    await quit;
    this.#quitting.delete(quit);
    this.#checkDrained();
  }

  #checkDrained(): void {
    if (!this.#closing || !this.#drained) return;
    if (this.#queue.length > 0) return;
    for (const s of this.#slots) {
      if (s.busy > 0 || s.connecting) return;
    }
    for (const s of [...this.#slots]) void this.#quit(s);
    if (this.#slots.size === 0) {
      const d = this.#drained;
      this.#drained = undefined;
      d();
    }
  }

  /**
   * Stop taking messages, let every queued and running one finish, then
   * QUIT every connection. Sends made after `close()` reject with
   * {@linkcode SmtpNotSentError}.
   *
   * @example
   * ```ts
   * import { SmtpPool } from "@mailwire/mailwire/smtp";
   * const pool = new SmtpPool({ hostname: "smtp.example.com" });
   * await pool.close(); // nothing queued: resolves at once
   * console.log(pool.connections); // 0
   * ```
   */
  async close(): Promise<void> {
    this.#closing = true;
    if (this.#rateTimer === undefined && this.#queue.length > 0) {
      this.#dispatch();
    }
    const drained = new Promise<void>((r) => this.#drained = r);
    this.#checkDrained();
    for (const s of this.#slots) this.#idleCheck(s);
    await drained;
    await Promise.all(this.#quitting);
    if (this.#rateTimer) clearTimeout(this.#rateTimer);
    this.#rateTimer = undefined;
  }

  /**
   * `await using` support: {@linkcode SmtpPool.close}.
   *
   * @example
   * ```ts
   * import { SmtpPool } from "@mailwire/mailwire/smtp";
   * async function scoped() {
   *   await using pool = new SmtpPool({ hostname: "smtp.example.com" });
   *   await pool.sendMail({ from: "a@example.com", to: "b@example.com", data: "Subject: x\r\n\r\ny\r\n" });
   * } // drained and closed here
   * console.log(typeof scoped); // "function"
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Whether a message can be sent again from what the pool holds (not a one-shot stream). */
function replayable(item: BatchMessage): boolean {
  if ("data" in item) return !(item.data instanceof ReadableStream);
  const m = item.message;
  return typeof m === "string" || m instanceof Uint8Array ||
    (m as { replayable?: boolean }).replayable !== false;
}

function aborted(signal: AbortSignal): MailwireError {
  return new AbortedError("send aborted before it started; nothing sent", {
    cause: signal.reason,
  });
}
