// The session layer under every client: call queue, signals, whole-call deadlines, open/upgrade/close, error mapping.

import type {
  Connector,
  ConnectTarget,
  TlsInfo,
  TlsOptions,
} from "../tls/conn.ts";
import {
  AbortedError,
  ConnectionClosedError,
  MailwireError,
  ProtocolError,
  TimeoutError,
  TlsError,
} from "../errors.ts";
import { Channel } from "./channel.ts";
import { Deadline } from "./deadline.ts";
import type { Logger } from "./log.ts";
import { checkCallOptions } from "./options.ts";
import { runtimeDescription, VERSION } from "./version.ts";

/** Per-call options every public call of every client takes. */
export interface SessionCall {
  /** Aborts this call (and closes the connection once it has started). */
  signal?: AbortSignal;
  /** Deadline for the whole call in ms, instead of the client's. */
  timeout?: number;
}

/** What a session needs to know; resolved and validated by the client. */
export interface SessionConfig {
  /** For messages and the transcript. */
  protocol: "smtp" | "lmtp" | "pop3";
  /** Where to connect (TLS defaults for a later upgrade included). */
  target: ConnectTarget;
  /** The socket implementation. */
  connector: Connector;
  /** Bound of every call but `connect()`, in ms (Infinity for none). */
  timeout: number;
  /** Bound of `connect()` as a whole, in ms (Infinity for none). */
  connectTimeout: number;
  /** The client's signal: aborts the running call, closes when idle. */
  signal?: AbortSignal;
  /** Transcript receiver. */
  logger?: Logger;
  /** Longest accepted line. */
  maxLineLength: number;
  /** The TLS mode as the user named it, for the transcript. */
  tlsMode: string;
  /** The protocol's "the server went away" error. */
  disconnected(message: string, options?: ErrorOptions): MailwireError;
}

/**
 * One connection's life, shared by the SMTP, LMTP and POP3 clients, so they
 * behave the same:
 *
 * - Calls run one at a time, in call order. A call whose signal (or the
 *   client's) fires while it waits for its turn rejects with an
 *   `AbortedError` at once, sends nothing, and leaves the connection alone.
 * - Each call gets one {@linkcode Deadline} for its whole run: `timeout`
 *   (per call, else the client's), `connectTimeout` for `connect()`. Expiry
 *   or an abort closes the connection (its state is unknown).
 * - The client's signal aborts the running call, closes an idle
 *   connection, and makes every later call an `AbortedError`.
 * - Errors leaving a call name the protocol, the server and the phase
 *   ({@linkcode MailwireError.phase}, {@linkcode MailwireError.server}).
 */
export class Session {
  readonly #config: SessionConfig;
  /** `host:port` or the socket path. */
  readonly server: string;
  #ch: Channel | undefined;
  #queue: Promise<void> = Promise.resolve();
  #active = false;
  #phase = "connect";
  readonly #onClientAbort = (): void => {
    if (!this.#active) void this.close();
  };

  constructor(config: SessionConfig) {
    this.#config = config;
    const t = config.target;
    this.server = t.path ??
      `${t.hostname.includes(":") ? `[${t.hostname}]` : t.hostname}:${t.port}`;
  }

  /** The configuration. */
  get config(): SessionConfig {
    return this.#config;
  }

  /** Whether a connection is open. */
  get connected(): boolean {
    return this.#ch !== undefined && !this.#ch.closed;
  }

  /** The open channel; throws the protocol's disconnected error when there is none. */
  get channel(): Channel {
    const ch = this.#ch;
    if (!ch || ch.closed) {
      throw this.#config.disconnected("not connected; call connect() first");
    }
    return ch;
  }

  /** Whether TLS is active. */
  get secure(): boolean {
    return this.#ch?.secure ?? false;
  }

  /** What the TLS handshake negotiated, if TLS is active and the runtime tells. */
  get tlsInfo(): TlsInfo | undefined {
    return this.#ch?.tlsInfo;
  }

  /** The step under way, named in errors (e.g. `"greeting"`, `"rcpt"`). */
  get phase(): string {
    return this.#phase;
  }

  set phase(phase: string) {
    this.#phase = phase;
  }

  /** The client's signal and the call's as one (undefined when neither). */
  signal(call?: SessionCall): AbortSignal | undefined {
    const client = this.#config.signal;
    const own = call?.signal;
    if (client && own) return AbortSignal.any([client, own]);
    return client ?? own;
  }

