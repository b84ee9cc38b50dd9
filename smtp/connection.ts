// SmtpConnection: the state and steps of one SMTP/LMTP session under SmtpClient (greeting, EHLO, STARTTLS, AUTH, replies).

import { chooseMechanism } from "../auth/choose_mechanism.ts";
import { createMechanism } from "../auth/create_mechanism.ts";
import type { Credentials, SaslMechanism } from "../auth/mechanism.ts";
import { AbortedError, InvalidInputError, MailwireError } from "../errors.ts";
import { stuffMessage } from "../io/dot.ts";
import type { Deadline } from "../io/deadline.ts";
import { checkOptions, type Spec } from "../io/options.ts";
import { saslExchange } from "../io/sasl.ts";
import {
  loginWithProvider,
  parseOAuthError,
  type TokenCredentials,
} from "../io/oauth.ts";
import { Session } from "../io/session.ts";
import { refuseInsecureAuth, sessionConfig } from "../io/client_options.ts";
import {
  isQuickLine,
  readSmtpReply,
  readSmtpReplyCode,
  type SmtpReply,
  takeQuickRun,
} from "../io/smtp_reply.ts";
import { checkCredentials } from "../auth/validate_credentials.ts";
import { assertCredentials, assertSafe } from "../io/validate.ts";
import type { TlsOptions } from "../tls/conn.ts";
import { defaultConnector } from "../tls/connect.ts";
import {
  accepts,
  checkData,
  isAscii,
  mailLine,
  parseEhlo,
  rcptLine,
  type ServerTraits,
} from "./commands.ts";
import { envelopeFromMessage } from "./envelope.ts";
import { type Dialect, dialectOf } from "./dialect.ts";
import {
  SmtpAuthenticationError,
  SmtpConnectError,
  SmtpDataError,
  SmtpError,
  SmtpHeloError,
  SmtpNotSupportedError,
  SmtpResponseError,
  SmtpServerDisconnectedError,
  SmtpServiceClosingError,
} from "./errors.ts";
import {
  type ResolvedSmtpOptions,
  resolveSmtpOptions,
  type SmtpClientOptions,
  type SmtpLoginOptions,
} from "./options.ts";
import {
  checkTransaction,
  finalReplies,
  sendBody,
  type Transaction,
  TWO_PHASE_LIMIT,
  type Wire,
} from "./transaction.ts";
import {
  type BatchMessage,
  type ComposedLike,
  DKIM_CHOICE,
  MailQueue,
} from "./many.ts";
import type {
  MailOptions,
  MessageData,
  RcptOptions,
  SendMailOptions,
  SendMessageOptions,
  SendOptions,
} from "./types.ts";
import type { ComposedMessage } from "../message/message.ts";
import { type DkimOptions, dkimSign } from "../message/dkim.ts";
import { composeForSend } from "./composed.ts";

/** A failed token login carries the server's decoded OAuth error (`err.oauth`). */
async function oauthErrors<T>(
  mechanism: SaslMechanism,
  exchange: Promise<T>,
): Promise<T> {
  try {
    return await exchange;
  } catch (err) {
    const text = (mechanism as { error?: unknown }).error;
    if (err instanceof SmtpAuthenticationError && typeof text === "string") {
      err.oauth = parseOAuthError(text);
    }
    throw err;
  }
}

/** Whether `m` looks like a composed message (envelope, stream, bytes). */
function isComposed(m: unknown): m is ComposedLike {
  return typeof m === "object" && m !== null && !(m instanceof Uint8Array) &&
    typeof (m as ComposedLike).stream === "function" &&
    typeof (m as ComposedLike).bytes === "function" &&
    typeof (m as ComposedLike).envelope === "object";
}

const encoder = new TextEncoder();

/** Keys of MAIL FROM options. @internal */
export const MAIL_SPEC: Spec = keys(
  "size",
  "body",
  "smtputf8",
  "ret",
  "envid",
  "requireTls",
  "params",
);
/** Keys of RCPT TO options. @internal */
export const RCPT_SPEC: Spec = keys("notify", "orcpt", "params");

