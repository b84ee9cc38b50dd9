import { authenticate } from "../auth/authenticate.ts";
import { chooseMechanism } from "../auth/choose_mechanism.ts";
import { createMechanism } from "../auth/create_mechanism.ts";
import {
  AbortedError,
  AuthError,
  ConnectionClosedError,
  InvalidInputError,
  MailwireError,
  ProtocolError,
} from "../errors.ts";
import type {
  Credentials,
  MechanismFactory,
  SaslMechanism,
} from "../auth/mechanism.ts";
import { Channel } from "../io/channel.ts";
import { Deadline } from "../io/deadline.ts";
import type { Logger } from "../io/log.ts";
import {
  parsePop3Status,
  type Pop3Continuation,
  type Pop3Status,
  readMultiline,
  readPop3Status,
} from "../io/pop3_status.ts";
import { assertSafe } from "../io/validate.ts";
import type { Connector, TlsOptions } from "../tls/conn.ts";
import { defaultConnector } from "../tls/connect.ts";
import { apopDigest, findApopTimestamp } from "./apop.ts";
import { BodyBuffer, messageStream } from "./body.ts";
import {
  Pop3AuthenticationError,
  Pop3Error,
  Pop3NotSupportedError,
  Pop3ResponseError,
  Pop3ServerDisconnectedError,
} from "./errors.ts";
import {
  addCapability,
  announcedSize,
  parseScanListing,
  parseStat,
  parseUidListing,
  type Pop3MessageListing,
  type Pop3ScanListing,
  type Pop3Stat,
  type Pop3UidListing,
} from "./parse.ts";

/**
 * How TLS is used.
 * - `"starttls"`: connect in clear, then STLS before anything else; a server
 *   without STLS, or refusing it, is an error (default, port 110).
 * - `"implicit"`: TLS from the first byte (POP3S, port 995).
 * - `"none"`: never TLS (explicit opt-in; logging in then needs
 *   `allowInsecureAuth`).
 *
 * @example POP3S (implicit TLS) on port 995
 * ```ts
 * import { Pop3Client, type Pop3TlsMode } from "@mailwire/mailwire/pop3";
 * const tls: Pop3TlsMode = "implicit";
 * const client = new Pop3Client({ hostname: "pop.example.com", port: 995, tls });
 * console.log(client.connected); // false: call connect() next
 * ```
 */
export type Pop3TlsMode = "starttls" | "implicit" | "none";

/**
 * Credentials for automatic login during {@linkcode Pop3Client.connect}.
 *
 * @example
 * ```ts
 * import type { Pop3AuthOptions } from "@mailwire/mailwire/pop3";
 * const auth: Pop3AuthOptions = {
 *   username: "me@example.com",
 *   password: "secret",
 *   mechanism: "USER", // plain USER/PASS, not SASL or APOP
 * };
 * console.log(auth.mechanism); // "USER"
 * ```
 */
export interface Pop3AuthOptions extends Credentials {
  /**
   * Force a method: a SASL mechanism name (e.g. `"PLAIN"`), `"APOP"` or
   * `"USER"` (USER/PASS). Default: see {@linkcode Pop3Client.login}.
   */
  mechanism?: string;
  /** Allow APOP without TLS (still needs `allowInsecureAuth`); `false` never uses it. */
  apop?: boolean;
}

/**
 * Options of {@linkcode Pop3Client}.
 *
 * @example
 * ```ts
 * import { consoleLogger, Pop3Client, type Pop3ClientOptions } from "@mailwire/mailwire/pop3";
 * const options: Pop3ClientOptions = {
 *   hostname: "pop.example.com",
 *   port: 995, // implicit TLS on this port
 *   maxMessageBytes: 50 << 20, // refuse messages over 50 MiB
 *   logger: consoleLogger, // print the transcript, secrets redacted
 * };
 * const client = new Pop3Client(options); // connect() next
 * console.log(client.connected); // false
 * ```
 */
export interface Pop3ClientOptions extends TlsOptions {
  /** Server host name or address. Default `"localhost"`. */
  hostname?: string;
  /** Server port. Default 995 for `tls: "implicit"`, else 110. */
  port?: number;
  /** TLS mode. Default `"implicit"` on port 995, else `"starttls"`. */
  tls?: Pop3TlsMode;
  /**
   * Deadline in ms for each operation: connecting, a command and its whole
   * response (a RETR includes the message), one reply of a pipelined batch,
   * one chunk of a {@linkcode Pop3Client.retrStream}. Default 60 000.
   */
  timeout?: number;
  /**
   * Aborts whatever the client is doing and closes the connection, idle
   * included; calls waiting for their turn reject at once, and later calls
   * too.
   */
  signal?: AbortSignal;
  /** Socket implementation. Default: the runtime's own (Deno, Bun, Node). */
  connector?: Connector;
  /** Receives the transcript; passwords and SASL data are redacted. */
  logger?: Logger;
  /** Log in during `connect()`. */
  auth?: Pop3AuthOptions;
  /** Allow credentials over a connection without TLS (APOP included). Default false. */
  allowInsecureAuth?: boolean;
  /** Extra SASL mechanisms by name. */
  mechanisms?: ReadonlyMap<string, MechanismFactory>;
  /** Send batches in one write when the server offers PIPELINING. Default true. */
  pipelining?: boolean;
  /** Longest accepted status or listing line in bytes. Default 8192. Message lines have no limit of their own. */
  maxLineLength?: number;
  /** Most bytes in one multi-line response (a message, a listing). Default 256 MiB. */
  maxMessageBytes?: number;
}

/**
 * Per-call deadline and cancellation.
 *
 * @example Per-call deadlines
 * ```ts ignore
 * import { Pop3Client } from "@mailwire/mailwire/pop3";
 * const client = await Pop3Client.connect({
 *   hostname: "pop.example.com",
 *   auth: { username: "me@example.com", password: "secret" },
 * });
 * const raw = await client.retr(1, { timeout: 300_000 }); // 5 minutes for a big one
 * await client.noop({ signal: AbortSignal.timeout(5_000) });
 * ```
 */
export interface Pop3CallOptions {
  /**
   * Aborts this call. While it still waits for earlier calls it just gives
   * up its turn (an AbortedError; nothing sent, the connection untouched);
   * once it has started, the connection is closed (its state is unknown).
   */
  signal?: AbortSignal;
  /** Deadline for this call in ms, instead of the client's `timeout`. */
  timeout?: number;
}

/**
 * Options of {@linkcode Pop3Client.login}.
 *
 * @example Never APOP, and a 10-second deadline
 * ```ts ignore
 * import { Pop3Client } from "@mailwire/mailwire/pop3";
 * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
 * await client.login("me@example.com", "secret", { apop: false, timeout: 10_000 });
 * ```
 */
export interface Pop3LoginOptions extends Pop3CallOptions {
  /** Force a method: a SASL mechanism name, `"APOP"` or `"USER"`. */
  mechanism?: string;
  /** Preference order of SASL mechanism names. */
  preference?: string[];
  /** `true`: APOP allowed without TLS (with `allowInsecureAuth`); `false`: never APOP. */
  apop?: boolean;
  /** Send the SASL initial response with the AUTH command when it fits (default true). */
  initialResponse?: boolean;
}

