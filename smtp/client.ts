import { authenticate } from "../auth/authenticate.ts";
import { chooseMechanism } from "../auth/choose_mechanism.ts";
import { createMechanism } from "../auth/create_mechanism.ts";
import {
  AbortedError,
  AuthError,
  ConnectionClosedError,
  InvalidInputError,
  MailwireError,
} from "../errors.ts";
import type {
  Credentials,
  MechanismFactory,
  SaslMechanism,
} from "../auth/mechanism.ts";
import { Channel } from "../io/channel.ts";
import { Deadline } from "../io/deadline.ts";
import { DotStuffer } from "../io/dot.ts";
import type { Logger } from "../io/log.ts";
import { readSmtpReply, type SmtpReply } from "../io/smtp_reply.ts";
import { assertSafe } from "../io/validate.ts";
import type { Connector, TlsOptions } from "../tls/conn.ts";
import { defaultConnector } from "../tls/connect.ts";
import { envelopeFromMessage } from "./envelope.ts";
import {
  SmtpAuthenticationError,
  SmtpConnectError,
  SmtpDataError,
  SmtpError,
  SmtpHeloError,
  SmtpNotSupportedError,
  SmtpOutcomeUnknownError,
  SmtpRecipientsRefusedError,
  SmtpResponseError,
  SmtpSenderRefusedError,
  SmtpServerDisconnectedError,
  SmtpServiceClosingError,
} from "./errors.ts";

/**
 * How TLS is used.
 * - `"starttls"`: connect in clear, then STARTTLS before anything else; a
 *   server without STARTTLS, or refusing it, is an error (default, port 587/25).
 * - `"implicit"`: TLS from the first byte (SMTPS, port 465).
 * - `"opportunistic"`: STARTTLS when offered, else stay in clear (relaying
 *   to an MX); credentials are still never sent in clear.
 * - `"none"`: never TLS (explicit opt-in; AUTH then needs `allowInsecureAuth`).
 *
 * @example SMTPS (implicit TLS) on port 465
 * ```ts
 * import { SmtpClient, type SmtpTlsMode } from "@mailwire/mailwire/smtp";
 * const tls: SmtpTlsMode = "implicit";
 * const client = new SmtpClient({ hostname: "smtp.example.com", port: 465, tls });
 * console.log(client.connected); // false: call connect() next
 * ```
 */
export type SmtpTlsMode = "starttls" | "implicit" | "opportunistic" | "none";

/**
 * Credentials for automatic login during {@linkcode SmtpClient.connect}.
 *
 * @example
 * ```ts
 * import type { SmtpAuthOptions } from "@mailwire/mailwire/smtp";
 * const auth: SmtpAuthOptions = {
 *   username: "me@example.com",
 *   password: "app-password",
 *   mechanism: "LOGIN", // instead of the strongest offered
 * };
 * console.log(auth.mechanism); // "LOGIN"
 * ```
 */
export interface SmtpAuthOptions extends Credentials {
  /** Force a mechanism (e.g. `"LOGIN"`); default: the strongest offered. */
  mechanism?: string;
}

/**
 * Options of {@linkcode SmtpClient}.
 *
 * @example
 * ```ts
 * import { consoleLogger, SmtpClient, type SmtpClientOptions } from "@mailwire/mailwire/smtp";
 * const options: SmtpClientOptions = {
 *   hostname: "smtp.example.com",
 *   port: 587, // STARTTLS: the default tls mode off port 465
 *   timeout: 30_000,
 *   logger: consoleLogger, // print the transcript, secrets redacted
 * };
 * const client = new SmtpClient(options); // connect() next
 * console.log(client.connected); // false
 * ```
 */
export interface SmtpClientOptions extends TlsOptions {
  /** Server host name or address. Default `"localhost"`. */
  hostname?: string;
  /** Server port. Default 465 for `tls: "implicit"`, else 587 (LMTP: 24). */
  port?: number;
  /** Unix socket path instead of host and port (LMTP). */
  path?: string;
  /** TLS mode. Default `"implicit"` on port 465, else `"starttls"`. */
  tls?: SmtpTlsMode;
  /** Name sent with EHLO/HELO/LHLO. Default `"localhost"`. */
  localName?: string;
  /** Deadline in ms for each operation (connect, a command and its reply, one write). Default 60 000; `0` or `Infinity` means none. */
  timeout?: number;
  /** Aborts whatever the client is doing and closes the connection. */
  signal?: AbortSignal;
  /** Socket implementation. Default: the runtime's own (Deno, Bun, Node). */
  connector?: Connector;
  /** Receives the transcript; credentials are redacted. */
  logger?: Logger;
  /** Log in during `connect()`. */
  auth?: SmtpAuthOptions;
  /** Allow credentials over a connection without TLS. Default false. */
  allowInsecureAuth?: boolean;
  /** Extra SASL mechanisms by name. */
  mechanisms?: ReadonlyMap<string, MechanismFactory>;
  /** Send MAIL, RCPT and DATA/BDAT in one write when the server offers PIPELINING. Default true. */
  pipelining?: boolean;
  /** Use BDAT (CHUNKING) for in-memory messages when offered. Default true. */
  chunking?: boolean;
  /** Longest accepted reply line in bytes. Default 8192. */
  maxLineLength?: number;
  /** Most lines in one reply. Default 10 000. */
  maxReplyLines?: number;
  /** Most bytes in one reply. Default 1 MiB. */
  maxReplyBytes?: number;
}

/**
 * Per-call deadline and cancellation.
 *
 * @example A 5-second deadline for one call
 * ```ts ignore
 * import { SmtpClient } from "@mailwire/mailwire/smtp";
 * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
 * const controller = new AbortController();
 * await client.noop({ timeout: 5_000, signal: controller.signal });
 * ```
 */
export interface CallOptions {
  /** Aborts this call (and closes the connection). */
  signal?: AbortSignal;
  /** Deadline for this call in ms, instead of the client's `timeout`. */
  timeout?: number;
}

/**
 * Typed MAIL FROM parameters.
 *
 * @example Ask for bounces with headers only (DSN)
 * ```ts ignore
 * import { SmtpClient } from "@mailwire/mailwire/smtp";
 * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
 * await client.sendMail({
 *   from: "me@example.com",
 *   to: "you@example.com",
 *   data: "Subject: hi\r\n\r\nHello\r\n",
 *   mailOptions: { ret: "HDRS", envid: "order-42" }, // needs DSN
 * });
 * ```
 */
export interface MailOptions {
  /** Declared size (SIZE=); set automatically for in-memory messages when offered. */
  size?: number;
  /** BODY=; `8BITMIME` is set automatically for 8-bit in-memory messages when offered. */
  body?: "7BIT" | "8BITMIME" | "BINARYMIME";
  /** SMTPUTF8; set automatically when an address is not ASCII. */
  smtputf8?: boolean;
  /** DSN RET= (RFC 3461). */
  ret?: "FULL" | "HDRS";
  /** DSN ENVID= (xtext-encoded by mailwire). */
  envid?: string;
  /** REQUIRETLS (RFC 8689): only allowed under TLS. */
  requireTls?: boolean;
  /** Raw extra parameters, e.g. `["MT-PRIORITY=3"]`. */
  params?: string[];
}

/**
 * Typed RCPT TO parameters.
 *
 * @example Delivery status notifications for one recipient
 * ```ts ignore
 * import { SmtpClient } from "@mailwire/mailwire/smtp";
 * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
 * await client.mail("me@example.com");
 * const reply = await client.rcpt("you@example.com", {
 *   notify: ["FAILURE", "DELAY"], // needs DSN
 *   orcpt: "you@example.com",
 * });
 * console.log(reply.code); // 250
 * ```
 */
export interface RcptOptions {
  /** DSN NOTIFY=. */
  notify?: "NEVER" | Array<"SUCCESS" | "FAILURE" | "DELAY">;
  /** DSN ORCPT=rfc822;<addr> (xtext-encoded by mailwire). */
  orcpt?: string;
  /** Raw extra parameters. */
  params?: string[];
}