const CALL = ["signal", "timeout"];
const SEND_MAIL_SPEC = keys(
  "from",
  "to",
  "data",
  "mailOptions",
  "rcptOptions",
  "onProgress",
  ...CALL,
);
const SEND_MESSAGE_SPEC = keys(
  "from",
  "to",
  "mailOptions",
  "rcptOptions",
  "onProgress",
  ...CALL,
);
/** A batch message: sendMail's keys or sendMessage's plus `message`; no per-message timeout. */
const BATCH_MAIL_SPEC = keys(
  "from",
  "to",
  "data",
  "mailOptions",
  "rcptOptions",
  "signal",
);
const BATCH_MESSAGE_SPEC = keys(
  "message",
  "from",
  "to",
  "mailOptions",
  "rcptOptions",
  "signal",
);
const BDAT_SPEC = keys("last", ...CALL);

/** A spec that only refuses unknown keys (the values are checked where they are used). @internal */
export function keys(...names: string[]): Spec {
  return Object.fromEntries(names.map((n) => [n, () => {}]));
}

/**
 * One client's connection state and the protocol steps the public methods
 * are made of. Each step takes the deadline of the public call it runs in.
 * @internal
 */
export class SmtpConnection {
  readonly o: ResolvedSmtpOptions;
  readonly dialect: Dialect;
  readonly session: Session;
  readonly wire: Wire;
  /** Every send goes through it (concurrent ones join one pipeline). */
  readonly mail: MailQueue;
  welcome: SmtpReply | undefined;
  heloReply: SmtpReply | undefined;
  esmtp = false;
  features: Map<string, string> = new Map();
  authenticated = false;
  /** RCPTs accepted since the last mail() (LMTP: replies owed after the data). */
  rcptAccepted = 0;
  /** Whether the last mail() carried SMTPUTF8. */
  mailSmtpUtf8 = false;

  /** `cls`: the client class being built (it decides the dialect and names the options). */
  constructor(options: SmtpClientOptions | undefined, cls: { name: string }) {
    this.dialect = dialectOf(cls);
    const o = resolveSmtpOptions(options, this.dialect, cls.name);
    this.o = o;
    this.session = new Session(
      sessionConfig(
        this.dialect.name,
        o,
        defaultConnector,
        (message, opts) => new SmtpServerDisconnectedError(message, opts),
      ),
    );
    this.wire = {
      session: this.session,
      dialect: this.dialect,
      traits: () => this.traits(),
      pipelining: () => o.pipelining && this.hasExtension("PIPELINING"),
      chunking: () =>
        o.chunking && o.pipelining && this.hasExtension("CHUNKING") &&
        this.hasExtension("PIPELINING"),
      greet: (d) => this.ehloOrHelo(d),
      send: (lines, d, extra, log) => this.send(lines, d, extra, log),
      read: (d, keep421) => this.read(d, keep421),
      readQuick: (d, quick) => this.readQuick(d, quick),
      readQuickRun: (quick, max) => this.readQuickRun(quick, max),
      write: (parts, d, log) =>
        this.session.io((ch) => {
          if (log && ch.logging) { for (const l of log) ch.log("client", l); }
          return ch.send(parts, d);
        }),
      quietly: (line, d) => this.quietly(line, d),
    };
    this.mail = new MailQueue({
      session: this.session,
      wire: this.wire,
      timeout: o.timeout,
    });
  }

  /** The transaction of one batch message (checked; nothing sent). */
  batchTransaction(
    m: BatchMessage,
  ): Transaction | (() => Promise<Transaction>) {
    if (m !== null && typeof m === "object" && "message" in m) {
      checkOptions(m, BATCH_MESSAGE_SPEC, "sendMany message");
      const { message, signal: _, [DKIM_CHOICE]: dkim, ...rest } = m as
        & typeof m
        & { [DKIM_CHOICE]?: DkimOptions | false };
      return this.messageTransaction(message, rest, dkim);
    }
    checkOptions(m, BATCH_MAIL_SPEC, "sendMany message");
    const { signal: _, ...rest } = (m ?? {}) as SendMailOptions;
    return this.mailTransaction(rest as SendMailOptions);
  }

  get connected(): boolean {
    return this.session.connected;
  }

  get secure(): boolean {
    return this.session.secure;
  }

  hasExtension(name: string): boolean {
    return this.features.has(name.toUpperCase());
  }

  /** Close without a goodbye and forget what this connection learned. */
  async close(): Promise<void> {
    this.forget();
    await this.session.close();
  }

  traits(): ServerTraits {
    return { features: this.features, secure: this.secure };
  }