/**
 * One command of {@linkcode Pop3Client.pipeline}.
 *
 * @example
 * ```ts
 * import type { Pop3PipelineCommand } from "@mailwire/mailwire/pop3";
 * const batch: Pop3PipelineCommand[] = [
 *   { command: "TOP", id: 1, lines: 0 },
 *   { command: "DELE", id: 2 },
 *   { command: "NOOP" },
 * ];
 * console.log(batch.length); // 3
 * ```
 */
export type Pop3PipelineCommand =
  | { command: "RETR"; id: number }
  | { command: "TOP"; id: number; lines: number }
  | { command: "DELE"; id: number }
  | { command: "NOOP" }
  | { command: "RSET" };

/**
 * The answer to one command of {@linkcode Pop3Client.pipeline}.
 *
 * @example
 * ```ts ignore
 * import { Pop3Client } from "@mailwire/mailwire/pop3";
 * const client = await Pop3Client.connect({
 *   hostname: "pop.example.com",
 *   auth: { username: "me@example.com", password: "secret" },
 * });
 * const replies = await client.pipeline([{ command: "TOP", id: 1, lines: 0 }]);
 * for (const { command, status, body } of replies) {
 *   console.log(command.command, status.ok, body?.length);
 * }
 * ```
 */
export interface Pop3PipelineReply {
  /** The command this answers. */
  command: Pop3PipelineCommand;
  /** Its status line (`ok` false for `-ERR`). */
  status: Pop3Status;
  /** The message (RETR) or its beginning (TOP), when `status.ok`. */
  body?: Uint8Array;
}

const DEFAULT_TIMEOUT = 60_000;
const DEFAULT_MAX_MESSAGE = 256 << 20;
const CAPA_MAX_BYTES = 1 << 20;
/** Commands in flight at most in a pipelined batch. */
const WINDOW = 64;
/** Chunks of {@linkcode Pop3Client.retrStream}. */
const STREAM_CHUNK = 64 << 10;
/** After a cancelled stream: discard at most this much, then close instead. */
const DRAIN_LIMIT = 1 << 20;
const DRAIN_TIMEOUT = 10_000;
/**
 * RFC 2449 §4 and RFC 5034 §4: a command line, CRLF included, is at most
 * 255 octets; `authenticate` counts without the CRLF.
 */
const MAX_AUTH_LINE = 253;
/** Commands `command()` refuses: multi-line answers or state it must track. */
const NOT_RAW = new Set(["RETR", "TOP", "CAPA", "STLS", "AUTH", "QUIT"]);
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * A POP3 client: everything Python's `poplib` does, on Web streams, secure
 * by default (verified TLS, STLS required on port 110, no credentials in
 * clear, CR/LF/NUL refused before a byte is sent, a deadline on every wait),
 * plus SASL, pipelined batches and streamed retrieval.
 *
 * Deletions (`dele`) become final only when {@linkcode Pop3Client.quit}
 * completes; {@linkcode Pop3Client.close} and `await using` never commit
 * them. Commands run one at a time, in call order.
 *
 * @example Read every message, delete them, commit with QUIT
 * ```ts ignore
 * import { Pop3Client } from "@mailwire/mailwire/pop3";
 * await using client = await Pop3Client.connect({
 *   hostname: "pop.example.com",
 *   auth: { username: "me@example.com", password: "secret" },
 * });
 * const listing = await client.listing();
 * const messages = await client.retrMany(listing.map((m) => m.id));
 * console.log(messages.length === listing.length); // true
 * await client.deleMany(listing.map((m) => m.id));
 * await client.quit();
 * ```
 */
export class Pop3Client {
  #opts: Pop3ClientOptions;
  #ch: Channel | undefined;
  #welcome: string | undefined;
  #timestamp: string | undefined;
  /** Last known capabilities; undefined: not asked yet (or stale after login/STLS). */
  #capa: Map<string, string[]> | undefined;
  /** The `-ERR` to the last CAPA, when the server has none. */
  #capaRefusal: Pop3Status | undefined;
  #authenticated = false;
  #utf8 = false;
  #queue: Promise<void> = Promise.resolve();
  /** Whether a call is running (not just waiting for its turn). */
  #active = false;
  /** The client signal's listener: a running call's own deadline handles it. */
  readonly #onClientAbort = (): void => {
    if (!this.#active) void this.close();
  };
  /** The open message stream, if any: the connection is busy until it ends. */
  #stream: object | undefined;

  /**
   * Create a client; call {@linkcode Pop3Client.connect} (the method) next.
   *
   * @example
   * ```ts
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = new Pop3Client({ hostname: "pop.example.com", timeout: 30_000 });
   * console.log(client.connected); // false
   * ```
   */
  constructor(options: Pop3ClientOptions = {}) {
    this.#opts = { ...options };
  }

  /**
   * Create a client and connect: greeting, CAPA and STLS (in `"starttls"`
   * mode), CAPA again, then login when `auth` is given.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({ hostname: "localhost", port: 110 });
   * await client.quit();
   * ```
   */
  static async connect(options: Pop3ClientOptions = {}): Promise<Pop3Client> {
    const client = new Pop3Client(options);
    await client.connect();
    return client;
  }

  /**
   * The greeting's text after `+OK` (poplib's `getwelcome`).
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
   * console.log(client.welcome); // e.g. "POP3 server ready"
   * ```
   */
  get welcome(): string | undefined {
    return this.#welcome;
  }

  /**
   * The APOP timestamp (`<...@...>`) of the greeting, if it had one.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
   * console.log(client.timestamp); // e.g. "<1896.697170952@dbc.mtview.ca.us>", or undefined
   * ```
   */
  get timestamp(): string | undefined {
    return this.#timestamp;
  }

  /**
   * The last capabilities learned with CAPA (keyword upper-cased → its
   * arguments); empty before the first CAPA or when the server has none.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
   * console.log(client.capabilities.get("SASL")); // e.g. ["PLAIN", "XOAUTH2"]
   * ```
   */
  get capabilities(): ReadonlyMap<string, readonly string[]> {
    return this.#capa ?? new Map();
  }

  /**
   * Whether TLS is active.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
   * console.log(client.secure); // true: the default tls mode is "starttls" (STLS)
   * ```
   */
  get secure(): boolean {
    return this.#ch?.secure ?? false;
  }

  /**
   * Whether login succeeded (the session is in the TRANSACTION state).
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
   * console.log(client.authenticated); // false
   * await client.login("me@example.com", "secret");
   * console.log(client.authenticated); // true
   * ```
   */
  get authenticated(): boolean {
    return this.#authenticated;
  }

  /**
   * Whether UTF8 mode (RFC 6856) was entered.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
   * if (client.hasCapability("UTF8")) await client.utf8();
   * console.log(client.utf8Enabled); // true when the server offered UTF8
   * ```
   */
  get utf8Enabled(): boolean {
    return this.#utf8;
  }

  /**
   * Whether a connection is open.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
   * console.log(client.connected); // true
   * await client.quit();
   * console.log(client.connected); // false
   * ```
   */
  get connected(): boolean {
    return this.#ch !== undefined && !this.#ch.closed;
  }