/**
 * A recipient: an address, or an address with its own RCPT options.
 *
 * @example
 * ```ts
 * import type { Recipient } from "@mailwire/mailwire/smtp";
 * const to: Recipient[] = [
 *   "you@example.com",
 *   { address: "boss@example.com", notify: "NEVER" },
 * ];
 * console.log(to.length); // 2
 * ```
 */
export type Recipient = string | ({ address: string } & RcptOptions);

/**
 * Message content: text (sent as UTF-8), bytes, or a stream of bytes.
 *
 * @example Stream a message from a file in Deno
 * ```ts ignore
 * import { SmtpClient } from "@mailwire/mailwire/smtp";
 * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
 * const file = await Deno.open("message.eml");
 * await client.sendMail({
 *   from: "me@example.com",
 *   to: "you@example.com",
 *   data: file.readable, // streamed, never held in memory whole
 * });
 * ```
 */
export type MessageData = string | Uint8Array | ReadableStream<Uint8Array>;

/**
 * Options of {@linkcode SmtpClient.sendMail}.
 *
 * @example
 * ```ts
 * import type { SendMailOptions } from "@mailwire/mailwire/smtp";
 * const bounce: SendMailOptions = {
 *   from: "", // the null sender <>
 *   to: "sender@example.com",
 *   data: "Subject: undeliverable\r\n\r\nSorry.\r\n",
 *   timeout: 120_000,
 * };
 * console.log(bounce.from === ""); // true
 * ```
 */
export interface SendMailOptions extends CallOptions {
  /** Envelope sender; `""` for the null sender `<>`. */
  from: string;
  /** Envelope recipients. */
  to: Recipient | Recipient[];
  /** The whole message (headers and body). Line ends are normalised to CRLF. */
  data: MessageData;
  /** MAIL FROM parameters. */
  mailOptions?: MailOptions;
  /** RCPT TO parameters for every recipient (per-recipient options win). */
  rcptOptions?: RcptOptions;
}

/**
 * Options of {@linkcode SmtpClient.sendMessage}.
 *
 * @example Override the recipients
 * ```ts ignore
 * import { SmtpClient } from "@mailwire/mailwire/smtp";
 * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
 * const message = "From: me@example.com\r\nTo: you@example.com\r\n\r\nHi\r\n";
 * // A copy to the archive only, whatever To/Cc/Bcc say.
 * await client.sendMessage(message, { to: ["archive@example.com"] });
 * ```
 */
export interface SendMessageOptions extends CallOptions {
  /** Envelope sender instead of the one from the headers. */
  from?: string;
  /** Envelope recipients instead of To/Cc/Bcc. */
  to?: string[];
  /** MAIL FROM parameters. */
  mailOptions?: MailOptions;
  /** RCPT TO parameters for every recipient. */
  rcptOptions?: RcptOptions;
}

/**
 * What a successful send returns.
 *
 * @example
 * ```ts ignore
 * import { SmtpClient } from "@mailwire/mailwire/smtp";
 * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
 * const result = await client.sendMail({
 *   from: "me@example.com",
 *   to: ["a@example.com", "b@example.com"],
 *   data: "Subject: hi\r\n\r\nHello\r\n",
 * });
 * console.log(result.reply.code, result.accepted); // 250 ["a@example.com", ...]
 * for (const [address, reply] of result.refused) console.log(address, reply.code);
 * ```
 */
export interface SendResult {
  /** The server's reply to the end of the data (LMTP: the last recipient's). */
  reply: SmtpReply;
  /** Recipients the server accepted. */
  accepted: string[];
  /** Refused recipients with the server's reply (smtplib's return value). */
  refused: Map<string, SmtpReply>;
  /** LMTP only: each accepted recipient's delivery reply. */
  deliveries?: Map<string, SmtpReply>;
}

/**
 * Options of {@linkcode SmtpClient.login}.
 *
 * @example
 * ```ts ignore
 * import { SmtpClient } from "@mailwire/mailwire/smtp";
 * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
 * await client.login("me@example.com", "secret", {
 *   preference: ["PLAIN", "LOGIN"], // never CRAM-MD5
 *   timeout: 10_000,
 * });
 * ```
 */
export interface LoginOptions extends CallOptions {
  /** Force a mechanism; default: the strongest the server offers. */
  mechanism?: string;
  /** Preference order of mechanism names. */
  preference?: string[];
  /** Send the initial response with the AUTH command (default true). */
  initialResponse?: boolean;
}

const DEFAULT_TIMEOUT = 60_000;
const TWO_PHASE_LIMIT = 1 << 20; // bigger in-memory bodies wait for RCPT replies first
const BODY_SLICE = 1 << 20; // each write of a large body gets its own deadline
const encoder = new TextEncoder();
/** Any UTF-16 code unit outside ASCII. */
const NON_ASCII = /[\u0080-\uffff]/;

/** @internal Marks a client speaking LMTP. Not exported from the package. */
export const LMTP: unique symbol = Symbol("lmtp");

/**
 * An SMTP client: everything Python's `smtplib.SMTP` does, on Web streams,
 * secure by default (verified TLS, no credentials in clear, CR/LF/NUL
 * rejected before a byte is sent, a deadline on every wait).
 *
 * @example Send a message over STARTTLS with AUTH
 * ```ts ignore
 * import { SmtpClient } from "@mailwire/mailwire/smtp";
 * await using client = await SmtpClient.connect({
 *   hostname: "smtp.example.com",
 *   port: 587,
 *   auth: { username: "me@example.com", password: "secret" },
 * });
 * const { refused } = await client.sendMail({
 *   from: "me@example.com",
 *   to: ["you@example.com"],
 *   data: "Subject: hi\r\n\r\nHello!\r\n",
 * });
 * console.log(refused.size); // 0
 * await client.quit();
 * ```
 */
export class SmtpClient {
  #opts: SmtpClientOptions;
  #lmtp: boolean;
  #ch: Channel | undefined;
  #welcome: SmtpReply | undefined;
  #heloReply: SmtpReply | undefined;
  #esmtp = false;
  #features = new Map<string, string>();
  #authenticated = false;
  #queue: Promise<void> = Promise.resolve();
  #detach: (() => void) | undefined;
  /** RCPTs accepted since the last mail() (LMTP: replies owed after the data). */
  #rcptAccepted = 0;

  /**
   * Create a client; call {@linkcode SmtpClient.connect} (the method) next.
   *
   * @example
   * ```ts
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = new SmtpClient({ hostname: "smtp.example.com", localName: "me.example.com" });
   * console.log(client.connected); // false
   * ```
   */
  constructor(options: SmtpClientOptions = {}) {
    this.#opts = { ...options };
    this.#lmtp = (options as { [LMTP]?: boolean })[LMTP] === true;
    if (options.localName !== undefined) {
      assertSafe(options.localName, "local name");
    }
  }

  /**
   * Create a client and connect: greeting, EHLO, STARTTLS (in `"starttls"`
   * mode), EHLO again, then login when `auth` is given.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "localhost", port: 587 });
   * await client.quit();
   * ```
   */
  static async connect(options: SmtpClientOptions = {}): Promise<SmtpClient> {
    const client = new SmtpClient(options);
    await client.connect();
    return client;
  }

  /**
   * The server's greeting (smtplib keeps it after `connect`).
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * console.log(client.welcome?.code, client.welcome?.text); // 220 "smtp.example.com ESMTP"
   * ```
   */
  get welcome(): SmtpReply | undefined {
    return this.#welcome;
  }

  /**
   * Whether the server answered EHLO (smtplib's `does_esmtp`).
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * console.log(client.esmtp); // true; false after a HELO fallback
   * ```
   */
  get esmtp(): boolean {
    return this.#esmtp;
  }