  /** Open, greet, EHLO, STARTTLS and log in as the options say. */
  async connect(d: Deadline): Promise<SmtpReply> {
    if (this.connected) throw new SmtpError("already connected");
    const mode = this.o.tls;
    this.reset();
    return await this.session.establish(d, async () => {
      const greeting = await this.session.greeting(() => this.read(d), {
        implicitPort: 465,
        looksLike: /"(\+OK|-ERR)/,
        other: "this is a pop3 server; use Pop3Client",
      });
      this.welcome = greeting;
      if (greeting.code !== 220) {
        if (greeting.code === 554) await this.quietly("QUIT", d);
        throw new SmtpConnectError("server refused the connection", greeting);
      }
      await this.ehloOrHelo(d);
      if (mode === "starttls" || mode === "opportunistic") {
        if (this.hasExtension("STARTTLS")) {
          await this.startTls({}, d);
        } else if (mode === "starttls") {
          throw new SmtpNotSupportedError(
            'server does not offer starttls; refusing to continue without tls (tls: "implicit" if the port expects tls from the first byte, "opportunistic" or "none" to allow clear text)',
          );
        }
      }
      if (this.o.auth) {
        const { mechanism, ...credentials } = this.o.auth;
        await this.login(credentials, { mechanism }, d);
      }
      return greeting;
    }, () => this.close());
  }

  reset(): void {
    this.welcome = undefined;
    this.forget();
  }

  /** Forget what this connection learned (after a close, or a TLS upgrade). */
  forget(): void {
    this.heloReply = undefined;
    this.esmtp = false;
    this.features = new Map();
    this.authenticated = false;
    this.rcptAccepted = 0;
    this.mailSmtpUtf8 = false;
  }

  /** Read one reply and log it; a 421 closes and throws unless `keep421`. */
  async read(d: Deadline, keep421 = false): Promise<SmtpReply> {
    const o = this.o;
    const reply = await this.session.io((ch) =>
      readSmtpReply(ch.reader, d, {
        maxLines: o.maxReplyLines,
        maxBytes: o.maxReplyBytes,
      }, ch.abort)
    );
    const ch = this.session.channel;
    if (ch.logging) {
      const last = reply.lines.length - 1;
      reply.lines.forEach((line, i) =>
        ch.log("server", `${reply.code}${i === last ? " " : "-"}${line}`)
      );
    }
    if (reply.code === 421 && !keep421) {
      await this.close();
      throw new SmtpServiceClosingError(
        "server is closing the connection",
        reply,
      );
    }
    return reply;
  }

  /** A reply whose code alone is wanted when it is `quick` (see Wire.readQuick). */
  readQuick(
    d: Deadline,
    quick: number,
  ): number | SmtpReply | Promise<number | SmtpReply> {
    const ch = this.session.channel;
    if (ch.logging) return this.read(d, true);
    const line = ch.reader.tryReadLine();
    if (line !== null && isQuickLine(line, quick)) return quick;
    const o = this.o;
    return this.session.io((c) =>
      readSmtpReplyCode(
        c.reader,
        d,
        {
          maxLines: o.maxReplyLines,
          maxBytes: o.maxReplyBytes,
        },
        c.abort,
        quick,
        line ?? undefined,
      )
    );
  }

  /** Buffered `quick` replies taken in one go (see Wire.readQuickRun). */
  readQuickRun(quick: number, max: number): number {
    const ch = this.session.channel;
    if (ch.logging) return 0;
    const reader = ch.reader;
    // Longer lines go the usual way (and meet its caps there).
    const cap = Math.min(reader.maxLineLength, this.o.maxReplyBytes);
    return takeQuickRun(reader, quick, max, cap);
  }

  /** Send lines (and extra bytes) in one write; `log` replaces them in the transcript. */
  send(
    lines: readonly string[],
    d: Deadline,
    extra?: readonly Uint8Array[],
    log?: readonly string[],
  ): Promise<void> {
    return this.session.io((ch) => ch.sendCommands(lines, d, { extra, log }));
  }

  async cmd(line: string, d: Deadline): Promise<SmtpReply> {
    await this.send([line], d);
    return await this.read(d);
  }

  /** Send a command if connected and ignore the outcome (RSET after a failure, polite QUIT). */
  async quietly(line: string, d: Deadline): Promise<void> {
    if (!this.connected) return;
    try {
      await this.cmd(line, d);
    } catch { /* best effort */ }
  }

  async ehlo(name: string | undefined, d: Deadline): Promise<SmtpReply> {
    const local = name ?? this.o.localName;
    assertSafe(local, "local name");
    this.session.phase = this.dialect.hello.toLowerCase();
    const reply = await this.cmd(`${this.dialect.hello} ${local}`, d);
    this.heloReply = reply;
    this.esmtp = reply.code === 250;
    this.features = this.esmtp ? parseEhlo(reply) : new Map();
    return reply;
  }