  /**
   * Whether the last CAPA listed `name` (case-insensitive).
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * const head = client.hasCapability("TOP") ? await client.top(1, 0) : await client.retr(1);
   * ```
   */
  hasCapability(name: string): boolean {
    return this.#capa?.has(name.toUpperCase()) ?? false;
  }

  get #mode(): Pop3TlsMode {
    return this.#opts.tls ??
      (this.#opts.port === 995 ? "implicit" : "starttls");
  }

  get #timeout(): number {
    return this.#opts.timeout ?? DEFAULT_TIMEOUT;
  }

  get #maxMessage(): number {
    return this.#opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
  }

  /** The client's signal and the call's as one (undefined when neither). */
  #signal(call?: Pop3CallOptions): AbortSignal | undefined {
    const signals = [this.#opts.signal, call?.signal].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    return signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  }

  #deadline(call?: Pop3CallOptions, timeout?: number): Deadline {
    return new Deadline(
      timeout ?? call?.timeout ?? this.#timeout,
      this.#signal(call),
    );
  }

  #channel(): Channel {
    const ch = this.#ch;
    if (!ch || ch.closed) {
      throw new Pop3ServerDisconnectedError("not connected");
    }
    return ch;
  }

  /**
   * Run `fn` after every earlier call finished; refuse while a message
   * stream is open. A call aborted (its signal or the client's) while it
   * waits rejects at once with an AbortedError, sends nothing and leaves the
   * connection alone; the calls queued behind it still wait for the ones
   * ahead of it.
   */
  async #run<T>(
    call: Pop3CallOptions | undefined,
    fn: () => Promise<T>,
  ): Promise<T> {
    this.#notStreaming();
    const previous = this.#queue;
    let release!: () => void;
    this.#queue = new Promise<void>((r) => release = r);
    try {
      await waitTurn(previous, this.#signal(call));
    } catch (err) {
      void previous.then(release);
      throw err;
    }
    this.#active = true;
    try {
      this.#notStreaming();
      return await fn();
    } finally {
      this.#active = false;
      // The client's signal fired while this call ran, yet it finished:
      // close now, as when idle.
      if (this.#opts.signal?.aborted) await this.close();
      release();
    }
  }

  #notStreaming(): void {
    if (this.#stream) {
      throw new Pop3Error(
        "connection busy: a message stream is open; read it to the end or cancel it",
      );
    }
  }

  /**
   * Open the connection, read the greeting, and set up TLS and login as the
   * options say. On failure the connection is closed. Returns the greeting.
   * Runs in turn with the other calls: a second `connect()` while connected
   * (or connecting) is an error, and opens nothing.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = new Pop3Client({ hostname: "pop.example.com" });
   * const greeting = await client.connect({ timeout: 10_000 });
   * console.log(greeting.ok, greeting.text); // true "POP3 server ready"
   * ```
   */
  async connect(call?: Pop3CallOptions): Promise<Pop3Status> {
    return await this.#run(call, () => this.#connect(call));
  }

  async #connect(call?: Pop3CallOptions): Promise<Pop3Status> {
    if (this.connected) throw new Pop3Error("already connected");
    const o = this.#opts;
    const mode = this.#mode;
    const d = this.#deadline(call);
    const hostname = o.hostname ?? "localhost";
    const port = o.port ?? (mode === "implicit" ? 995 : 110);
    const ch = await Channel.open(
      o.connector ?? defaultConnector,
      {
        hostname,
        port,
        tls: mode === "implicit"
          ? "implicit"
          : mode === "none"
          ? "none"
          : "starttls-capable",
        servername: o.servername,
        caCerts: o.caCerts,
        allowInvalidCertificates: o.allowInvalidCertificates,
      },
      d,
      { maxLineLength: o.maxLineLength ?? 8192, logger: o.logger },
    );
    this.#reset();
    this.#ch = ch;
    // The client's signal also aborts while no call runs: it closes.
    o.signal?.addEventListener("abort", this.#onClientAbort);
    try {
      const greeting = await this.#status(d);
      if (!greeting.ok) {
        throw new Pop3ResponseError("server refused the connection", greeting);
      }
      this.#welcome = greeting.text;
      this.#timestamp = findApopTimestamp(greeting.text);
      if (mode === "starttls") {
        await this.#capabilities(call);
        if (!this.hasCapability("STLS")) {
          throw new Pop3NotSupportedError(
            "server does not offer stls; refusing to continue without tls",
          );
        }
        await this.#stls({}, call);
      }
      if (o.auth) {
        const { mechanism, apop, ...credentials } = o.auth;
        await this.#login(credentials, { ...call, mechanism, apop });
      }
      return greeting;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  #reset(): void {
    this.#welcome = undefined;
    this.#timestamp = undefined;
    this.#capa = undefined;
    this.#capaRefusal = undefined;
    this.#authenticated = false;
    this.#utf8 = false;
    this.#stream = undefined;
  }

  #mapError(err: unknown): unknown {
    if (err instanceof ConnectionClosedError) {
      void this.close();
      return new Pop3ServerDisconnectedError(err.message, { cause: err });
    }
    if (err instanceof MailwireError) void this.close();
    return err;
  }

  /**
   * Send lines in one write through the channel (CR/LF/NUL refused,
   * unsolicited bytes close the connection unless `midBatch`); the
   * transcript shows them redacted (or `log`).
   */
  async #send(
    lines: readonly string[],
    d: Deadline,
    log?: readonly string[],
    midBatch = false,
  ): Promise<void> {
    const ch = this.#channel();
    try {
      await ch.sendCommands(lines, d, {
        log: log ?? (ch.logging ? lines.map(redact) : undefined),
        midBatch,
      });
    } catch (err) {
      throw this.#mapError(err);
    }
  }

  /** Read and log one status line (strict: anything but +OK/-ERR closes). */
  async #status(d: Deadline): Promise<Pop3Status> {
    const ch = this.#channel();
    let status: Pop3Status;
    try {
      status = await readPop3Status(ch.reader, d, ch.abort);
    } catch (err) {
      throw this.#mapError(err);
    }
    if (ch.logging) ch.log("server", statusLine(status));
    return status;
  }

  async #cmd(line: string, d: Deadline): Promise<Pop3Status> {
    await this.#send([line], d);
    return this.#status(d);
  }

  /** A command that must succeed: `-ERR` is a Pop3ResponseError. */
  async #ok(line: string, d: Deadline, what: string): Promise<Pop3Status> {
    const status = await this.#cmd(line, d);
    if (!status.ok) throw new Pop3ResponseError(what, status);
    return status;
  }

  /**
   * Read a multi-line body after its +OK. `longLines`: message content,
   * whose lines may be of any length (the total is still capped).
   */
  async #multiline(
    d: Deadline,
    longLines: boolean,
    onLine: (line: Uint8Array) => void,
    maxBytes = this.#maxMessage,
  ): Promise<void> {
    const ch = this.#channel();
    const reader = ch.reader;
    const cap = reader.maxLineLength;
    if (longLines) reader.maxLineLength = Math.max(cap, maxBytes);
    try {
      await readMultiline(reader, d, maxBytes, ch.abort, onLine);
    } catch (err) {
      throw this.#mapError(err);
    } finally {
      reader.maxLineLength = cap;
    }
  }

  /** Read a multi-line listing, logging and decoding each line. */
  async #lines(d: Deadline, maxBytes?: number): Promise<string[]> {
    const ch = this.#channel();
    const lines: string[] = [];
    await this.#multiline(d, false, (line) => {
      const text = decoder.decode(line);
      if (ch.logging) ch.log("server", text);
      lines.push(text);
    }, maxBytes);
    if (ch.logging) ch.log("server", ".");
    return lines;
  }

  /** Read a message body (RETR/TOP) after its +OK. */
  async #body(status: Pop3Status, d: Deadline): Promise<Uint8Array> {
    const buffer = new BodyBuffer(
      announcedSize(status.text),
      this.#maxMessage,
    );
    await this.#multiline(d, true, (line) => buffer.push(line));
    const ch = this.#channel();
    if (ch.logging) {
      ch.log("server", `<${buffer.length} bytes of message data>`);
      ch.log("server", ".");
    }
    return buffer.bytes();
  }

  /** Parse with `parse`; a malformed answer closes the connection. */
  #parse<T>(parse: () => T): T {
    try {
      return parse();
    } catch (err) {
      if (err instanceof ProtocolError) void this.close();
      throw err;
    }
  }

  /** CAPA when not known yet; a server without CAPA has no capabilities. */
  async #capabilities(call?: Pop3CallOptions): Promise<Map<string, string[]>> {
    if (this.#capa) return this.#capa;
    const d = this.#deadline(call);
    const status = await this.#cmd("CAPA", d);
    if (!status.ok) {
      this.#capaRefusal = status;
      this.#capa = new Map();
      return this.#capa;
    }
    const capa = new Map<string, string[]>();
    for (const line of await this.#lines(d, CAPA_MAX_BYTES)) {
      addCapability(capa, line);
    }
    this.#capaRefusal = undefined;
    this.#capa = capa;
    return capa;
  }

  /** When the server lists capabilities and lacks `name`: Pop3NotSupportedError. */
  async #need(name: string, call?: Pop3CallOptions): Promise<void> {
    const capa = await this.#capabilities(call);
    if (!this.#capaRefusal && !capa.has(name)) {
      throw new Pop3NotSupportedError(
        `server does not offer ${name.toLowerCase()}`,
      );
    }
  }

  /**
   * CAPA (RFC 2449): the server's capabilities, keyword upper-cased → its
   * arguments, e.g. `SASL` → `["PLAIN", "XOAUTH2"]`. Always asks the server
   * (the result is kept in {@linkcode Pop3Client.capabilities}). A server
   * without CAPA answers `-ERR`: a {@linkcode Pop3ResponseError}.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
   * const capa = await client.capa();
   * console.log(capa.has("PIPELINING"), capa.get("SASL"));
   * ```
   */
  async capa(call?: Pop3CallOptions): Promise<Map<string, string[]>> {
    return await this.#run(call, async () => {
      this.#capa = undefined;
      const capa = await this.#capabilities(call);
      if (this.#capaRefusal) {
        throw new Pop3ResponseError("capa refused", this.#capaRefusal);
      }
      return new Map([...capa].map(([k, v]) => [k, [...v]]));
    });
  }

  /**
   * STLS (RFC 2595): upgrade to TLS, then CAPA again (capabilities learned
   * in clear are forgotten). Only before login. With `tls: "starttls"` it
   * happens during connect. Bytes the server sent before the handshake are
   * an injection: the connection is closed and a ProtocolError thrown. A
   * refused STLS closes the connection too (never continue in clear by
   * accident).
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const caPem = await Deno.readTextFile("ca.pem");
   * const client = await Pop3Client.connect({ hostname: "localhost", tls: "none" });
   * await client.stls({ caCerts: [caPem] });
   * console.log(client.secure); // true
   * ```
   */
  async stls(
    options: TlsOptions = {},
    call?: Pop3CallOptions,
  ): Promise<Pop3Status> {
    return await this.#run(call, () => this.#stls(options, call));
  }

  async #stls(options: TlsOptions, call?: Pop3CallOptions) {
    if (this.secure) throw new Pop3Error("tls is already active");
    if (this.#authenticated) {
      throw new Pop3Error("stls is only allowed before login");
    }
    const capa = await this.#capabilities(call);
    if (!capa.has("STLS")) {
      throw new Pop3NotSupportedError("server does not offer stls");
    }
    const d = this.#deadline(call);
    const status = await this.#cmd("STLS", d);
    const ch = this.#channel();
    if (!status.ok) {
      await this.close();
      throw new Pop3NotSupportedError(
        `server refused stls: -ERR ${status.text}`,
        { cause: new Pop3ResponseError("stls refused", status) },
      );
    }
    const o = this.#opts;
    try {
      await d.race(
        ch.startTls({
          servername: options.servername ?? o.servername ?? o.hostname,
          caCerts: options.caCerts ?? o.caCerts,
          allowInvalidCertificates: options.allowInvalidCertificates ??
            o.allowInvalidCertificates,
        }),
        ch.abort,
        "tls handshake",
      );
    } catch (err) {
      await this.close();
      throw this.#mapError(err);
    }
    this.#capa = undefined;
    await this.#capabilities(call);
    return status;
  }

  #insecure(): void {
    if (!this.secure && !this.#opts.allowInsecureAuth) {
      throw new AuthError(
        "refusing to send credentials without tls; set allowInsecureAuth to allow it",
      );
    }
  }

  #notAuthenticated(): void {
    if (this.#authenticated) throw new Pop3Error("already authenticated");
  }

  #loggedIn(): void {
    this.#authenticated = true;
    this.#capa = undefined; // may change after login (RFC 2449 §5); asked again when needed
  }

  /**
   * Log in with a username and password, choosing the method:
   * 1. SASL, when CAPA lists mechanisms usable with a password (CRAM-MD5,
   *    PLAIN, LOGIN, or `preference`);
   * 2. APOP, when the greeting carried a timestamp and the connection is
   *    secure, or `apop: true`;
   * 3. USER/PASS.
   *
   * Without TLS nothing is sent unless `allowInsecureAuth` is set. A failure
   * is final ({@linkcode Pop3AuthenticationError}; check `temporary` for
   * `[IN-USE]`/`[LOGIN-DELAY]`): no other method is tried with the same
   * secret. CAPA is asked again afterwards.
   *
   * @example
   * ```ts ignore
   * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
   * await client.login("me@example.com", "secret");
   * console.log(client.authenticated); // true
   * ```
   */
  async login(
    username: string,
    password: string,
    options?: Pop3LoginOptions,
  ): Promise<Pop3Status> {
    return await this.#run(
      options,
      () => this.#login({ username, password }, options),
    );
  }

  /**
   * Log in with an OAuth 2 access token (XOAUTH2, or OAUTHBEARER), as Gmail
   * and Microsoft 365 want. Long tokens wait for the server's empty
   * challenge instead of riding on the AUTH line (RFC 5034's 255 octets).
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
   * const accessToken = "ya29.a0Af..."; // from your OAuth 2 provider
   * await client.loginWithToken("me@example.com", accessToken);
   * ```
   */
  async loginWithToken(
    username: string,
    accessToken: string,
    options?: Pop3LoginOptions,
  ): Promise<Pop3Status> {
    return await this.#run(
      options,
      () => this.#login({ username, accessToken }, options),
    );
  }

  async #login(
    credentials: Credentials,
    options: Pop3LoginOptions = {},
  ): Promise<Pop3Status> {
    this.#notAuthenticated();
    this.#insecure();
    const { username, password } = credentials;
    assertSafe(username, "username");
    if (password !== undefined) assertSafe(password, "password");
    const forced = options.mechanism?.toUpperCase();
    const custom = this.#opts.mechanisms;
    let status: Pop3Status;
    if (forced === "USER" || forced === "APOP") {
      if (password === undefined) {
        throw new InvalidInputError(`${forced.toLowerCase()} needs a password`);
      }
      status = forced === "USER"
        ? await this.#userPass(username, password, options)
        : await this.#apop(username, password, options);
    } else if (forced) {
      status = await this.#auth(
        createMechanism(forced, credentials, custom),
        options,
      );
    } else {
      const capa = await this.#capabilities(options);
      const sasl = capa.get("SASL") ?? [];
      let mechanism: SaslMechanism | undefined;
      let refusal: unknown;
      if (sasl.length > 0) {
        try {
          mechanism = chooseMechanism(sasl, credentials, {
            secure: this.secure,
            allowInsecureAuth: this.#opts.allowInsecureAuth,
            preference: options.preference,
            custom,
          });
        } catch (err) {
          if (!(err instanceof AuthError)) throw err;
          refusal = err; // nothing usable offered: try APOP or USER/PASS
        }
      }
      if (mechanism) {
        status = await this.#auth(mechanism, options);
      } else if (password === undefined) {
        throw refusal ??
          new Pop3NotSupportedError(
            "server does not offer sasl, needed for a token",
          );
      } else if (
        this.#timestamp !== undefined && options.apop !== false &&
        (this.secure || options.apop === true)
      ) {
        status = await this.#apop(username, password, options);
      } else {
        status = await this.#userPass(username, password, options);
      }
    }
    await this.#capabilities(options);
    return status;
  }

  async #userPass(
    username: string,
    password: string,
    call?: Pop3CallOptions,
  ): Promise<Pop3Status> {
    const d = this.#deadline(call);
    const user = await this.#cmd(`USER ${username}`, d);
    if (!user.ok) throw new Pop3AuthenticationError("user refused", user);
    const pass = await this.#cmd(`PASS ${password}`, d);
    if (!pass.ok) {
      throw new Pop3AuthenticationError("authentication failed", pass);
    }
    this.#loggedIn();
    return pass;
  }

  async #apop(
    username: string,
    secret: string,
    call?: Pop3CallOptions,
  ): Promise<Pop3Status> {
    const timestamp = this.#timestamp;
    if (timestamp === undefined) {
      throw new Pop3NotSupportedError(
        "server greeting has no apop timestamp",
      );
    }
    const digest = apopDigest(timestamp, secret);
    const status = await this.#cmd(
      `APOP ${username} ${digest}`,
      this.#deadline(call),
    );
    if (!status.ok) {
      throw new Pop3AuthenticationError("authentication failed", status);
    }
    this.#loggedIn();
    return status;
  }

  /**
   * USER: send the mailbox name (poplib's `user`). Without TLS it needs
   * `allowInsecureAuth`. `-ERR` is a {@linkcode Pop3AuthenticationError}.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
   * await client.user("me@example.com");
   * await client.pass("secret");
   * ```
   */
  async user(username: string, call?: Pop3CallOptions): Promise<Pop3Status> {
    assertSafe(username, "username");
    return await this.#run(call, async () => {
      this.#notAuthenticated();
      this.#insecure();
      const status = await this.#cmd(`USER ${username}`, this.#deadline(call));
      if (!status.ok) {
        throw new Pop3AuthenticationError("user refused", status);
      }
      return status;
    });
  }

  /**
   * PASS: send the password after {@linkcode Pop3Client.user} (poplib's
   * `pass_`). Without TLS it needs `allowInsecureAuth`; the transcript shows
   * `PASS <redacted>`. `-ERR` is a {@linkcode Pop3AuthenticationError}.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
   * await client.user("me@example.com");
   * const status = await client.pass("secret");
   * console.log(status.text); // e.g. "maildrop has 2 messages"
   * ```
   */
  async pass(password: string, call?: Pop3CallOptions): Promise<Pop3Status> {
    assertSafe(password, "password");
    return await this.#run(call, async () => {
      this.#notAuthenticated();
      this.#insecure();
      const status = await this.#cmd(`PASS ${password}`, this.#deadline(call));
      if (!status.ok) {
        throw new Pop3AuthenticationError("authentication failed", status);
      }
      this.#loggedIn();
      return status;
    });
  }

  /**
   * APOP (RFC 1939 §7): log in with the MD5 digest of the greeting's
   * timestamp and the secret. A greeting without a timestamp is a
   * {@linkcode Pop3NotSupportedError} before anything is sent. Without TLS
   * it needs `allowInsecureAuth` (MD5 is broken).
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
   * if (client.timestamp) await client.apop("me@example.com", "secret");
   * ```
   */
  async apop(
    username: string,
    secret: string,
    call?: Pop3CallOptions,
  ): Promise<Pop3Status> {
    assertSafe(username, "username");
    assertSafe(secret, "secret");
    return await this.#run(call, () => {
      this.#notAuthenticated();
      if (this.#timestamp === undefined) {
        throw new Pop3NotSupportedError(
          "server greeting has no apop timestamp",
        );
      }
      this.#insecure();
      return this.#apop(username, secret, call);
    });
  }

  /**
   * RPOP (RFC 1081): trust-the-client-host login, kept for poplib parity.
   * `-ERR` is a {@linkcode Pop3AuthenticationError}.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
   * await client.user("me");
   * await client.rpop("me");
   * ```
   */
  async rpop(username: string, call?: Pop3CallOptions): Promise<Pop3Status> {
    assertSafe(username, "username");
    return await this.#run(call, async () => {
      this.#notAuthenticated();
      const status = await this.#cmd(`RPOP ${username}`, this.#deadline(call));
      if (!status.ok) {
        throw new Pop3AuthenticationError("authentication failed", status);
      }
      this.#loggedIn();
      return status;
    });
  }

  /**
   * Authenticate with any SASL mechanism object (RFC 5034 AUTH). The
   * initial response rides on the AUTH line only when the line stays within
   * 255 octets; otherwise it answers the server's first (empty) challenge.
   * Without TLS it needs `allowInsecureAuth`. The transcript shows the
   * mechanism name, never the exchanged data. A server that breaks the
   * exchange (`+OK` before the mechanism finished, an invalid challenge) is
   * an `AuthError`, and the connection is closed: its state is unknown.
   *
   * @example
   * ```ts ignore
   * import { PlainMechanism } from "@mailwire/mailwire/auth";
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
   * await client.auth(new PlainMechanism({ username: "me", password: "secret" }));
   * ```
   */
  async auth(
    mechanism: SaslMechanism,
    options?: Pop3LoginOptions,
  ): Promise<Pop3Status> {
    return await this.#run(options, () => this.#auth(mechanism, options));
  }

  async #auth(
    mechanism: SaslMechanism,
    options: Pop3LoginOptions = {},
  ): Promise<Pop3Status> {
    this.#notAuthenticated();
    this.#insecure();
    const capa = await this.#capabilities(options);
    const sasl = capa.get("SASL");
    if (
      !this.#capaRefusal &&
      !sasl?.some((m) => m.toUpperCase() === mechanism.name.toUpperCase())
    ) {
      throw new Pop3NotSupportedError(
        `server does not offer sasl mechanism ${mechanism.name}`,
      );
    }
    const d = this.#deadline(options);
    let final: Pop3Status | undefined;
    const step = (reply: Pop3Status | Pop3Continuation) => {
      if ("continuation" in reply) {
        return { done: false, challenge: reply.text } as const;
      }
      if (!reply.ok) {
        throw new Pop3AuthenticationError("authentication failed", reply);
      }
      final = reply;
      return { done: true } as const;
    };
    let began = false;
    const exchange = authenticate(mechanism, {
      begin: async (name, initial) => {
        began = true;
        await this.#send([
          initial === undefined ? `AUTH ${name}` : `AUTH ${name} ${initial}`,
        ], d);
        return step(await this.#saslReply(d));
      },
      respond: async (line) => {
        await this.#send([line], d, [line === "*" ? "*" : "<redacted>"]);
        return step(await this.#saslReply(d));
      },
    }, {
      initialResponse: options.initialResponse ?? true,
      maxInitialLine: MAX_AUTH_LINE,
    });
    try {
      await exchange;
    } catch (err) {
      // A broken exchange (+OK before the mechanism finished, an invalid
      // challenge) leaves the session's state unknown: the server may even
      // think we logged in. Close rather than go on.
      if (err instanceof AuthError && began) await this.close();
      throw err;
    }
    this.#loggedIn();
    return final!;
  }

  /** A status or a `+ challenge` line. */
  async #saslReply(d: Deadline): Promise<Pop3Status | Pop3Continuation> {
    const ch = this.#channel();
    let reply: Pop3Status | Pop3Continuation;
    try {
      const line = ch.reader.tryReadLine() ?? await ch.reader.readLine(d);
      try {
        reply = parsePop3Status(line, true);
      } catch (err) {
        ch.abort();
        throw err;
      }
    } catch (err) {
      throw this.#mapError(err);
    }
    if (ch.logging) {
      ch.log(
        "server",
        "continuation" in reply ? `+ ${reply.text}` : statusLine(reply),
      );
    }
    return reply;
  }

  /**
   * UTF8 (RFC 6856): switch to UTF-8 for credentials and text, before
   * login, on a server that lists UTF8 (else a
   * {@linkcode Pop3NotSupportedError}, nothing sent).
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({ hostname: "pop.example.com" });
   * if (client.hasCapability("UTF8")) await client.utf8();
   * ```
   */
  async utf8(call?: Pop3CallOptions): Promise<Pop3Status> {
    return await this.#run(call, async () => {
      this.#notAuthenticated();
      const capa = await this.#capabilities(call);
      if (!capa.has("UTF8")) {
        throw new Pop3NotSupportedError("server does not offer utf8");
      }
      const status = await this.#ok("UTF8", this.#deadline(call), "utf8");
      this.#utf8 = true;
      return status;
    });
  }

  /**
   * STAT: the number of messages and their total size.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * const { count, size } = await client.stat();
   * ```
   */
  async stat(call?: Pop3CallOptions): Promise<Pop3Stat> {
    return await this.#run(call, async () => {
      const status = await this.#ok("STAT", this.#deadline(call), "stat");
      return this.#parse(() => parseStat(status.text));
    });
  }

  /**
   * LIST: every message's number and size.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * for (const { id, size } of await client.list()) console.log(id, size);
   * ```
   */
  list(call?: Pop3CallOptions): Promise<Pop3ScanListing[]>;
  /**
   * LIST `id`: one message's number and size; `-ERR` (no such message) is a
   * {@linkcode Pop3ResponseError}.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * const { size } = await client.list(1);
   * ```
   */
  list(id: number, call?: Pop3CallOptions): Promise<Pop3ScanListing>;
  async list(
    idOrCall?: number | Pop3CallOptions,
    call?: Pop3CallOptions,
  ): Promise<Pop3ScanListing[] | Pop3ScanListing> {
    if (typeof idOrCall === "number") {
      const id = messageId(idOrCall);
      return await this.#run(call, async () => {
        const status = await this.#ok(
          `LIST ${id}`,
          this.#deadline(call),
          `list ${id}`,
        );
        return this.#parse(() => parseScanListing(status.text));
      });
    }
    const options = idOrCall ?? call;
    return await this.#run(options, async () => {
      const d = this.#deadline(options);
      await this.#ok("LIST", d, "list");
      const lines = await this.#lines(d);
      return this.#parse(() => lines.map(parseScanListing));
    });
  }

  /**
   * UIDL: every message's number and unique id (stable across sessions).
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * const seen = new Set<string>();
   * const fresh = (await client.uidl()).filter((m) => !seen.has(m.uid));
   * ```
   */
  uidl(call?: Pop3CallOptions): Promise<Pop3UidListing[]>;
  /**
   * UIDL `id`: one message's unique id.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * const { uid } = await client.uidl(1);
   * ```
   */
  uidl(id: number, call?: Pop3CallOptions): Promise<Pop3UidListing>;
  async uidl(
    idOrCall?: number | Pop3CallOptions,
    call?: Pop3CallOptions,
  ): Promise<Pop3UidListing[] | Pop3UidListing> {
    if (typeof idOrCall === "number") {
      const id = messageId(idOrCall);
      return await this.#run(call, async () => {
        await this.#need("UIDL", call);
        const status = await this.#ok(
          `UIDL ${id}`,
          this.#deadline(call),
          `uidl ${id}`,
        );
        return this.#parse(() => parseUidListing(status.text));
      });
    }
    const options = idOrCall ?? call;
    return await this.#run(options, async () => {
      await this.#need("UIDL", options);
      const d = this.#deadline(options);
      await this.#ok("UIDL", d, "uidl");
      const lines = await this.#lines(d);
      return this.#parse(() => lines.map(parseUidListing));
    });
  }

  /**
   * UIDL and LIST together (one write with PIPELINING): every message's
   * number, unique id and size, what a mail fetcher needs to decide what to
   * download.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * for (const { id, uid, size } of await client.listing()) console.log(id, uid, size);
   * ```
   */
  async listing(call?: Pop3CallOptions): Promise<Pop3MessageListing[]> {
    return await this.#run(call, async () => {
      await this.#need("UIDL", call);
      const pipelining = await this.#pipelining(call);
      const d = this.#deadline(call);
      const read = async (what: string) => {
        const status = await this.#status(d);
        return status.ok
          ? { lines: await this.#lines(d) }
          : { error: new Pop3ResponseError(what, status) };
      };
      let uidl, list;
      if (pipelining) {
        await this.#send(["UIDL", "LIST"], d);
        uidl = await read("uidl");
        list = await read("list");
      } else {
        await this.#send(["UIDL"], d);
        uidl = await read("uidl");
        if (uidl.error) throw uidl.error;
        await this.#send(["LIST"], d);
        list = await read("list");
      }
      if (uidl.error) throw uidl.error;
      if (list.error) throw list.error;
      return this.#parse(() => {
        const sizes = new Map<number, number>();
        for (const l of list.lines!) {
          const { id, size } = parseScanListing(l);
          sizes.set(id, size);
        }
        const uids = uidl.lines!.map(parseUidListing);
        if (uids.length !== sizes.size) {
          throw new ProtocolError("uidl and list disagree on the messages");
        }
        return uids.map(({ id, uid }) => {
          const size = sizes.get(id);
          if (size === undefined) {
            throw new ProtocolError("uidl and list disagree on the messages");
          }
          return { id, uid, size };
        });
      });
    });
  }

  /**
   * RETR: the whole message as raw bytes, exactly as stored (CRLF line ends,
   * the dot-stuffing of every line undone), lines of any length. Capped by
   * `maxMessageBytes` (a ProtocolError, connection closed); the whole
   * transfer shares one deadline (pass a larger `timeout`, or use
   * {@linkcode Pop3Client.retrStream}, for huge messages on slow links).
   * To save a copy, the array may be a view of a buffer up to an eighth
   * larger: use the array itself, not its `.buffer`.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * const raw = await client.retr(1);
   * console.log(new TextDecoder().decode(raw).split("\r\n\r\n")[0]); // headers
   * ```
   */
  async retr(id: number, call?: Pop3CallOptions): Promise<Uint8Array> {
    const n = messageId(id);
    return await this.#run(call, async () => {
      const d = this.#deadline(call);
      const status = await this.#ok(`RETR ${n}`, d, `retr ${n}`);
      return this.#body(status, d);
    });
  }

  /**
   * RETR as a stream: the message in chunks of up to 64 KiB, read from the
   * server only as the stream is consumed (memory stays bounded by a chunk
   * and the longest line). `-ERR` rejects the returned promise. Each chunk
   * must arrive within the `timeout`.
   *
   * Until the stream is read to the end or cancelled, the connection is
   * busy: other calls throw. Cancelling reads and discards the rest when it
   * is at most 1 MiB and arrives within 10 s (the session, and its pending
   * deletions, go on); otherwise the connection is closed (pending
   * deletions are then never committed). `cancel()` resolves once the
   * connection is in one of these two states.
   *
   * @example Save a message to a file in Deno
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * const stream = await client.retrStream(1);
   * await stream.pipeTo((await Deno.create("message.eml")).writable);
   * ```
   */
  async retrStream(
    id: number,
    call?: Pop3CallOptions,
  ): Promise<ReadableStream<Uint8Array>> {
    const n = messageId(id);
    return await this.#run(call, async () => {
      const d = this.#deadline(call);
      await this.#ok(`RETR ${n}`, d, `retr ${n}`);
      const ch = this.#channel();
      const reader = ch.reader;
      const cap = reader.maxLineLength;
      const max = this.#maxMessage;
      reader.maxLineLength = Math.max(cap, max);
      const token = {};
      this.#stream = token;
      return messageStream({
        reader,
        maxBytes: max,
        chunkSize: STREAM_CHUNK,
        pullDeadline: () => this.#deadline(call),
        drainDeadline: () =>
          this.#deadline(
            call,
            Math.min(call?.timeout ?? this.#timeout, DRAIN_TIMEOUT),
          ),
        drainLimit: DRAIN_LIMIT,
        signal: d.signal,
        abort: ch.abort,
        mapError: (err) => this.#mapError(err),
        done: (clean) => {
          reader.maxLineLength = cap;
          if (this.#stream === token) this.#stream = undefined;
          if (ch.logging) {
            ch.log(
              clean ? "server" : "info",
              clean
                ? `<message data streamed>`
                : `message stream ended early; connection closed`,
            );
          }
        },
      });
    });
  }

  /**
   * TOP (RFC 1939 §7): the headers and the first `lines` lines of the body,
   * as raw bytes like {@linkcode Pop3Client.retr}. A server whose CAPA lacks
   * TOP gets nothing sent ({@linkcode Pop3NotSupportedError}).
   *
   * @example Headers only
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * const head = await client.top(1, 0);
   * ```
   */
  async top(
    id: number,
    lines: number,
    call?: Pop3CallOptions,
  ): Promise<Uint8Array> {
    const n = messageId(id);
    const count = lineCount(lines);
    return await this.#run(call, async () => {
      await this.#need("TOP", call);
      const d = this.#deadline(call);
      const status = await this.#ok(`TOP ${n} ${count}`, d, `top ${n}`);
      return this.#body(status, d);
    });
  }

  /**
   * DELE: mark a message deleted. Final only when
   * {@linkcode Pop3Client.quit} completes; RSET or a dropped connection
   * undoes it.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * await client.dele(1);
   * await client.quit(); // commits the deletion
   * ```
   */
  async dele(id: number, call?: Pop3CallOptions): Promise<Pop3Status> {
    const n = messageId(id);
    return await this.#run(
      call,
      () => this.#ok(`DELE ${n}`, this.#deadline(call), `dele ${n}`),
    );
  }

  /**
   * RSET: unmark every message marked deleted in this session.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * await client.rset();
   * ```
   */
  async rset(call?: Pop3CallOptions): Promise<Pop3Status> {
    return await this.#run(
      call,
      () => this.#ok("RSET", this.#deadline(call), "rset"),
    );
  }

  /**
   * NOOP: keep the session alive, check the server answers.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * await client.noop();
   * ```
   */
  async noop(call?: Pop3CallOptions): Promise<Pop3Status> {
    return await this.#run(
      call,
      () => this.#ok("NOOP", this.#deadline(call), "noop"),
    );
  }

  async #pipelining(call?: Pop3CallOptions): Promise<boolean> {
    if (this.#opts.pipelining === false) return false;
    return (await this.#capabilities(call)).has("PIPELINING");
  }

  /**
   * Send several commands and read their answers in order: in one write
   * when the server offers PIPELINING (at most 64 commands in flight, so a
   * server that stops reading while its answers pile up cannot deadlock
   * us), else one at a time. `-ERR` answers are returned, not thrown; each
   * answer has its own deadline. The building block of
   * {@linkcode Pop3Client.retrMany} and {@linkcode Pop3Client.deleMany}.
   *
   * @example Fetch two messages and mark the first deleted, one round trip
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * const [a, b, del] = await client.pipeline([
   *   { command: "RETR", id: 1 },
   *   { command: "RETR", id: 2 },
   *   { command: "DELE", id: 1 },
   * ]);
   * console.log(a.body?.length, b.body?.length, del.status.ok);
   * ```
   */
  async pipeline(
    commands: readonly Pop3PipelineCommand[],
    call?: Pop3CallOptions,
  ): Promise<Pop3PipelineReply[]> {
    const lines = commands.map(pipelineLine);
    return await this.#run(call, () => this.#pipeline(commands, lines, call));
  }

  async #pipeline(
    commands: readonly Pop3PipelineCommand[],
    lines: readonly string[],
    call?: Pop3CallOptions,
  ): Promise<Pop3PipelineReply[]> {
    if (lines.length === 0) return [];
    const pipelining = await this.#pipelining(call);
    const window = pipelining ? WINDOW : 1;
    const replies: Pop3PipelineReply[] = [];
    let sent = 0;
    for (let i = 0; i < lines.length; i++) {
      // Keep between window/2 and window commands in flight.
      if (sent < lines.length && sent - i <= window / 2) {
        const upTo = Math.min(lines.length, i + window);
        await this.#send(
          lines.slice(sent, upTo),
          this.#deadline(call),
          undefined,
          sent > i,
        );
        sent = upTo;
      }
      const d = this.#deadline(call);
      const command = commands[i];
      const status = await this.#status(d);
      const reply: Pop3PipelineReply = { command, status };
      if (
        status.ok && (command.command === "RETR" || command.command === "TOP")
      ) {
        reply.body = await this.#body(status, d);
      }
      replies.push(reply);
    }
    return replies;
  }

  /**
   * RETR several messages, pipelined when the server offers PIPELINING.
   * Every answer is read; then the first `-ERR`, if any, is thrown as a
   * {@linkcode Pop3ResponseError}.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * const [first, second] = await client.retrMany([1, 2]);
   * ```
   */
  async retrMany(
    ids: readonly number[],
    call?: Pop3CallOptions,
  ): Promise<Uint8Array[]> {
    const replies = await this.pipeline(
      ids.map((id) => ({ command: "RETR", id })),
      call,
    );
    return replies.map((r) => {
      if (!r.status.ok) {
        throw new Pop3ResponseError(
          `retr ${(r.command as { id: number }).id}`,
          r.status,
        );
      }
      return r.body as Uint8Array;
    });
  }

  /**
   * DELE several messages, pipelined when the server offers PIPELINING.
   * Every answer is read; then the first `-ERR`, if any, is thrown (the
   * others stay marked: RSET undoes them all). Final only after
   * {@linkcode Pop3Client.quit}.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * await client.deleMany([1, 2, 3]);
   * await client.quit();
   * ```
   */
  async deleMany(
    ids: readonly number[],
    call?: Pop3CallOptions,
  ): Promise<Pop3Status[]> {
    const replies = await this.pipeline(
      ids.map((id) => ({ command: "DELE", id })),
      call,
    );
    return replies.map((r) => {
      if (!r.status.ok) {
        throw new Pop3ResponseError(
          `dele ${(r.command as { id: number }).id}`,
          r.status,
        );
      }
      return r.status;
    });
  }

  /**
   * Send any single-line command and return its status, `+OK` or `-ERR`
   * (poplib's `_shortcmd`/docmd style). CR, LF and NUL are refused, and so
   * are commands with a multi-line answer or that change the connection
   * (RETR, TOP, CAPA, LIST/UIDL without argument, STLS, AUTH, QUIT): use
   * their methods. The transcript redacts PASS and APOP.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * const status = await client.command("NOOP");
   * console.log(status.ok); // true
   * ```
   */
  async command(line: string, call?: Pop3CallOptions): Promise<Pop3Status> {
    assertSafe(line, "command");
    const words = line.trim().split(/\s+/);
    const verb = words[0].toUpperCase();
    if (
      NOT_RAW.has(verb) ||
      ((verb === "LIST" || verb === "UIDL") && words.length === 1)
    ) {
      throw new InvalidInputError(
        `command() takes single-line commands; use the ${verb.toLowerCase()} method`,
      );
    }
    return await this.#run(call, async () => {
      if (verb === "USER" || verb === "PASS" || verb === "APOP") {
        this.#insecure();
      }
      const status = await this.#cmd(line, this.#deadline(call));
      if (
        status.ok && (verb === "PASS" || verb === "APOP" || verb === "RPOP")
      ) {
        this.#loggedIn();
      }
      return status;
    });
  }

  /**
   * QUIT: end the session; the server commits the deletions (UPDATE state)
   * and closes. `-ERR` (some deletions failed) is a
   * {@linkcode Pop3ResponseError}. The connection is closed either way; if
   * it drops before the answer, whether deletions were committed is unknown.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * await client.dele(1);
   * await client.quit();
   * ```
   */
  async quit(call?: Pop3CallOptions): Promise<Pop3Status> {
    return await this.#run(call, async () => {
      try {
        return await this.#ok("QUIT", this.#deadline(call), "quit");
      } finally {
        await this.close();
      }
    });
  }

  /**
   * Close the connection without QUIT (poplib's `close`): deletions marked
   * in this session are never committed. Idempotent.
   *
   * @example
   * ```ts ignore
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = await Pop3Client.connect({
   *   hostname: "pop.example.com",
   *   auth: { username: "me@example.com", password: "secret" },
   * });
   * await client.dele(1);
   * await client.close(); // message 1 is kept
   * ```
   */
  async close(): Promise<void> {
    const ch = this.#ch;
    if (!ch) return;
    this.#opts.signal?.removeEventListener("abort", this.#onClientAbort);
    if (!ch.closed) ch.log("info", "connection closed");
    this.#authenticated = false;
    this.#stream = undefined;
    await ch.close();
  }

  /**
   * `await using` support: {@linkcode Pop3Client.close}, without QUIT, so
   * leaving a block early never commits deletions. Call `quit()` yourself
   * to commit them.
   *
   * @example
   * ```ts ignore
   * {
   *   await using client = await Pop3Client.connect({ hostname: "localhost" });
   *   await client.dele(1);
   * } // closed, message 1 kept
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
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

/** A message number for a command: a positive safe integer. */
function messageId(id: number): number {
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 1) {
    throw new InvalidInputError("message id must be a positive integer");
  }
  return id;
}