  /**
   * EHLO keywords (upper case) and their parameters (smtplib's `esmtp_features`).
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * console.log(client.features.get("AUTH")); // e.g. "PLAIN LOGIN"
   * console.log(client.features.get("SIZE")); // e.g. "35882577"
   * ```
   */
  get features(): ReadonlyMap<string, string> {
    return this.#features;
  }

  /**
   * Whether TLS is active.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * console.log(client.secure); // true: the default tls mode is "starttls"
   * ```
   */
  get secure(): boolean {
    return this.#ch?.secure ?? false;
  }

  /**
   * Whether login succeeded on this connection.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * console.log(client.authenticated); // false
   * await client.login("me@example.com", "secret");
   * console.log(client.authenticated); // true
   * ```
   */
  get authenticated(): boolean {
    return this.#authenticated;
  }

  /**
   * Whether a connection is open.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * console.log(client.connected); // true
   * await client.quit();
   * console.log(client.connected); // false
   * ```
   */
  get connected(): boolean {
    return this.#ch !== undefined && !this.#ch.closed;
  }

  /**
   * The reply to the last EHLO/HELO/LHLO, if any.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * console.log(client.heloReply?.code); // 250: the reply to the last EHLO
   * ```
   */
  get heloReply(): SmtpReply | undefined {
    return this.#heloReply;
  }

  /**
   * Whether the server advertised `name` in its EHLO reply (case-insensitive).
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * if (!client.hasExtension("smtputf8")) console.log("ASCII addresses only");
   * ```
   */
  hasExtension(name: string): boolean {
    return this.#features.has(name.toUpperCase());
  }

  get #mode(): SmtpTlsMode {
    return this.#opts.tls ??
      (this.#opts.port === 465 ? "implicit" : "starttls");
  }