  async helo(name: string | undefined, d: Deadline): Promise<SmtpReply> {
    if (!this.dialect.heloFallback) {
      throw new SmtpNotSupportedError(`${this.dialect.name} has no helo`);
    }
    const local = name ?? this.o.localName;
    assertSafe(local, "local name");
    this.session.phase = "helo";
    const reply = await this.cmd(`HELO ${local}`, d);
    this.heloReply = reply;
    this.esmtp = false;
    this.features = new Map();
    return reply;
  }

  async ehloOrHelo(d: Deadline): Promise<void> {
    const done = this.heloReply;
    if (done && done.code >= 200 && done.code < 300) return;
    const ehlo = await this.ehlo(undefined, d);
    if (ehlo.code >= 200 && ehlo.code < 300) return;
    if (!this.dialect.heloFallback) {
      throw new SmtpHeloError(
        `${this.dialect.hello.toLowerCase()} refused`,
        ehlo,
      );
    }
    const helo = await this.helo(undefined, d);
    if (helo.code < 200 || helo.code >= 300) {
      throw new SmtpHeloError("helo refused", helo);
    }
  }

  async startTls(options: TlsOptions, d: Deadline): Promise<SmtpReply> {
    await this.ehloOrHelo(d);
    const s = this.session;
    s.phase = "starttls";
    if (this.secure) throw new SmtpError("tls is already active");
    if (!this.hasExtension("STARTTLS")) {
      throw new SmtpNotSupportedError("server does not offer starttls");
    }
    const reply = await this.cmd("STARTTLS", d);
    if (reply.code !== 220) {
      await this.close();
      throw new SmtpNotSupportedError(
        `server refused starttls: ${reply.code} ${reply.text}`,
        { cause: new SmtpResponseError("starttls refused", reply) },
      );
    }
    await s.upgrade(options, d);
    this.forget();
    await this.ehloOrHelo(d);
    return reply;
  }

  /**
   * Log in; a token provider is asked for the token, and once more (with
   * one more attempt) after a failed XOAUTH2/OAUTHBEARER login.
   */
  login(
    credentials: TokenCredentials,
    options: SmtpLoginOptions,
    d: Deadline,
  ): Promise<SmtpReply | undefined> {
    // Checked before a byte is sent (EHLO included).
    return loginWithProvider(
      credentials,
      d,
      (c) => this.loginOnce(c, options, d),
      (err) => err instanceof SmtpAuthenticationError && this.connected,
    );
  }

  async loginOnce(
    credentials: Credentials,
    options: SmtpLoginOptions,
    d: Deadline,
  ): Promise<SmtpReply | undefined> {
    this.session.phase = "auth"; // a refusal below is the login's
    assertCredentials(credentials); // before a byte is sent (EHLO included)
    checkCredentials(credentials); // types, control characters, lone surrogates
    this.insecure();
    await this.ehloOrHelo(d);
    this.session.phase = "auth";
    if (!this.hasExtension("AUTH")) {
      throw new SmtpNotSupportedError("server does not offer auth");
    }
    const offered = (this.features.get("AUTH") ?? "").split(" ").filter(
      Boolean,
    );
    const mechanism = options.mechanism
      ? createMechanism(options.mechanism, credentials, this.o.mechanisms)
      : chooseMechanism(offered, credentials, {
        secure: this.secure,
        allowInsecureAuth: this.o.allowInsecureAuth,
        preference: options.preference,
        custom: this.o.mechanisms,
      });
    return await this.auth(mechanism, options, d);
  }

  /** Refuse credentials over clear text unless allowed (the same words on every client). */
  insecure(): void {
    refuseInsecureAuth(this.secure, this.o.allowInsecureAuth);
  }

  async auth(
    mechanism: SaslMechanism,
    options: SmtpLoginOptions,
    d: Deadline,
  ): Promise<SmtpReply | undefined> {
    if (this.authenticated) throw new SmtpError("already authenticated");
    this.insecure();
    this.session.phase = "auth";
    let last: SmtpReply | undefined;
    await oauthErrors(
      mechanism,
      saslExchange(this.session, d, mechanism, {
        read: async (rd) => {
          const reply = await this.read(rd);
          last = reply;
          if (reply.code === 235) return { done: true };
          if (reply.code === 334) {
            return { done: false, challenge: reply.lines[0] ?? "" };
          }
          throw new SmtpAuthenticationError("authentication failed", reply);
        },
        initialResponse: options.initialResponse ?? true,
        // RFC 4954 §4: an AUTH line with its initial response stays within
        // 512 octets (with CRLF); longer responses wait for the challenge.
        maxInitialLine: 510,
      }),
    );
    this.authenticated = true;
    return last;
  }