function lineCount(lines: number): number {
  if (typeof lines !== "number" || !Number.isSafeInteger(lines) || lines < 0) {
    throw new InvalidInputError("line count must be a non-negative integer");
  }
  return lines;
}

function pipelineLine(c: Pop3PipelineCommand): string {
  switch (c?.command) {
    case "RETR":
    case "DELE":
      return `${c.command} ${messageId(c.id)}`;
    case "TOP":
      return `TOP ${messageId(c.id)} ${lineCount(c.lines)}`;
    case "NOOP":
    case "RSET":
      return c.command;
    default:
      throw new InvalidInputError("unknown pipeline command");
  }
}

function statusLine(status: Pop3Status): string {
  const code = status.respCode ? `[${status.respCode}] ` : "";
  return `${status.ok ? "+OK" : "-ERR"} ${code}${status.text}`.trimEnd();
}

/** The transcript form of a command line: PASS, APOP and AUTH secrets replaced. */
function redact(line: string): string {
  const m = /^(\S+) +(\S+)( .*)?$/.exec(line);
  if (!m) return line;
  const verb = m[1].toUpperCase();
  if (verb === "PASS") return `${m[1]} <redacted>`;
  if ((verb === "APOP" || verb === "AUTH") && m[3] !== undefined) {
    return `${m[1]} ${m[2]} <redacted>`;
  }
  return line;
}