  get #timeout(): number {
    return this.#opts.timeout ?? DEFAULT_TIMEOUT;
  }

  #deadline(call?: CallOptions): Deadline {
    const signals = [this.#opts.signal, call?.signal].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    return new Deadline(call?.timeout ?? this.#timeout, signal);
  }

  /**
   * Run one public operation at a time, in call order: SMTP is a dialogue,
   * and two interleaved operations would read each other's replies.
   */
  #serial<T>(
    signal: AbortSignal | undefined,
    fn: () => Promise<T>,
  ): Promise<T> {
    const previous = this.#queue;
    let release!: () => void;
    this.#queue = new Promise<void>((r) => release = r);
    return new Promise<T>((resolve, reject) => {
      // A call aborted while it waits for its turn gives up its turn
      // without touching the connection: it never sent anything.
      const onAbort = () =>
        reject(
          new AbortedError("operation aborted before it started", {
            cause: signal?.reason,
          }),
        );
      signal?.addEventListener("abort", onAbort, { once: true });
      void previous.then(async () => {
        signal?.removeEventListener("abort", onAbort);
        if (signal?.aborted) {
          onAbort();
          return release();
        }
        try {
          resolve(await fn());
        } catch (err) {
          reject(err);
        } finally {
          release();
        }
      });
    });
  }

  #channel(): Channel {
    const ch = this.#ch;
    if (!ch || ch.closed) {
      throw new SmtpServerDisconnectedError("not connected");
    }
    return ch;
  }

  /**
   * Open the connection, read the greeting, EHLO (HELO fallback), and set up TLS and login as the
   * options say. On failure the connection is closed.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = new SmtpClient({ hostname: "smtp.example.com" });
   * const greeting = await client.connect({ timeout: 10_000 });
   * console.log(greeting.code); // 220
   * ```
   */
  connect(call?: CallOptions): Promise<SmtpReply> {
    return this.#serial(call?.signal, () => this.#connect(call));
  }

  async #connect(call?: CallOptions): Promise<SmtpReply> {
    if (this.connected) throw new SmtpError("already connected");
    const o = this.#opts;
    const mode = this.#mode;
    const d = this.#deadline(call);
    const hostname = o.hostname ?? "localhost";
    const port = o.port ??
      (this.#lmtp ? 24 : mode === "implicit" ? 465 : 587);
    const ch = await Channel.open(
      o.connector ?? defaultConnector,
      {
        hostname,
        port,
        path: o.path,
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
    // The client's signal aborts whatever it is doing, idle included.
    const signal = o.signal;
    if (signal) {
      const onAbort = () => void ch.close();
      signal.addEventListener("abort", onAbort, { once: true });
      this.#detach = () => signal.removeEventListener("abort", onAbort);
    }
    try {
      const greeting = await this.#read(d);
      this.#welcome = greeting;
      if (greeting.code !== 220) {
        if (greeting.code === 554) await this.#quietly("QUIT", d);
        throw new SmtpConnectError("server refused the connection", greeting);
      }
      await this.#ehloOrHelo(call);
      if (mode === "starttls" || mode === "opportunistic") {
        if (this.hasExtension("STARTTLS")) {
          await this.#startTls({}, call);
        } else if (mode === "starttls") {
          throw new SmtpNotSupportedError(
            "server does not offer starttls; refusing to continue without tls",
          );
        }
      }
      if (o.auth) {
        const { mechanism, ...credentials } = o.auth;
        await this.#login(credentials, { ...call, mechanism });
      }
      return greeting;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  #reset(): void {
    this.#welcome = undefined;
    this.#heloReply = undefined;
    this.#esmtp = false;
    this.#features = new Map();
    this.#authenticated = false;
    this.#rcptAccepted = 0;
  }

  /** Read one reply, log it, map disconnects and 421. */
  async #read(d: Deadline): Promise<SmtpReply> {
    const ch = this.#channel();
    let reply: SmtpReply;
    try {
      reply = await readSmtpReply(ch.reader, d, {
        maxLines: this.#opts.maxReplyLines ?? 10_000,
        maxBytes: this.#opts.maxReplyBytes ?? 1 << 20,
      }, ch.abort);
    } catch (err) {
      throw this.#mapError(err);
    }
    if (ch.logging) {
      reply.lines.forEach((line, i) =>
        ch.log(
          "server",
          `${reply.code}${i === reply.lines.length - 1 ? " " : "-"}${line}`,
        )
      );
    }
    if (reply.code === 421) {
      await this.close();
      throw new SmtpServiceClosingError(
        "server is closing the connection",
        reply,
      );
    }
    return reply;
  }

  #mapError(err: unknown): unknown {
    if (err instanceof ConnectionClosedError) {
      void this.close();
      return new SmtpServerDisconnectedError(err.message, { cause: err });
    }
    if (err instanceof MailwireError) void this.close();
    return err;
  }

  /** Send lines (and extra bytes) in one write; `log` replaces them in the transcript. */
  async #send(
    lines: readonly string[],
    d: Deadline,
    extra: readonly Uint8Array[] = [],
    log?: readonly string[],
  ): Promise<void> {
    const ch = this.#channel();
    try {
      await ch.sendCommands(lines, d, { extra, log });
    } catch (err) {
      throw this.#mapError(err);
    }
  }

  async #cmd(line: string, d: Deadline): Promise<SmtpReply> {
    await this.#send([line], d);
    return this.#read(d);
  }

  /** Send a command if connected and ignore the outcome (RSET after a failure, polite QUIT). */
  async #quietly(line: string, d: Deadline): Promise<void> {
    if (!this.connected) return;
    try {
      await this.#cmd(line, d);
    } catch { /* best effort */ }
  }

  /**
   * Send a command line and return the reply, whatever its code
   * (smtplib's `docmd`). CR, LF and NUL are refused, and so are AUTH,
   * STARTTLS, DATA, BDAT and QUIT: they change the session's state, so they
   * go through `login()`/`auth()`, `startTls()`, `sendMail()`/`data()`/`bdat()`
   * and `quit()`, which keep TLS-before-AUTH, redaction and reply matching.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * const reply = await client.command("NOOP");
   * console.log(reply.code); // 250
   * ```
   */
  command(line: string, call?: CallOptions): Promise<SmtpReply> {
    return this.#serial(call?.signal, () => this.#command(line, call));
  }

  async #command(line: string, call?: CallOptions): Promise<SmtpReply> {
    assertSafe(line, "command");
    const verb = /^\s*(\S+)/.exec(line)?.[1]?.toUpperCase() ?? "";
    const instead = RAW_REFUSED[verb];
    if (instead) {
      // These change the session's state (TLS, authentication, message
      // data): sent raw they would bypass mailwire's checks or desync it.
      throw new InvalidInputError(
        `command() does not send ${verb}; use ${instead} instead`,
      );
    }
    return await this.#cmd(line, this.#deadline(call));
  }

  /**
   * Send EHLO (LHLO for LMTP) and record the features. Returns the reply whatever its code.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * const reply = await client.ehlo("me.example.com");
   * console.log(reply.code, client.hasExtension("PIPELINING")); // 250 true
   * ```
   */
  ehlo(name?: string, call?: CallOptions): Promise<SmtpReply> {
    return this.#serial(call?.signal, () => this.#ehlo(name, call));
  }

  async #ehlo(name?: string, call?: CallOptions): Promise<SmtpReply> {
    const local = name ?? this.#opts.localName ?? "localhost";
    assertSafe(local, "local name");
    const reply = await this.#cmd(
      `${this.#lmtp ? "LHLO" : "EHLO"} ${local}`,
      this.#deadline(call),
    );
    this.#heloReply = reply;
    this.#features = new Map();
    this.#esmtp = reply.code === 250;
    if (this.#esmtp) {
      for (const line of reply.lines.slice(1)) {
        const m = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:[ =](.*))?$/.exec(line.trim());
        if (!m) continue;
        const key = m[1].toUpperCase();
        const params = (m[2] ?? "").trim();
        if (key === "AUTH" && this.#features.has("AUTH")) {
          // AUTH=PLAIN LOGIN (old form) and AUTH PLAIN LOGIN: merge
          const merged = new Set(
            `${this.#features.get("AUTH")} ${params}`.split(/\s+/).filter(
              Boolean,
            ),
          );
          this.#features.set("AUTH", [...merged].join(" "));
        } else {
          this.#features.set(key, params);
        }
      }
    }
    return reply;
  }

  /**
   * Send HELO. Returns the reply whatever its code. Not available in LMTP.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * const reply = await client.helo("me.example.com");
   * console.log(reply.code, client.esmtp); // 250 false
   * ```
   */
  helo(name?: string, call?: CallOptions): Promise<SmtpReply> {
    return this.#serial(call?.signal, () => this.#helo(name, call));
  }

  async #helo(name?: string, call?: CallOptions): Promise<SmtpReply> {
    if (this.#lmtp) throw new SmtpNotSupportedError("lmtp has no helo");
    const local = name ?? this.#opts.localName ?? "localhost";
    assertSafe(local, "local name");
    const reply = await this.#cmd(`HELO ${local}`, this.#deadline(call));
    this.#heloReply = reply;
    this.#esmtp = false;
    this.#features = new Map();
    return reply;
  }

  /**
   * EHLO, falling back to HELO when the server refuses EHLO, unless already
   * done on this connection. Throws {@linkcode SmtpHeloError} if both fail.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * await client.ehloOrHelo(); // nothing sent: connect() already greeted
   * console.log(client.heloReply?.code); // 250
   * ```
   */
  ehloOrHelo(call?: CallOptions): Promise<void> {
    return this.#serial(call?.signal, () => this.#ehloOrHelo(call));
  }

  async #ehloOrHelo(call?: CallOptions): Promise<void> {
    if (
      this.#heloReply && this.#heloReply.code >= 200 &&
      this.#heloReply.code < 300
    ) {
      return;
    }
    const ehlo = await this.#ehlo(undefined, call);
    if (ehlo.code >= 200 && ehlo.code < 300) return;
    if (this.#lmtp) throw new SmtpHeloError("lhlo refused", ehlo);
    const helo = await this.#helo(undefined, call);
    if (helo.code < 200 || helo.code >= 300) {
      throw new SmtpHeloError("helo refused", helo);
    }
  }

  /**
   * Upgrade to TLS with STARTTLS, then EHLO again (every capability learned
   * in clear is forgotten). Bytes the server sent before the handshake are
   * an injection: the connection is closed and a ProtocolError thrown.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com", tls: "none" });
   * await client.startTls({ servername: "smtp.example.com" });
   * console.log(client.secure); // true
   * ```
   */
  startTls(options: TlsOptions = {}, call?: CallOptions): Promise<SmtpReply> {
    return this.#serial(call?.signal, () => this.#startTls(options, call));
  }

  async #startTls(
    options: TlsOptions = {},
    call?: CallOptions,
  ): Promise<SmtpReply> {
    await this.#ehloOrHelo(call);
    if (this.secure) throw new SmtpError("tls is already active");
    if (!this.hasExtension("STARTTLS")) {
      throw new SmtpNotSupportedError("server does not offer starttls");
    }
    const d = this.#deadline(call);
    const reply = await this.#cmd("STARTTLS", d);
    if (reply.code !== 220) {
      await this.close();
      throw new SmtpNotSupportedError(
        `server refused starttls: ${reply.code} ${reply.text}`,
        { cause: new SmtpResponseError("starttls refused", reply) },
      );
    }
    const ch = this.#channel();
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
    this.#heloReply = undefined;
    this.#features = new Map();
    this.#esmtp = false;
    await this.#ehloOrHelo(call);
    return reply;
  }

  /**
   * Log in with a username and password, choosing the strongest mechanism
   * the server offers (CRAM-MD5, PLAIN, LOGIN), or the one given. Refuses
   * to send credentials without TLS unless `allowInsecureAuth` is set. A
   * failure is final: no weaker mechanism is tried with the same secret.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * const reply = await client.login("me@example.com", "app-password");
   * console.log(reply?.code, client.authenticated); // 235 true
   * ```
   */
  login(
    username: string,
    password: string,
    options?: LoginOptions,
  ): Promise<SmtpReply | undefined> {
    return this.#serial(
      options?.signal,
      () => this.#login({ username, password }, options),
    );
  }

  /**
   * Log in with an OAuth 2 access token (XOAUTH2, or OAUTHBEARER).
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * const accessToken = "ya29.a0Af..."; // from your OAuth 2 provider
   * await client.loginWithToken("me@gmail.com", accessToken);
   * ```
   */
  loginWithToken(
    username: string,
    accessToken: string,
    options?: LoginOptions,
  ): Promise<SmtpReply | undefined> {
    return this.#serial(
      options?.signal,
      () => this.#login({ username, accessToken }, options),
    );
  }

  async #login(
    credentials: Credentials,
    options: LoginOptions = {},
  ): Promise<SmtpReply | undefined> {
    // Before a byte is sent (EHLO included); the mechanism checks the rest.
    for (
      const key of ["username", "password", "accessToken", "authzid"] as const
    ) {
      const value = credentials[key];
      if (value !== undefined) assertSafe(value, key);
    }
    await this.#ehloOrHelo(options);
    if (!this.hasExtension("AUTH")) {
      throw new SmtpNotSupportedError("server does not offer auth");
    }
    const offered = (this.#features.get("AUTH") ?? "").split(/\s+/).filter(
      Boolean,
    );
    const secure = this.secure;
    let mechanism: SaslMechanism;
    if (options.mechanism) {
      if (!secure && !this.#opts.allowInsecureAuth) {
        throw new AuthError(
          "refusing to send credentials without tls; set allowInsecureAuth to override",
        );
      }
      mechanism = createMechanism(
        options.mechanism,
        credentials,
        this.#opts.mechanisms,
      );
    } else {
      mechanism = chooseMechanism(offered, credentials, {
        secure,
        allowInsecureAuth: this.#opts.allowInsecureAuth,
        preference: options.preference,
        custom: this.#opts.mechanisms,
      });
    }
    return this.#auth(mechanism, options);
  }

  /**
   * Authenticate with any SASL mechanism object (smtplib's `auth`). The
   * transcript shows the mechanism name, never the exchanged data.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * import { PlainMechanism } from "@mailwire/mailwire/auth";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * const mechanism = new PlainMechanism({ username: "me", password: "secret" });
   * const reply = await client.auth(mechanism);
   * console.log(reply?.code); // 235
   * ```
   */
  auth(
    mechanism: SaslMechanism,
    options: LoginOptions = {},
  ): Promise<SmtpReply | undefined> {
    return this.#serial(options?.signal, () => this.#auth(mechanism, options));
  }

  async #auth(
    mechanism: SaslMechanism,
    options: LoginOptions = {},
  ): Promise<SmtpReply | undefined> {
    if (this.#authenticated) {
      throw new SmtpError("already authenticated");
    }
    if (!this.secure && !this.#opts.allowInsecureAuth) {
      throw new AuthError(
        "refusing to send credentials without tls; set allowInsecureAuth to override",
      );
    }
    const d = this.#deadline(options);
    let last: SmtpReply | undefined;
    const step = (reply: SmtpReply) => {
      last = reply;
      if (reply.code === 235) return { done: true } as const;
      if (reply.code === 334) {
        return { done: false, challenge: reply.lines[0] ?? "" } as const;
      }
      throw new SmtpAuthenticationError("authentication failed", reply);
    };
    const exchange = authenticate(mechanism, {
      begin: async (name, initial) => {
        const line = initial === undefined
          ? `AUTH ${name}`
          : `AUTH ${name} ${initial}`;
        await this.#send([line], d, [], [
          initial === undefined ? line : `AUTH ${name} <redacted>`,
        ]);
        return step(await this.#read(d));
      },
      respond: async (line) => {
        await this.#send([line], d, [], [line === "*" ? "*" : "<redacted>"]);
        return step(await this.#read(d));
      },
    }, {
      initialResponse: options.initialResponse ?? true,
      // RFC 4954 §4: an AUTH line with its initial response stays within
      // 512 octets (with CRLF); longer responses wait for the challenge.
      maxInitialLine: 510,
    });
    try {
      await exchange;
    } catch (err) {
      // A broken exchange (bad challenge, success too early) leaves the
      // session's state unknown: the server may even think we logged in.
      if (err instanceof AuthError) await this.close();
      throw err;
    }
    this.#authenticated = true;
    return last;
  }

  /**
   * VRFY an address (smtplib's `verify`). Returns the reply whatever its code.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * const reply = await client.verify("postmaster");
   * console.log(reply.code); // 250, or 252: cannot verify, will try
   * ```
   */
  verify(address: string, call?: CallOptions): Promise<SmtpReply> {
    return this.#serial(call?.signal, async () => {
      assertSafe(address, "address");
      return await this.#cmd(`VRFY ${address}`, this.#deadline(call));
    });
  }

  /**
   * EXPN a mailing list. Returns the reply whatever its code.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * const reply = await client.expn("staff");
   * if (reply.code === 250) console.log(reply.lines); // one member per line
   * ```
   */
  expn(list: string, call?: CallOptions): Promise<SmtpReply> {
    return this.#serial(call?.signal, async () => {
      assertSafe(list, "list name");
      return await this.#cmd(`EXPN ${list}`, this.#deadline(call));
    });
  }

  /**
   * HELP, optionally on a topic. Returns the reply whatever its code.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * const reply = await client.help("MAIL");
   * console.log(reply.text);
   * ```
   */
  help(topic?: string, call?: CallOptions): Promise<SmtpReply> {
    return this.#serial(call?.signal, async () => {
      if (topic !== undefined) assertSafe(topic, "help topic");
      return await this.#cmd(
        topic ? `HELP ${topic}` : "HELP",
        this.#deadline(call),
      );
    });
  }

  /**
   * NOOP.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * const reply = await client.noop();
   * console.log(reply.code); // 250
   * ```
   */
  noop(call?: CallOptions): Promise<SmtpReply> {
    return this.#serial(
      call?.signal,
      () => this.#cmd("NOOP", this.#deadline(call)),
    );
  }

  /**
   * RSET: abort the current mail transaction.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * await client.mail("me@example.com");
   * await client.rset(); // forget the sender, start over
   * ```
   */
  rset(call?: CallOptions): Promise<SmtpReply> {
    return this.#serial(call?.signal, () => {
      this.#rcptAccepted = 0;
      return this.#cmd("RSET", this.#deadline(call));
    });
  }

  /**
   * MAIL FROM with parameters. Returns the reply whatever its code.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * const reply = await client.mail("me@example.com");
   * if (reply.code !== 250) await client.rset();
   * ```
   */
  mail(
    from: string,
    options: MailOptions = {},
    call?: CallOptions,
  ): Promise<SmtpReply> {
    return this.#serial(call?.signal, () => this.#mail(from, options, call));
  }

  async #mail(
    from: string,
    options: MailOptions,
    call?: CallOptions,
  ): Promise<SmtpReply> {
    validateAddress(from, "sender", true);
    for (const p of options.params ?? []) assertSafe(p, "mail parameter");
    await this.#ehloOrHelo(call);
    const line = this.#mailLine(from, options, undefined, undefined);
    this.#rcptAccepted = 0;
    return await this.#cmd(line, this.#deadline(call));
  }

  /**
   * RCPT TO with parameters. Returns the reply whatever its code.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * await client.mail("me@example.com");
   * const reply = await client.rcpt("you@example.com");
   * console.log(reply.code); // 250, or 251: will forward
   * ```
   */
  rcpt(
    to: string,
    options: RcptOptions = {},
    call?: CallOptions,
  ): Promise<SmtpReply> {
    return this.#serial(call?.signal, () => this.#rcpt(to, options, call));
  }

  async #rcpt(
    to: string,
    options: RcptOptions,
    call?: CallOptions,
  ): Promise<SmtpReply> {
    const line = this.#rcptLine({ address: to, ...options }, {});
    const reply = await this.#cmd(line, this.#deadline(call));
    if (ok(reply)) this.#rcptAccepted++;
    return reply;
  }

  /**
   * DATA: send the message (dot-stuffed, CRLF-normalised, terminated) and
   * return the final reply. Throws {@linkcode SmtpDataError} if DATA or the
   * message is refused. LMTP: one reply is read per recipient accepted by
   * `rcpt()`; any failed delivery is an SmtpDataError (use `sendMail` for
   * per-recipient results).
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * await client.mail("me@example.com");
   * await client.rcpt("you@example.com");
   * const reply = await client.data("Subject: hi\r\n\r\nHello\r\n");
   * console.log(reply.code); // 250
   * ```
   */
  data(data: MessageData, call?: CallOptions): Promise<SmtpReply> {
    return this.#serial(call?.signal, () => this.#data(data, call));
  }

  async #data(data: MessageData, call?: CallOptions): Promise<SmtpReply> {
    checkData(data);
    const d = this.#deadline(call);
    const reply = await this.#cmd("DATA", d);
    if (reply.code !== 354) throw new SmtpDataError("data refused", reply);
    await this.#sendBody(data, call);
    const replies = await this.#finalReplies(this.#repliesOwed(), call);
    const failed = replies.find((r) => r.code !== 250);
    if (failed) throw new SmtpDataError("message refused", failed);
    return replies[replies.length - 1];
  }

  /** Replies after the end of data: one, or in LMTP one per accepted RCPT. */
  #repliesOwed(): number {
    const owed = this.#lmtp ? Math.max(1, this.#rcptAccepted) : 1;
    this.#rcptAccepted = 0;
    return owed;
  }

  /**
   * BDAT (CHUNKING, RFC 3030): send one chunk as is (no dot-stuffing).
   * With `last`, returns the final reply (LMTP: one is read per recipient
   * accepted by `rcpt()`, and the first failed one, else the last, is
   * returned). Returns the reply whatever its code.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * const encoder = new TextEncoder();
   * await client.mail("me@example.com");
   * await client.rcpt("you@example.com");
   * await client.bdat(encoder.encode("Subject: hi\r\n\r\n"));
   * const reply = await client.bdat(encoder.encode("Hello\r\n"), { last: true });
   * console.log(reply.code); // 250
   * ```
   */
  bdat(
    chunk: Uint8Array,
    options: { last?: boolean } & CallOptions = {},
  ): Promise<SmtpReply> {
    return this.#serial(options?.signal, () => this.#bdat(chunk, options));
  }

  async #bdat(
    chunk: Uint8Array,
    options: { last?: boolean } & CallOptions,
  ): Promise<SmtpReply> {
    if (!this.hasExtension("CHUNKING")) {
      throw new SmtpNotSupportedError("server does not offer chunking");
    }
    const d = this.#deadline(options);
    const line = `BDAT ${chunk.length}${options.last ? " LAST" : ""}`;
    await this.#send([line], d, [chunk]);
    if (!options.last || !this.#lmtp) return await this.#read(d);
    const replies: SmtpReply[] = [];
    for (let i = this.#repliesOwed(); i > 0; i--) {
      replies.push(await this.#read(d));
    }
    return replies.find((r) => r.code !== 250) ?? replies[replies.length - 1];
  }

  #mailLine(
    from: string,
    options: MailOptions,
    size: number | undefined,
    eightBit: boolean | undefined,
  ): string {
    validateAddress(from, "sender", true);
    const params: string[] = [];
    const declared = options.size ?? size;
    if (
      declared !== undefined &&
      !(Number.isSafeInteger(declared) && declared >= 0)
    ) {
      throw new InvalidInputError("size must be a non-negative integer");
    }
    if (
      options.body !== undefined &&
      !["7BIT", "8BITMIME", "BINARYMIME"].includes(options.body)
    ) {
      throw new InvalidInputError("body must be 7BIT, 8BITMIME or BINARYMIME");
    }
    if (
      options.ret !== undefined && options.ret !== "FULL" &&
      options.ret !== "HDRS"
    ) {
      throw new InvalidInputError("ret must be FULL or HDRS");
    }
    const limit = this.#features.get("SIZE");
    if (declared !== undefined && limit !== undefined) {
      const max = Number(limit);
      if (max > 0 && declared > max) {
        throw new SmtpNotSupportedError(
          `message of ${declared} bytes exceeds the server's size limit of ${max} bytes`,
        );
      }
      params.push(`SIZE=${declared}`);
    }
    let body = options.body;
    if (body === undefined && eightBit) {
      // RFC 6152: 8-bit data only to a server that said it takes it.
      if (!this.hasExtension("8BITMIME")) {
        throw new SmtpNotSupportedError(
          "the message has 8-bit bytes but the server does not offer 8bitmime; " +
            'encode it (quoted-printable, base64) or set body: "7BIT" to send it anyway',
        );
      }
      body = "8BITMIME";
    }
    // BODY=7BIT is the default; without 8BITMIME the parameter is unknown.
    if (body === "7BIT" && !this.hasExtension("8BITMIME")) body = undefined;
    if (body) {
      const ext = body === "BINARYMIME"
        ? "BINARYMIME"
        : body === "8BITMIME"
        ? "8BITMIME"
        : undefined;
      if (ext && !this.hasExtension(ext)) {
        throw new SmtpNotSupportedError(
          `server does not offer ${ext.toLowerCase()}`,
        );
      }
      params.push(`BODY=${body}`);
    }
    if (options.smtputf8) {
      if (!this.hasExtension("SMTPUTF8")) {
        throw new SmtpNotSupportedError(
          "server does not offer smtputf8, needed for a non-ascii address",
        );
      }
      params.push("SMTPUTF8");
    }
    if (options.ret !== undefined || options.envid !== undefined) {
      this.#need("DSN", "dsn");
      if (options.ret) params.push(`RET=${options.ret}`);
      if (options.envid !== undefined) {
        params.push(`ENVID=${xtext(options.envid)}`);
      }
    }
    if (options.requireTls) {
      this.#need("REQUIRETLS", "requiretls");
      if (!this.secure) {
        throw new SmtpNotSupportedError("requiretls needs a tls connection");
      }
      params.push("REQUIRETLS");
    }
    for (const p of options.params ?? []) {
      assertSafe(p, "mail parameter");
      params.push(p);
    }
    return `MAIL FROM:<${from}>${params.length ? " " + params.join(" ") : ""}`;
  }

  #rcptLine(
    rcpt: { address: string } & RcptOptions,
    common: RcptOptions,
  ): string {
    validateAddress(rcpt.address, "recipient", false);
    const params: string[] = [];
    const notify = rcpt.notify ?? common.notify;
    const orcpt = rcpt.orcpt ?? common.orcpt;
    if (notify !== undefined || orcpt !== undefined) this.#need("DSN", "dsn");
    if (notify !== undefined) {
      const valid = notify === "NEVER" || (
        Array.isArray(notify) && notify.length > 0 &&
        new Set(notify).size === notify.length &&
        notify.every((n) => n === "SUCCESS" || n === "FAILURE" || n === "DELAY")
      );
      if (!valid) {
        throw new InvalidInputError(
          "notify must be NEVER or a list of SUCCESS, FAILURE, DELAY",
        );
      }
      params.push(`NOTIFY=${notify === "NEVER" ? "NEVER" : notify.join(",")}`);
    }
    if (orcpt !== undefined) params.push(`ORCPT=rfc822;${xtext(orcpt)}`);
    for (const p of [...(common.params ?? []), ...(rcpt.params ?? [])]) {
      assertSafe(p, "rcpt parameter");
      params.push(p);
    }
    return `RCPT TO:<${rcpt.address}>${
      params.length ? " " + params.join(" ") : ""
    }`;
  }

  #need(ext: string, name: string): void {
    if (!this.hasExtension(ext)) {
      throw new SmtpNotSupportedError(`server does not offer ${name}`);
    }
  }

  /**
   * Send one message (smtplib's `sendmail`). Uses one write for MAIL, every
   * RCPT and DATA when PIPELINING is offered, and BDAT for in-memory
   * messages when CHUNKING is offered too (one round trip per message).
   *
   * Returns the refused recipients on partial success. Throws
   * {@linkcode SmtpSenderRefusedError}, {@linkcode SmtpRecipientsRefusedError}
   * (nothing sent) or {@linkcode SmtpDataError}; after a refusal the
   * transaction is reset so the connection stays usable. A connection lost
   * after the end of data is {@linkcode SmtpOutcomeUnknownError}.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * const { accepted, refused } = await client.sendMail({
   *   from: "me@example.com",
   *   to: ["you@example.com", "them@example.com"],
   *   data: "From: me@example.com\r\nSubject: hi\r\n\r\nHello\r\n",
   * });
   * console.log(accepted, refused.size); // ["you@example.com", "them@example.com"] 0
   * ```
   */
  sendMail(options: SendMailOptions): Promise<SendResult> {
    return this.#serial(options?.signal, () => this.#sendMail(options));
  }

  async #sendMail(options: SendMailOptions): Promise<SendResult> {
    const data = options.data;
    checkData(data);
    let parts: Uint8Array[] | undefined;
    if (typeof data === "string") parts = [encoder.encode(data)];
    else if (data instanceof Uint8Array) parts = [data];
    else if (!(data instanceof ReadableStream)) {
      throw new InvalidInputError(
        "data must be a string, a Uint8Array or a ReadableStream",
      );
    }
    return await this.#transaction(
      options.from,
      Array.isArray(options.to) ? options.to : [options.to],
      parts ?? (data as ReadableStream<Uint8Array>),
      options,
      typeof data === "string" ? NON_ASCII.test(data) : undefined,
    );
  }

  /**
   * Send a complete RFC 5322 message, taking the envelope from its headers
   * (smtplib's `send_message`): sender from `Sender` or `From`, recipients
   * from `To`, `Cc` and `Bcc`, or from a single `Resent-*` block. `Bcc` and
   * `Resent-Bcc` are removed before sending. SMTPUTF8 is used when an
   * address needs it, and is an error when the server lacks it.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * const { accepted } = await client.sendMessage(
   *   "From: me@example.com\r\nTo: you@example.com\r\nBcc: boss@example.com\r\n" +
   *     "Subject: hi\r\n\r\nHello\r\n",
   * );
   * console.log(accepted); // ["you@example.com", "boss@example.com"]; no Bcc line sent
   * ```
   */
  sendMessage(
    message: string | Uint8Array,
    options: SendMessageOptions = {},
  ): Promise<SendResult> {
    return this.#serial(
      options?.signal,
      () => this.#sendMessage(message, options),
    );
  }

  async #sendMessage(
    message: string | Uint8Array,
    options: SendMessageOptions,
  ): Promise<SendResult> {
    const bytes = typeof message === "string"
      ? encoder.encode(message)
      : message;
    const env = envelopeFromMessage(bytes, {
      from: options.from,
      to: options.to,
    });
    const mailOptions = { ...options.mailOptions };
    if (env.international) mailOptions.smtputf8 = true;
    return await this.#transaction(env.from, env.to, env.parts, {
      ...options,
      mailOptions,
    }, typeof message === "string" ? NON_ASCII.test(message) : undefined);
  }

  async #transaction(
    from: string,
    recipients: Recipient[],
    body: Uint8Array[] | ReadableStream<Uint8Array>,
    options: CallOptions & {
      mailOptions?: MailOptions;
      rcptOptions?: RcptOptions;
    },
    eightBitHint: boolean | undefined,
  ): Promise<SendResult> {
    if (recipients.length === 0) throw new InvalidInputError("no recipients");
    const rcpts = recipients.map((r) =>
      typeof r === "string" ? { address: r } : r
    );
    // Refuse bad input before a byte is sent (EHLO included).
    validateAddress(from, "sender", true);
    for (const p of options.mailOptions?.params ?? []) {
      assertSafe(p, "mail parameter");
    }
    for (const r of rcpts) validateAddress(r.address, "recipient", false);
    for (const r of [options.rcptOptions ?? {}, ...rcpts]) {
      for (const p of r.params ?? []) assertSafe(p, "rcpt parameter");
    }
    const d = this.#deadline(options);
    await this.#ehloOrHelo(options);
    const mailOptions: MailOptions = { ...options.mailOptions };
    const international = [from, ...rcpts.map((r) => r.address)].some((a) =>
      NON_ASCII.test(a)
    );
    if (international) mailOptions.smtputf8 = true;
    const inMemory = Array.isArray(body);
    const useBdat = inMemory && (this.#opts.chunking ?? true) &&
      this.hasExtension("CHUNKING") && this.hasExtension("PIPELINING") &&
      (this.#opts.pipelining ?? true);
    let payload: Uint8Array[] | undefined;
    let size: number | undefined; // bytes on the wire
    let messageSize: number | undefined; // RFC 1870: without stuffing and end marker
    let eightBit: boolean | undefined;
    if (inMemory) {
      // One pass: CRLF-normalise (and dot-stuff for DATA), note 8-bit bytes.
      const enc = new DotStuffer(!useBdat);
      payload = (body as Uint8Array[]).map((p) => enc.push(p));
      const tail = enc.end();
      payload.push(tail);
      payload = payload.filter((p) => p.length > 0);
      size = payload.reduce((n, p) => n + p.length, 0);
      // The end marker is ".\r\n"; a CRLF before it belongs to the message.
      messageSize = useBdat ? size : size - 3 - enc.dotsAdded;
      if (mailOptions.body === undefined) {
        eightBit = eightBitHint ?? enc.eightBit;
      }
    }
    // Validate and build every line before sending a byte.
    const mailLine = this.#mailLine(from, mailOptions, messageSize, eightBit);
    const rcptLines = rcpts.map((r) =>
      this.#rcptLine(r, options.rcptOptions ?? {})
    );
    const pipelining = (this.#opts.pipelining ?? true) &&
      this.hasExtension("PIPELINING");
    const refused = new Map<string, SmtpReply>();
    const accepted: string[] = [];
    const ch = this.#channel();

    const sortReplies = (replies: SmtpReply[]) =>
      replies.forEach((r, i) => {
        if (ok(r)) accepted.push(rcpts[i].address);
        else refused.set(rcpts[i].address, r);
      });
    const checkEnvelope = async (mail: SmtpReply) => {
      if (mail.code !== 250) {
        await this.#quietly("RSET", d);
        throw new SmtpSenderRefusedError(from, mail);
      }
      if (accepted.length === 0) {
        await this.#quietly("RSET", d);
        throw new SmtpRecipientsRefusedError(refused);
      }
    };
    const readEnvelope = async () => {
      const mail = await this.#read(d);
      const replies = [];
      for (let i = 0; i < rcptLines.length; i++) {
        replies.push(await this.#read(d));
      }
      sortReplies(replies);
      return mail;
    };

    if (useBdat) {
      const bdatLine = `BDAT ${size} LAST`;
      const logLines = [
        ...rcptLines,
        `${bdatLine} <${size} bytes of message data>`,
      ];
      if (size! > TWO_PHASE_LIMIT) {
        // Large: learn the envelope's fate before sending megabytes.
        await this.#send([mailLine, ...rcptLines], d);
        await checkEnvelope(await readEnvelope());
        await this.#send([bdatLine], d, [], [logLines[logLines.length - 1]]);
        await this.#sendSlices(payload!, options);
        return this.#finishData(accepted, refused, options);
      }
      // One write, one round trip: MAIL, RCPTs, BDAT LAST and the message.
      await this.#send([mailLine, ...rcptLines, bdatLine], d, payload!, [
        mailLine,
        ...logLines,
      ]);
      let mail: SmtpReply;
      try {
        mail = await readEnvelope();
      } catch (err) {
        // The whole message is out; a server that buffers its pipelined
        // replies may have taken it before the connection was lost.
        throw await this.#outcomeUnknown(err);
      }
      if (mail.code !== 250 || accepted.length === 0) {
        await this.#read(d); // the server consumed and refused the chunk
        await checkEnvelope(mail);
      }
      return this.#finishData(accepted, refused, options, d);
    }

    let mail: SmtpReply;
    const replies: SmtpReply[] = [];
    let dataReply: SmtpReply;
    if (pipelining) {
      await this.#send([mailLine, ...rcptLines, "DATA"], d);
      mail = await readEnvelope();
      dataReply = await this.#read(d);
      if (
        dataReply.code === 354 && (mail.code !== 250 || accepted.length === 0)
      ) {
        // A server that accepted DATA without a valid envelope: end it empty.
        await this.#send(["."], d);
        await this.#read(d);
      }
      await checkEnvelope(mail);
    } else {
      mail = await this.#cmd(mailLine, d);
      if (mail.code !== 250) await checkEnvelope(mail);
      for (const line of rcptLines) replies.push(await this.#cmd(line, d));
      sortReplies(replies);
      await checkEnvelope(mail);
      dataReply = await this.#cmd("DATA", d);
    }
    if (dataReply.code !== 354) {
      await this.#quietly("RSET", d);
      throw new SmtpDataError("data refused", dataReply);
    }
    if (payload) {
      if (ch.logging) ch.log("client", `<${size} bytes of message data>`);
      await this.#sendSlices(payload, options);
    } else {
      await this.#sendBody(body as ReadableStream<Uint8Array>, options);
    }
    return this.#finishData(accepted, refused, options);
  }

  async #finishData(
    accepted: string[],
    refused: Map<string, SmtpReply>,
    call: CallOptions,
    d?: Deadline,
  ): Promise<SendResult> {
    const count = this.#lmtp ? accepted.length : 1;
    const replies = await this.#finalReplies(count, call, d);
    if (!this.#lmtp) {
      const reply = replies[0];
      if (reply.code !== 250) {
        await this.#quietly("RSET", this.#deadline(call));
        throw new SmtpDataError("message refused", reply);
      }
      return { reply, accepted, refused };
    }
    const deliveries = new Map<string, SmtpReply>();
    const delivered: string[] = [];
    replies.forEach((r, i) => {
      deliveries.set(accepted[i], r);
      if (r.code === 250) delivered.push(accepted[i]);
      else refused.set(accepted[i], r);
    });
    if (delivered.length === 0) throw new SmtpRecipientsRefusedError(refused);
    return {
      reply: replies[replies.length - 1],
      accepted: delivered,
      refused,
      deliveries,
    };
  }

  /** Read the replies after the end of data; a lost connection means the outcome is unknown. */
  async #finalReplies(
    count: number,
    call?: CallOptions,
    d?: Deadline,
  ): Promise<SmtpReply[]> {
    const deadline = d ?? this.#deadline(call);
    const replies: SmtpReply[] = [];
    try {
      for (let i = 0; i < count; i++) replies.push(await this.#read(deadline));
    } catch (err) {
      throw await this.#outcomeUnknown(err);
    }
    return replies;
  }

  /**
   * Any failure other than a server reply once the whole message was sent
   * (disconnect, timeout, abort, a garbled reply): the server may have
   * queued the message, so the outcome is unknown.
   */
  async #outcomeUnknown(err: unknown): Promise<unknown> {
    if (
      !(err instanceof MailwireError) || err instanceof SmtpResponseError ||
      err instanceof SmtpOutcomeUnknownError
    ) {
      return err;
    }
    await this.close();
    return new SmtpOutcomeUnknownError(
      "the connection failed after the message was sent; it may have been delivered",
      { cause: err },
    );
  }

  /** Write in-memory parts; each slice of up to 1 MiB gets its own deadline. */
  async #sendSlices(parts: Uint8Array[], call: CallOptions): Promise<void> {
    const ch = this.#channel();
    let batch: Uint8Array[] = [];
    let size = 0;
    const flush = async () => {
      if (!batch.length) return;
      try {
        await ch.send(batch, this.#deadline(call), "sending message data");
      } catch (err) {
        throw this.#mapError(err);
      }
      batch = [];
      size = 0;
    };
    for (const part of parts) {
      for (let o = 0; o < part.length; o += BODY_SLICE) {
        const slice = part.subarray(o, Math.min(part.length, o + BODY_SLICE));
        batch.push(slice);
        size += slice.length;
        if (size >= BODY_SLICE) await flush();
      }
    }
    await flush();
  }

  /** Send a body after a 354: dot-stuffed and terminated, streamed when it's a stream. */
  async #sendBody(data: MessageData, call?: CallOptions): Promise<void> {
    const ch = this.#channel();
    if (typeof data === "string" || data instanceof Uint8Array) {
      const parts = stuff([
        typeof data === "string" ? encoder.encode(data) : data,
      ]);
      if (ch.logging) {
        ch.log(
          "client",
          `<${parts.reduce((n, p) => n + p.length, 0)} bytes of message data>`,
        );
      }
      return this.#sendSlices(parts, call ?? {});
    }
    const enc = new DotStuffer(true);
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    let total = 0;
    try {
      reader = data.getReader();
      for (;;) {
        const d = this.#deadline(call);
        const r = reader;
        const { done, value } = await d.race(
          r.read(),
          () => r.cancel().catch(() => {}),
          "reading message data",
        );
        if (done) break;
        if (!(value instanceof Uint8Array)) {
          throw new InvalidInputError(
            "message stream must yield Uint8Array chunks",
          );
        }
        const out = enc.push(value);
        total += out.length;
        if (out.length) {
          try {
            await ch.send([out], d, "sending message data");
          } catch (err) {
            throw this.#mapError(err);
          }
        }
      }
    } catch (err) {
      reader?.cancel(err).catch(() => {});
      // The server is waiting for the end of data: the session can't be saved.
      await this.close();
      throw err;
    } finally {
      reader?.releaseLock();
    }
    const tail = enc.end();
    if (ch.logging) {
      ch.log("client", `<${total + tail.length} bytes of message data>`);
    }
    try {
      await ch.send([tail], this.#deadline(call), "sending message data");
    } catch (err) {
      throw this.#mapError(err);
    }
  }

  /**
   * Send QUIT, read the reply, close. Never throws for a server that's already gone.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * const reply = await client.quit();
   * console.log(reply?.code, client.connected); // 221 false
   * ```
   */
  quit(call?: CallOptions): Promise<SmtpReply | undefined> {
    return this.#serial(call?.signal, () => this.#quit(call));
  }

  async #quit(call?: CallOptions): Promise<SmtpReply | undefined> {
    if (!this.connected) {
      await this.close();
      return undefined;
    }
    let reply: SmtpReply | undefined;
    try {
      reply = await this.#cmd("QUIT", this.#deadline(call));
    } catch (err) {
      if (!(err instanceof MailwireError)) throw err;
    } finally {
      await this.close();
    }
    return reply;
  }

  /**
   * Close the connection without QUIT (smtplib's `close`). Idempotent.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   * await client.close(); // no QUIT: the server just sees the connection end
   * console.log(client.connected); // false
   * ```
   */
  async close(): Promise<void> {
    const ch = this.#ch;
    if (!ch) return;
    this.#detach?.();
    this.#detach = undefined;
    if (!ch.closed) ch.log("info", "connection closed");
    await ch.close();
  }

  /**
   * `await using` support: QUIT (bounded) if connected, then close.
   *
   * @example
   * ```ts ignore
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * {
   *   await using client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   *   await client.noop();
   * } // QUIT sent (waiting at most 5 s), then closed
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.connected) {
      const t = this.#timeout;
      await this.quit({ timeout: t > 0 && t < 5000 ? t : 5000 });
    } else await this.close();
  }
}

/** Refuse message data that can't be sent, before a byte goes out. */
function checkData(data: MessageData): void {
  if (typeof data === "string" || data instanceof Uint8Array) return;
  if (!(data instanceof ReadableStream)) {
    throw new InvalidInputError(
      "data must be a string, a Uint8Array or a ReadableStream",
    );
  }
  if (data.locked) {
    throw new InvalidInputError(
      "the message stream is locked (already being read)",
    );
  }
}