  /** A fresh deadline for `call` (used by each read of a stream a call returned). */
  deadline(call?: SessionCall, ms?: number): Deadline {
    return new Deadline(
      ms ?? call?.timeout ?? this.#config.timeout,
      this.signal(call),
    );
  }

  /**
   * Run `fn` as one public call, after every earlier call finished, bounded
   * as a whole by one deadline. `phase` names the call's first step.
   * `connect` calls are bounded by `connectTimeout`.
   */
  async run<T>(
    call: SessionCall | undefined,
    phase: string,
    fn: (d: Deadline) => Promise<T>,
    options: { connect?: boolean } = {},
  ): Promise<T> {
    checkCallOptions(call, phase);
    const client = this.#config.signal;
    if (client?.aborted) {
      throw this.annotate(
        new AbortedError(
          "the client's signal was aborted; create a new client",
          {
            cause: client.reason,
          },
        ),
        phase,
      );
    }
    const signal = this.signal(call);
    const previous = this.#queue;
    let release!: () => void;
    this.#queue = new Promise<void>((r) => release = r);
    try {
      await waitTurn(previous, signal);
    } catch (err) {
      void previous.then(release);
      throw this.annotate(err, phase);
    }
    this.#active = true;
    this.#phase = phase;
    let d: Deadline | undefined;
    try {
      const ms = call?.timeout ??
        (options.connect ? this.#config.connectTimeout : this.#config.timeout);
      d = new Deadline(ms, signal, { shared: true });
      return await fn(d);
    } catch (err) {
      throw this.annotate(err, this.#phase);
    } finally {
      d?.dispose();
      this.#active = false;
      // The client's signal fired while this call ran, yet it finished:
      // close now, as when idle.
      if (client?.aborted) await this.close();
      release();
    }
  }

  /**
   * Open the connection within `d` (phase `"connect"`). The transcript
   * starts with the library version, the runtime and the target.
   */
  async open(d: Deadline): Promise<Channel> {
    const c = this.#config;
    this.#phase = "connect";
    c.logger?.({
      time: new Date(),
      direction: "info",
      text:
        `mailwire ${VERSION} on ${runtimeDescription()}: ${c.protocol} ${this.server} (tls: ${c.tlsMode})`,
    });
    const ch = await Channel.open(c.connector, c.target, d, {
      maxLineLength: c.maxLineLength,
      logger: c.logger,
    });
    this.#ch = ch;
    if (ch.secure) logTls(ch);
    c.signal?.addEventListener("abort", this.#onClientAbort);
    return ch;
  }

  /**
   * Upgrade to TLS within `d` (phase `"tls"`). `options` are only what the
   * caller gave for this upgrade: the connection fills in the rest from the
   * target it was opened with. On failure the connection is closed.
   */
  async upgrade(options: TlsOptions, d: Deadline): Promise<void> {
    const ch = this.channel;
    this.#phase = "tls";
    try {
      await d.race(ch.startTls(options), ch.abort, "tls handshake");
    } catch (err) {
      await this.close();
      throw this.mapError(err);
    }
    logTls(ch);
  }

  /**
   * Run `fn` on the channel; a lost connection becomes the protocol's
   * disconnected error, and any mailwire failure closes the connection
   * (its state is unknown).
   */
  async io<T>(fn: (ch: Channel) => Promise<T>): Promise<T> {
    const ch = this.channel;
    try {
      return await fn(ch);
    } catch (err) {
      throw this.mapError(err);
    }
  }

  /** Map an I/O failure as {@linkcode Session.io} does. */
  mapError(err: unknown): unknown {
    if (err instanceof ConnectionClosedError) {
      void this.close();
      return this.#config.disconnected(err.message, { cause: err });
    }
    if (err instanceof MailwireError) void this.close();
    return err;
  }

  /**
   * Open the connection within `d`, then run `steps` (greeting, TLS,
   * login); if any fails, `cleanup` closes what was opened.
   */
  async establish<T>(
    d: Deadline,
    steps: () => Promise<T>,
    cleanup: () => Promise<void>,
  ): Promise<T> {
    await this.open(d);
    try {
      return await steps();
    } catch (err) {
      await cleanup();
      throw err;
    }
  }

  /** Read the greeting with `read` (phase `"greeting"`), failures hinted as {@linkcode Session.greetingError} says. */
  async greeting<T>(
    read: () => Promise<T>,
    hint: { implicitPort: number; looksLike: RegExp; other: string },
  ): Promise<T> {
    this.#phase = "greeting";
    try {
      return await read();
    } catch (err) {
      throw this.greetingError(err, hint);
    }
  }

  /**
   * The greeting's failure, with the hints a wrong port or protocol makes
   * certain: silence in clear text (an implicit-TLS port waits for a
   * ClientHello), or a greeting of `other` protocol (`looksLike`).
   */
  greetingError(
    err: unknown,
    hint: { implicitPort: number; looksLike: RegExp; other: string },
  ): unknown {
    if (err instanceof TimeoutError && this.#config.target.tls !== "implicit") {
      return new TimeoutError(
        `${err.message}: the server sent no greeting; if this port expects implicit tls (like ${hint.implicitPort}), set tls: "implicit"`,
        err.timeout,
        { cause: err },
      );
    }
    if (err instanceof ProtocolError && hint.looksLike.test(err.message)) {
      return new ProtocolError(`${err.message}: ${hint.other}`, {
        cause: err,
      });
    }
    return err;
  }

  /** Log a note in the transcript. */
  note(text: string): void {
    if (this.#ch) this.#ch.log("info", text);
    else {
      this.#config.logger?.({ time: new Date(), direction: "info", text });
    }
  }

  /** Close the connection without a goodbye. Idempotent, bounded. */
  async close(): Promise<void> {
    const ch = this.#ch;
    if (!ch) return;
    this.#config.signal?.removeEventListener("abort", this.#onClientAbort);
    if (!ch.closed) ch.log("info", "connection closed");
    await ch.close();
  }

  /**
   * Name the protocol, server and phase in a mailwire error (once). Calls
   * do it themselves; streams a call returned use it for their own errors.
   */
  annotate(err: unknown, phase: string): unknown {
    if (!(err instanceof MailwireError) || err.phase !== undefined) return err;
    err.phase = phase;
    err.server = this.server;
    let message = err.message;
    const hint = hintFor(err);
    if (hint && !message.includes(hint)) message += `; ${hint}`;
    err.message =
      `${message} (${this.#config.protocol} ${this.server}, ${phase})`;
    if (this.#ch?.logging) this.#ch.log("info", `failed: ${err.message}`);
    else {
      this.#config.logger?.({
        time: new Date(),
        direction: "info",
        text: `failed: ${err.message}`,
      });
    }
    return err;
  }
}

/** A hint that is certain for a TLS failure whose reason the connector knew. */
function hintFor(err: MailwireError): string | undefined {
  if (!(err instanceof TlsError)) return undefined;
  if (err.reason === "untrusted" && !err.message.includes("caCerts")) {
    return "if the server uses a private ca, pass its certificate in caCerts";
  }
  if (err.reason === "not-tls" && !err.message.includes("tls:")) {
    return 'the server answered in clear text: this port may expect tls: "starttls"';
  }
  return undefined;
}

/** Log what a handshake negotiated, as far as the runtime tells. */
function logTls(ch: Channel): void {
  if (!ch.logging) return;
  const info = ch.tlsInfo;
  const parts = ["tls started"];
  if (info?.protocol) parts.push(info.protocol);
  if (info?.cipher) parts.push(info.cipher);
  const leaf = info?.peerCertificates?.[0];
  if (leaf?.subject) {
    parts.push(
      `certificate ${leaf.subject}${
        leaf.issuer ? ` issued by ${leaf.issuer}` : ""
      }${leaf.validTo ? ` valid until ${leaf.validTo}` : ""}`,
    );
  }
  if (info?.verified === true) parts.push("certificate verified");
  if (info?.verified === false) {
    parts.push(
      `not verified${
        info.verificationError ? ` (${info.verificationError})` : ""
      }`,
    );
  }
  ch.log("info", parts.join(", "));
}

/**
 * Wait for `turn` (the end of the calls ahead), unless `signal` fires first:
 * then an AbortedError with the signal's reason as its cause.
 */
function waitTurn(turn: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return turn;
  const aborted = () =>
    new AbortedError("call aborted before it started", {
      cause: signal.reason,
    });
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener("abort", onAbort, { once: true });
    void turn.then(() => {
      signal.removeEventListener("abort", onAbort);
      if (signal.aborted) reject(aborted());
      else resolve();
    });
  });
}