  /** Replies after the end of data: one, or in LMTP one per accepted RCPT. */
  repliesOwed(): number {
    const owed = this.dialect.replyPerRecipient
      ? Math.max(1, this.rcptAccepted)
      : 1;
    this.rcptAccepted = 0;
    return owed;
  }

  /** Check a transaction's input (before it is queued: nothing is sent). */
  checked(t: Transaction): Transaction {
    checkTransaction(t);
    checkOptions(t.mailOptions, MAIL_SPEC, "mailOptions");
    checkOptions(t.rcptOptions, RCPT_SPEC, "rcptOptions");
    return t;
  }

  /** The body of SmtpClient.mail. */
  async mailStep(
    from: string,
    options: MailOptions,
    d: Deadline,
  ): Promise<SmtpReply> {
    checkOptions(options, MAIL_SPEC, "mail options");
    const line = () => mailLine(from, options, this.traits());
    line(); // before a byte is sent (EHLO included)
    await this.ehloOrHelo(d);
    this.session.phase = "mail";
    const built = line();
    this.rcptAccepted = 0;
    this.mailSmtpUtf8 = built.includes(" SMTPUTF8");
    return await this.cmd(built, d);
  }

  /** The body of SmtpClient.rcpt. */
  async rcptStep(
    to: string,
    options: RcptOptions,
    d: Deadline,
  ): Promise<SmtpReply> {
    checkOptions(options, RCPT_SPEC, "rcpt options");
    const line = rcptLine(
      { ...options, address: to },
      {},
      this.traits(),
      this.mailSmtpUtf8,
    );
    const reply = await this.cmd(line, d);
    if (accepts(reply)) this.rcptAccepted++;
    return reply;
  }

  /** The body of SmtpClient.data. */
  async dataStep(data: MessageData, d: Deadline): Promise<SmtpReply> {
    checkData(data);
    const reply = await this.cmd("DATA", d);
    if (reply.code !== 354) throw new SmtpDataError("data refused", reply);
    if (typeof data === "string" || data instanceof Uint8Array) {
      const bytes = typeof data === "string" ? encoder.encode(data) : data;
      const parts = stuffMessage(bytes);
      let size = 0;
      for (const p of parts) size += p.length;
      await this.send([], d, parts, [`<${size} bytes of message data>`]);
    } else {
      await sendBody(this.wire, d, data);
    }
    this.session.phase = "data reply";
    const replies = await finalReplies(
      this.wire,
      d,
      this.repliesOwed(),
    );
    const failed = replies.find((r) => r.code !== 250);
    if (failed) throw new SmtpDataError("message refused", failed);
    return replies[replies.length - 1];
  }

  /** The body of SmtpClient.bdat. */
  async bdatStep(
    chunk: Uint8Array,
    options: { last?: boolean },
    d: Deadline,
  ): Promise<SmtpReply> {
    checkOptions(options, BDAT_SPEC, "bdat options");
    if (!(chunk instanceof Uint8Array)) {
      throw new InvalidInputError("a bdat chunk must be a Uint8Array");
    }
    if (!this.hasExtension("CHUNKING")) {
      throw new SmtpNotSupportedError("server does not offer chunking");
    }
    const line = `BDAT ${chunk.length}${options.last ? " LAST" : ""}`;
    await this.send([line], d, [chunk]);
    if (!options.last) return await this.read(d);
    this.session.phase = "data reply";
    const replies = await finalReplies(
      this.wire,
      d,
      this.repliesOwed(),
    );
    return replies.find((r) => r.code !== 250) ?? replies[replies.length - 1];
  }