/** Verbs `command()` refuses, with the method to use. */
const RAW_REFUSED: Record<string, string> = {
  AUTH: "login() or auth()",
  STARTTLS: "startTls()",
  DATA: "data() or sendMail()",
  BDAT: "bdat() or sendMail()",
  QUIT: "quit()",
};

function ok(r: SmtpReply): boolean {
  return r.code === 250 || r.code === 251;
}

function stuff(parts: Uint8Array[]): Uint8Array[] {
  const enc = new DotStuffer(true);
  const out = parts.map((p) => enc.push(p)).filter((p) => p.length);
  out.push(enc.end());
  return out;
}

/** RFC 3461 xtext: "+", "=" and bytes outside 33..126 as +XX. */
export function xtext(value: string): string {
  let out = "";
  for (const b of encoder.encode(value)) {
    out += b < 33 || b > 126 || b === 43 || b === 61
      ? "+" + b.toString(16).toUpperCase().padStart(2, "0")
      : String.fromCharCode(b);
  }
  return out;
}

const UNQUOTED_SPACE = /^(?:"(?:[^"\\]|\\.)*"|[^\s"])*$/;

function validateAddress(address: string, what: string, nullOk: boolean): void {
  assertSafe(address, what);
  if (address === "" && nullOk) return;
  if (address === "") throw new InvalidInputError(`${what} address is empty`);
  if (/[<>]/.test(address) || !UNQUOTED_SPACE.test(address)) {
    throw new InvalidInputError(
      `${what} address contains '<', '>' or unquoted white space`,
    );
  }
}