  /** The transaction of SmtpClient.sendMail (checked; nothing sent). */
  mailTransaction(options: SendMailOptions): Transaction {
    checkOptions(options, SEND_MAIL_SPEC, "sendMail options");
    if (options === undefined || options === null) {
      throw new InvalidInputError("sendMail needs { from, to, data }");
    }
    const data = options.data;
    checkData(data);
    const body = typeof data === "string"
      ? [encoder.encode(data)]
      : data instanceof Uint8Array
      ? [data]
      : data;
    return this.checked({
      from: options.from,
      recipients: Array.isArray(options.to) ? options.to : [options.to],
      body,
      mailOptions: options.mailOptions,
      rcptOptions: options.rcptOptions,
      eightBitHint: typeof data === "string" ? !isAscii(data) : undefined,
    });
  }

  /**
   * The transaction of SmtpClient.sendMessage (checked; nothing sent). A
   * composed message is read when its turn comes: in one buffer when its
   * size is known and small, else streamed with its SIZE declared.
   */
  messageTransaction(
    message: string | Uint8Array | ComposedLike,
    options: SendMessageOptions,
    dkim: DkimOptions | false | undefined = this.o.dkim,
  ): Transaction | (() => Promise<Transaction>) {
    checkOptions(options, SEND_MESSAGE_SPEC, "sendMessage options");
    const composed = isComposed(message);
    if (
      !composed && typeof message !== "string" &&
      !(message instanceof Uint8Array)
    ) {
      throw new InvalidInputError(
        "the message must be a string, a Uint8Array or a composed message",
      );
    }
    if (dkim) {
      // Signed when its turn comes (the body is hashed as it streams), then
      // sent as the signed message.
      return async () => {
        const signed = composed
          ? await dkimSign(message as ComposedMessage, dkim)
          : await dkimSign(message as Uint8Array | string, dkim);
        // `false`, not `undefined`: that would take the default and sign again.
        const t = this.messageTransaction(signed, options, false);
        return typeof t === "function" ? await t() : t;
      };
    }
    if (composed) return this.composedTransaction(message, options);
    const bytes = typeof message === "string"
      ? encoder.encode(message)
      : message;
    const env = envelopeFromMessage(bytes, {
      from: options?.from,
      to: options?.to,
    });
    const mailOptions = { ...options?.mailOptions };
    if (env.international) mailOptions.smtputf8 = true;
    return this.checked({
      from: env.from,
      recipients: env.to,
      body: env.parts,
      mailOptions,
      rcptOptions: options?.rcptOptions,
      eightBitHint: typeof message === "string" ? !isAscii(message) : undefined,
    });
  }

  composedTransaction(
    m: ComposedLike,
    options: SendMessageOptions | undefined,
  ): () => Promise<Transaction> {
    const mailOptions: MailOptions = { ...options?.mailOptions };
    if (m.smtputf8) mailOptions.smtputf8 = true;
    // Streamed bodies are not scanned: the message says what it holds.
    if (m.eightBit && mailOptions.body === undefined) {
      mailOptions.body = "8BITMIME";
    }
    const base = this.checked({
      from: options?.from ?? m.envelope.from,
      recipients: options?.to ?? [...m.envelope.to],
      body: [],
      mailOptions,
      rcptOptions: options?.rcptOptions,
      eightBitHint: m.eightBit,
    });
    return async () => {
      if (m.size !== undefined && m.size <= TWO_PHASE_LIMIT) {
        return { ...base, body: [await m.bytes()] };
      }
      // SIZE known in advance is checked against the server's before a byte.
      if (m.size !== undefined && mailOptions.size === undefined) {
        return {
          ...base,
          mailOptions: { ...mailOptions, size: m.size },
          body: m.stream(),
        };
      }
      return { ...base, body: m.stream() };
    };
  }

  /** The transaction of SmtpClient.send: compose (checked; nothing sent), sign when asked. */
  sendTransaction(
    options: SendOptions,
  ): {
    transaction: Transaction | (() => Promise<Transaction>);
    call: SendMessageOptions;
    messageId: string;
  } {
    const { message, send, dkim } = composeForSend(options);
    return {
      transaction: this.messageTransaction(message, send, dkim ?? this.o.dkim),
      call: send,
      messageId: message.messageId,
    };
  }

  /** The body of SmtpClient.quit. */
  async quit(d: Deadline): Promise<SmtpReply | undefined> {
    if (!this.connected) {
      await this.close();
      return undefined;
    }
    let reply: SmtpReply | undefined;
    try {
      await this.send(["QUIT"], d);
      reply = await this.read(d, true);
    } catch (err) {
      // A server already gone is no failure of QUIT; the caller's abort is.
      if (!(err instanceof MailwireError) || err instanceof AbortedError) {
        throw err;
      }
    } finally {
      await this.close();
    }
    return reply;
  }
}
