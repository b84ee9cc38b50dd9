// SmtpClient: smtplib's SMTP on Web streams; the public face of an SmtpConnection (LmtpClient is its LMTP dialect).

import type { SaslMechanism } from "../auth/mechanism.ts";
import type { TokenCredentials, TokenProvider } from "../io/oauth.ts";
import { checkCallOptions, checkOptions, func } from "../io/options.ts";
import type { SmtpReply } from "../io/smtp_reply.ts";
import { assertSafe } from "../io/validate.ts";
import type { TlsInfo, TlsOptions } from "../tls/conn.ts";
import { checkRawCommand } from "./commands.ts";
import { keys, SmtpConnection } from "./connection.ts";
import type {
  SmtpCallOptions,
  SmtpClientOptions,
  SmtpLoginOptions,
} from "./options.ts";
import type {
  BatchMessage,
  ComposedLike,
  SendManyOptions,
  SendManyResult,
} from "./many.ts";
import { withMessageId } from "./many.ts";
import type {
  MailOptions,
  MessageData,
  RcptOptions,
  SendMailOptions,
  SendMessageOptions,
  SendOptions,
  SendResult,
} from "./types.ts";

const CALL = ["signal", "timeout"];
const LOGIN_SPEC = keys("mechanism", "preference", "initialResponse", ...CALL);
const MANY_SPEC = { signal: () => {}, timeout: () => {}, onProgress: func };
const TLS_SPEC = keys("servername", "caCerts", "allowInvalidCertificates");

/**
 * An SMTP client: everything Python's `smtplib.SMTP` does, on Web streams,
 * secure by default (verified TLS, no credentials in clear, CR/LF/NUL
 * refused before a byte is sent, every call bounded as a whole).
 *
 * Calls run one at a time, in call order. Errors name the server and the
 * phase that failed (`err.phase`, `err.server`).
 *
 * @example Send a message over STARTTLS with AUTH
 * ```ts
 * import { SmtpClient } from "@mailwire/mailwire/smtp";
 * async function send(password: string) {
 *   await using client = await SmtpClient.connect({
 *     hostname: "smtp.example.com",
 *     port: 587,
 *     auth: { username: "me@example.com", password },
 *   });
 *   const { refused } = await client.sendMail({
 *     from: "me@example.com",
 *     to: ["you@example.com"],
 *     data: "From: me@example.com\r\nTo: you@example.com\r\nSubject: hi\r\n\r\nHello!\r\n",
 *   });
 *   console.log(refused.size); // 0
 * } // QUIT when leaving the block
 * console.log(typeof send); // "function"
 * ```
 */
export class SmtpClient {
  readonly #c: SmtpConnection;

  /**
   * Create a client; call {@linkcode SmtpClient.connect} (the method) next.
   * Every option is checked here: an unknown key, a wrong type or an
   * out-of-range value throws a `TypeError` or `RangeError` naming it.
   *
   * @example
   * ```ts
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = new SmtpClient({ hostname: "smtp.example.com", localName: "me.example.com" });
   * console.log(client.connected); // false
   * ```
   */
  constructor(options: SmtpClientOptions = {}) {
    this.#c = new SmtpConnection(options, new.target);
  }

  /**
   * Create a client and connect: greeting, EHLO, STARTTLS (in `"starttls"`
   * mode), EHLO again, then login when `auth` is given; all within
   * `connectTimeout`.
   *
   * @example
   * ```ts
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function check() {
   *   const client = await SmtpClient.connect({ hostname: "localhost", port: 587 });
   *   await client.quit();
   * }
   * ```
   */
  static async connect(options: SmtpClientOptions = {}): Promise<SmtpClient> {
    const client = new this(options);
    await client.connect();
    return client;
  }

  /**
   * The server's greeting (smtplib keeps it after `connect`).
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * function banner(client: SmtpClient): string | undefined {
   *   return client.welcome?.text; // e.g. "smtp.example.com ESMTP"
   * }
   * ```
   */
  get welcome(): SmtpReply | undefined {
    return this.#c.welcome;
  }

  /**
   * Whether the server answered EHLO (smtplib's `does_esmtp`).
   *
   * @example
   * ```ts
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = new SmtpClient({ hostname: "smtp.example.com" });
   * console.log(client.esmtp); // false until connected; false after a HELO fallback
   * ```
   */
  get esmtp(): boolean {
    return this.#c.esmtp;
  }

  /**
   * EHLO keywords (upper case) and their parameters (smtplib's
   * `esmtp_features`); empty when not connected.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * function limits(client: SmtpClient) {
   *   return { auth: client.features.get("AUTH"), size: client.features.get("SIZE") };
   * }
   * ```
   */
  get features(): ReadonlyMap<string, string> {
    return this.#c.features;
  }

  /**
   * Whether TLS is active.
   *
   * @example
   * ```ts
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = new SmtpClient({ hostname: "smtp.example.com" });
   * console.log(client.secure); // false until connected (then true: "starttls" is the default)
   * ```
   */
  get secure(): boolean {
    return this.#c.session.secure;
  }

  /**
   * What the TLS handshake negotiated (protocol, cipher, the server's
   * certificates), as far as the runtime tells.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * function describeTls(client: SmtpClient): string {
   *   const info = client.tlsInfo;
   *   return `${info?.protocol} ${info?.peerCertificates?.[0]?.subject}`;
   * }
   * ```
   */
  get tlsInfo(): TlsInfo | undefined {
    return this.#c.session.tlsInfo;
  }

  /**
   * Whether login succeeded on this connection.
   *
   * @example
   * ```ts
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = new SmtpClient({ hostname: "smtp.example.com" });
   * console.log(client.authenticated); // false
   * ```
   */
  get authenticated(): boolean {
    return this.#c.authenticated;
  }

  /**
   * Whether a connection is open.
   *
   * @example
   * ```ts
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = new SmtpClient({ hostname: "smtp.example.com" });
   * console.log(client.connected); // false
   * ```
   */
  get connected(): boolean {
    return this.#c.session.connected;
  }

  /**
   * The reply to the last EHLO/HELO/LHLO, if any.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * function greeted(client: SmtpClient): boolean {
   *   return client.heloReply?.code === 250;
   * }
   * ```
   */
  get heloReply(): SmtpReply | undefined {
    return this.#c.heloReply;
  }

  /**
   * Whether the server advertised `name` in its EHLO reply (case-insensitive).
   *
   * @example
   * ```ts
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * const client = new SmtpClient({ hostname: "smtp.example.com" });
   * console.log(client.hasExtension("smtputf8")); // false until connected
   * ```
   */
  hasExtension(name: string): boolean {
    return this.#c.features.has(name.toUpperCase());
  }

  /**
   * Open the connection, read the greeting, EHLO (HELO fallback), and set
   * up TLS and login as the options say, all within `connectTimeout` (or
   * the call's `timeout`). On failure the connection is closed; the error
   * names the phase that failed, with a hint when one is certain.
   *
   * @example
   * ```ts
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function open() {
   *   const client = new SmtpClient({ hostname: "smtp.example.com" });
   *   const greeting = await client.connect({ timeout: 10_000 });
   *   console.log(greeting.code); // 220
   *   return client;
   * }
   * ```
   */
  connect(call?: SmtpCallOptions): Promise<SmtpReply> {
    return this.#c.session.run(call, "connect", (d) => this.#c.connect(d), {
      connect: true,
    });
  }

  /**
   * Send a command line and return the reply, whatever its code
   * (smtplib's `docmd`). CR, LF and NUL are refused, and so are AUTH,
   * STARTTLS, DATA, BDAT and QUIT: they change the session's state, so they
   * go through `login()`/`auth()`, `startTls()`, `sendMail()`/`data()`/`bdat()`
   * and `quit()`, which keep TLS-before-AUTH, redaction and reply matching.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function alive(client: SmtpClient): Promise<boolean> {
   *   return (await client.command("NOOP")).code === 250;
   * }
   * ```
   */
  command(line: string, call?: SmtpCallOptions): Promise<SmtpReply> {
    return this.#c.session.run(call, "command", (d) => {
      checkRawCommand(line);
      return this.#c.cmd(line, d);
    });
  }

  /**
   * Send EHLO (LHLO for LMTP) and record the features. Returns the reply
   * whatever its code.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function reGreet(client: SmtpClient) {
   *   const reply = await client.ehlo("me.example.com");
   *   console.log(reply.code, client.hasExtension("PIPELINING")); // 250 true
   * }
   * ```
   */
  ehlo(name?: string, call?: SmtpCallOptions): Promise<SmtpReply> {
    return this.#c.session.run(call, "ehlo", (d) => this.#c.ehlo(name, d));
  }

  /**
   * Send HELO. Returns the reply whatever its code. Not available in LMTP.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function oldSchool(client: SmtpClient) {
   *   const reply = await client.helo("me.example.com");
   *   console.log(reply.code, client.esmtp); // 250 false
   * }
   * ```
   */
  helo(name?: string, call?: SmtpCallOptions): Promise<SmtpReply> {
    return this.#c.session.run(call, "helo", (d) => this.#c.helo(name, d));
  }

  /**
   * EHLO, falling back to HELO when the server refuses EHLO, unless already
   * done on this connection. Throws {@linkcode SmtpHeloError} if both fail.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function greet(client: SmtpClient) {
   *   await client.ehloOrHelo(); // nothing sent: connect() already greeted
   * }
   * ```
   */
  ehloOrHelo(call?: SmtpCallOptions): Promise<void> {
    return this.#c.session.run(call, "ehlo", (d) => this.#c.ehloOrHelo(d));
  }

  /**
   * Upgrade to TLS with STARTTLS, then EHLO again (every capability learned
   * in clear is forgotten). `options` override the client's TLS options
   * for this upgrade. Bytes the server sent before the handshake are an
   * injection: the connection is closed and a ProtocolError thrown. A
   * refused STARTTLS closes the connection too.
   *
   * @example
   * ```ts
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function upgrade() {
   *   const client = await SmtpClient.connect({ hostname: "smtp.example.com", tls: "none" });
   *   await client.startTls({ servername: "smtp.example.com" });
   *   console.log(client.secure); // true
   * }
   * ```
   */
  startTls(
    options: TlsOptions = {},
    call?: SmtpCallOptions,
  ): Promise<SmtpReply> {
    return this.#c.session.run(call, "starttls", (d) => {
      checkOptions(options, TLS_SPEC, "startTls options");
      return this.#c.startTls(options, d);
    });
  }

  /**
   * Log in with a username and password, choosing the strongest mechanism
   * the server offers (CRAM-MD5, PLAIN, LOGIN), or the one given. Refuses
   * to send credentials without TLS unless `allowInsecureAuth` is set. A
   * failure is final: no weaker mechanism is tried with the same secret.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function login(client: SmtpClient, password: string) {
   *   const reply = await client.login("me@example.com", password);
   *   console.log(reply?.code, client.authenticated); // 235 true
   * }
   * ```
   */
  login(
    username: string,
    password: string,
    options?: SmtpLoginOptions,
  ): Promise<SmtpReply | undefined> {
    return this.#login({ username, password }, options);
  }

  /**
   * Log in with an OAuth 2 access token (XOAUTH2, or OAUTHBEARER), or with
   * a provider of one (`() => Promise<string>`). A provider is asked once
   * more after a failed token login, and the login tried once more; the
   * server's JSON error (status, scope) is on the error's `oauth`.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function oauth(client: SmtpClient, refresh: () => Promise<string>) {
   *   await client.loginWithToken("me@gmail.com", refresh); // refresh() again if the token expired
   * }
   * ```
   */
  loginWithToken(
    username: string,
    accessToken: string | TokenProvider,
    options?: SmtpLoginOptions,
  ): Promise<SmtpReply | undefined> {
    return this.#login({ username, accessToken }, options);
  }

  /** login() and loginWithToken(): options checked, then the login step in turn. */
  #login(
    credentials: TokenCredentials,
    options: SmtpLoginOptions | undefined,
  ): Promise<SmtpReply | undefined> {
    const c = this.#c;
    return c.session.run(options, "auth", (d) => {
      checkOptions(options, LOGIN_SPEC, "login options");
      return c.login(credentials, options ?? {}, d);
    });
  }

  /**
   * Authenticate with any SASL mechanism object (smtplib's `auth`). The
   * transcript shows the mechanism name, never the exchanged data.
   *
   * @example
   * ```ts
   * import { PlainMechanism } from "@mailwire/mailwire/auth";
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function plain(client: SmtpClient, password: string) {
   *   const reply = await client.auth(new PlainMechanism({ username: "me", password }));
   *   console.log(reply?.code); // 235
   * }
   * ```
   */
  auth(
    mechanism: SaslMechanism,
    options: SmtpLoginOptions = {},
  ): Promise<SmtpReply | undefined> {
    return this.#c.session.run(options, "auth", (d) => {
      checkOptions(options, LOGIN_SPEC, "auth options");
      return this.#c.auth(mechanism, options, d);
    });
  }

  /**
   * VRFY an address (smtplib's `verify`). Returns the reply whatever its code.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function exists(client: SmtpClient): Promise<boolean> {
   *   return (await client.verify("postmaster")).code === 250; // 252: cannot verify, will try
   * }
   * ```
   */
  verify(address: string, call?: SmtpCallOptions): Promise<SmtpReply> {
    return this.#c.session.run(call, "vrfy", (d) => {
      assertSafe(address, "address");
      return this.#c.cmd(`VRFY ${address}`, d);
    });
  }

  /**
   * EXPN a mailing list. Returns the reply whatever its code.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function members(client: SmtpClient): Promise<readonly string[]> {
   *   const reply = await client.expn("staff");
   *   return reply.code === 250 ? reply.lines : []; // one member per line
   * }
   * ```
   */
  expn(list: string, call?: SmtpCallOptions): Promise<SmtpReply> {
    return this.#c.session.run(call, "expn", (d) => {
      assertSafe(list, "list name");
      return this.#c.cmd(`EXPN ${list}`, d);
    });
  }

  /**
   * HELP, optionally on a topic. Returns the reply whatever its code.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function helpOn(client: SmtpClient): Promise<string> {
   *   return (await client.help("MAIL")).text;
   * }
   * ```
   */
  help(topic?: string, call?: SmtpCallOptions): Promise<SmtpReply> {
    return this.#c.session.run(call, "help", (d) => {
      if (topic !== undefined) assertSafe(topic, "help topic");
      return this.#c.cmd(topic ? `HELP ${topic}` : "HELP", d);
    });
  }

  /**
   * NOOP.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function ping(client: SmtpClient): Promise<number> {
   *   return (await client.noop()).code; // 250
   * }
   * ```
   */
  noop(call?: SmtpCallOptions): Promise<SmtpReply> {
    return this.#c.session.run(call, "noop", (d) => this.#c.cmd("NOOP", d));
  }

  /**
   * RSET: abort the current mail transaction.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function startOver(client: SmtpClient) {
   *   await client.mail("me@example.com");
   *   await client.rset(); // forget the sender
   * }
   * ```
   */
  rset(call?: SmtpCallOptions): Promise<SmtpReply> {
    return this.#c.session.run(call, "rset", (d) => {
      this.#c.rcptAccepted = 0;
      this.#c.mailSmtpUtf8 = false;
      return this.#c.cmd("RSET", d);
    });
  }

  /**
   * MAIL FROM with parameters. Returns the reply whatever its code. A
   * non-ASCII sender gets `SMTPUTF8` when the server offers it, and is
   * refused before anything is sent when it does not.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function begin(client: SmtpClient) {
   *   const reply = await client.mail("me@example.com");
   *   if (reply.code !== 250) await client.rset();
   * }
   * ```
   */
  mail(
    from: string,
    options: MailOptions = {},
    call?: SmtpCallOptions,
  ): Promise<SmtpReply> {
    return this.#c.session.run(
      call,
      "mail",
      (d) => this.#c.mailStep(from, options, d),
    );
  }

  /**
   * RCPT TO with parameters. Returns the reply whatever its code. A
   * non-ASCII recipient needs the transaction's MAIL FROM to have carried
   * SMTPUTF8 (`mail(from, { smtputf8: true })`); otherwise it is refused
   * before anything is sent.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function envelope(client: SmtpClient) {
   *   await client.mail("me@example.com");
   *   const reply = await client.rcpt("you@example.com");
   *   console.log(reply.code); // 250, or 251: will forward
   * }
   * ```
   */
  rcpt(
    to: string,
    options: RcptOptions = {},
    call?: SmtpCallOptions,
  ): Promise<SmtpReply> {
    return this.#c.session.run(
      call,
      "rcpt",
      (d) => this.#c.rcptStep(to, options, d),
    );
  }

  /**
   * DATA: send the message (dot-stuffed, CRLF-normalised, terminated) and
   * return the final reply. Throws {@linkcode SmtpDataError} if DATA or the
   * message is refused. LMTP: one reply is read per recipient accepted by
   * `rcpt()`; any failed delivery is an SmtpDataError (use `sendMail` for
   * per-recipient results).
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function byHand(client: SmtpClient) {
   *   await client.mail("me@example.com");
   *   await client.rcpt("you@example.com");
   *   const reply = await client.data("Subject: hi\r\n\r\nHello\r\n");
   *   console.log(reply.code); // 250
   * }
   * ```
   */
  data(data: MessageData, call?: SmtpCallOptions): Promise<SmtpReply> {
    return this.#c.session.run(call, "data", (d) => this.#c.dataStep(data, d));
  }

  /**
   * BDAT (CHUNKING, RFC 3030): send one chunk as is (no dot-stuffing).
   * With `last`, returns the final reply (LMTP: one is read per recipient
   * accepted by `rcpt()`, and the first failed one, else the last, is
   * returned). Returns the reply whatever its code.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function chunked(client: SmtpClient) {
   *   const encoder = new TextEncoder();
   *   await client.mail("me@example.com");
   *   await client.rcpt("you@example.com");
   *   await client.bdat(encoder.encode("Subject: hi\r\n\r\n"));
   *   const reply = await client.bdat(encoder.encode("Hello\r\n"), { last: true });
   *   console.log(reply.code); // 250
   * }
   * ```
   */
  bdat(
    chunk: Uint8Array,
    options: { last?: boolean } & SmtpCallOptions = {},
  ): Promise<SmtpReply> {
    return this.#c.session.run(
      options,
      "bdat",
      (d) => this.#c.bdatStep(chunk, options, d),
    );
  }

  /**
   * Send one message (smtplib's `sendmail`). Uses one write for MAIL, every
   * RCPT and DATA when PIPELINING is offered, and BDAT for in-memory
   * messages when CHUNKING is offered too (one round trip per message).
   *
   * Returns the accepted and refused recipients on partial success (and,
   * LMTP, the recipients whose outcome is unknown). Throws
   * {@linkcode SmtpSenderRefusedError}, {@linkcode SmtpRecipientsRefusedError}
   * (nothing sent) or {@linkcode SmtpDataError}; after a refusal the
   * transaction is reset so the connection stays usable. A connection lost
   * after the end of data is {@linkcode SmtpOutcomeUnknownError}. The
   * call's `timeout` bounds the whole send, message data included.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function send(client: SmtpClient) {
   *   const { accepted, refused } = await client.sendMail({
   *     from: "me@example.com",
   *     to: ["you@example.com", "them@example.com"],
   *     data: "From: me@example.com\r\nSubject: hi\r\n\r\nHello\r\n",
   *   });
   *   console.log(accepted, refused.size); // ["you@example.com", "them@example.com"] 0
   * }
   * ```
   */
  sendMail(options: SendMailOptions): Promise<SendResult> {
    const c = this.#c;
    let t;
    try {
      checkCallOptions(options, "mail");
      t = c.mailTransaction(options);
    } catch (err) {
      return Promise.reject(c.session.annotate(err, "mail"));
    }
    return c.mail.send(t, options, options.onProgress);
  }

  /**
   * Send many messages down one pipeline (RFC 2920, RFC 3030). With
   * CHUNKING, `MAIL, RCPT…, BDAT n LAST` and the data of one message go out
   * right after the previous one's, without waiting for replies (a window
   * of 1 MiB in flight bounds memory); with DATA only, each message's
   * envelope rides with the previous one's final dot, one round trip per
   * message. `messages` may be an iterable or an async iterable (pulled one
   * ahead, so a million messages never sit in memory).
   *
   * Returns one {@linkcode SendManyResult} per message, in order; an error
   * concerns its message alone:
   * - a refused sender, every recipient refused, or the data refused: that
   *   message is refused (RSET follows), the next goes on;
   * - a `421` or a lost connection: messages whose final reply came are
   *   done; each of the others is of unknown outcome
   *   ({@linkcode SmtpOutcomeUnknownError}: its data was sent, no reply
   *   came) or not sent ({@linkcode SmtpNotSentError}: safe to send again),
   *   whichever is true. Nothing is retried.
   *
   * The call's `timeout` bounds the whole batch; a message's `signal`
   * withdraws it while none of it was sent. `sendMail` calls made meanwhile
   * join the same pipeline.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function newsletter(client: SmtpClient, to: string[]) {
   *   const results = await client.sendMany(
   *     to.map((rcpt) => ({
   *       from: "news@example.com",
   *       to: rcpt,
   *       data: `From: news@example.com\r\nTo: ${rcpt}\r\nSubject: news\r\n\r\nHello\r\n`,
   *     })),
   *     { timeout: 600_000 },
   *   );
   *   const failed = results.filter((r) => !r.ok).length;
   *   console.log(`${results.length - failed} sent, ${failed} failed`);
   * }
   * console.log(typeof newsletter); // "function"
   * ```
   */
  sendMany(
    messages: Iterable<BatchMessage> | AsyncIterable<BatchMessage>,
    options?: SendManyOptions,
  ): Promise<SendManyResult[]> {
    const c = this.#c;
    try {
      checkCallOptions(options, "mail");
      checkOptions(options, MANY_SPEC, "sendMany options");
    } catch (err) {
      return Promise.reject(c.session.annotate(err, "mail"));
    }
    return c.mail.sendMany(messages, options, (m) => c.batchTransaction(m));
  }

  /**
   * Compose and send in one call, with the options nodemailer users know:
   * `{ from, to, cc, bcc, replyTo, subject, text, html, attachments,
   * headers, ... }` (see `composeMessage` in `./message`). The message gets
   * a Date and a unique Message-ID, RFC 2047 words for non-ASCII names and
   * subjects (raw UTF-8 with `smtputf8`), and is signed when `dkim` is given
   * (or the client's `dkim` option is set). Bcc goes in the envelope only.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function notify(client: SmtpClient, report: Uint8Array) {
   *   const { accepted } = await client.send({
   *     from: { name: "Reports", address: "reports@example.com" },
   *     to: "boss@example.com",
   *     subject: "Weekly report",
   *     text: "Attached.",
   *     html: "<p>Attached.</p>",
   *     attachments: [{ filename: "report.pdf", content: report }],
   *   });
   *   console.log(accepted); // ["boss@example.com"]
   * }
   * ```
   */
  send(options: SendOptions): Promise<SendResult> {
    const c = this.#c;
    let prepared;
    try {
      checkCallOptions(options, "mail");
      prepared = c.sendTransaction(options);
    } catch (err) {
      return Promise.reject(c.session.annotate(err, "mail"));
    }
    const { messageId } = prepared;
    return c.mail.send(prepared.transaction, options, options?.onProgress)
      .then((result) => ({ ...result, messageId }));
  }

  /**
   * Send a complete RFC 5322 message, taking the envelope from its headers
   * (smtplib's `send_message`): sender from `Sender` or `From`, recipients
   * from `To`, `Cc` and `Bcc`, or from a single `Resent-*` block. `Bcc` and
   * `Resent-Bcc` are removed before sending. SMTPUTF8 is used when an
   * address needs it, and is an error when the server lacks it.
   *
   * A composed message (`composeMessage` of the message entry, or any
   * {@linkcode ComposedLike}) is sent with its own envelope, SMTPUTF8 and
   * 8BITMIME: read in one buffer when its size is known and at most 1 MiB,
   * else streamed, its SIZE checked against the server's before a byte of
   * it is sent; with the client's `dkim` option it is signed first.
   * Concurrent sends join one pipeline (see
   * {@linkcode SmtpClient.sendMany}).
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function send(client: SmtpClient) {
   *   const { accepted } = await client.sendMessage(
   *     "From: me@example.com\r\nTo: you@example.com\r\nBcc: boss@example.com\r\n" +
   *       "Subject: hi\r\n\r\nHello\r\n",
   *   );
   *   console.log(accepted); // ["you@example.com", "boss@example.com"]; no Bcc line sent
   * }
   * ```
   */
  sendMessage(
    message: string | Uint8Array | ComposedLike,
    options: SendMessageOptions = {},
  ): Promise<SendResult> {
    const c = this.#c;
    let t;
    try {
      checkCallOptions(options, "mail");
      t = c.messageTransaction(message, options);
    } catch (err) {
      return Promise.reject(c.session.annotate(err, "mail"));
    }
    return c.mail.send(t, options, options.onProgress)
      .then((result) => withMessageId(result, message));
  }

  /**
   * Send QUIT, read the reply, close. Returns the server's reply (a `421`
   * included), or `undefined` when the server was already gone. Never
   * throws for a server that's already gone; an abort (the call's signal
   * or the client's) is an `AbortedError`, the connection closed.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function bye(client: SmtpClient) {
   *   const reply = await client.quit();
   *   console.log(reply?.code, client.connected); // 221 false
   * }
   * ```
   */
  quit(call?: SmtpCallOptions): Promise<SmtpReply | undefined> {
    return this.#c.session.run(call, "quit", (d) => this.#c.quit(d));
  }

  /**
   * Close the connection without QUIT (smtplib's `close`). Idempotent.
   * What the client learned of the server (`features`, `heloReply`,
   * `authenticated`) is forgotten; `welcome` stays until the next connect.
   *
   * @example
   * ```ts
   * import type { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function drop(client: SmtpClient) {
   *   await client.close(); // no QUIT: the server just sees the connection end
   *   console.log(client.connected); // false
   * }
   * ```
   */
  async close(): Promise<void> {
    this.#c.forget();
    await this.#c.session.close();
  }

  /**
   * `await using` support: QUIT (waiting at most 5 s) if connected, then close.
   *
   * @example
   * ```ts
   * import { SmtpClient } from "@mailwire/mailwire/smtp";
   * async function scoped() {
   *   await using client = await SmtpClient.connect({ hostname: "smtp.example.com" });
   *   await client.noop();
   * } // QUIT sent (waiting at most 5 s), then closed
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.connected && !this.#c.o.signal?.aborted) {
      const t = this.#c.o.timeout;
      await this.quit({ timeout: t < 5000 ? t : 5000 }).catch(() =>
        this.close()
      );
    } else await this.close();
  }
}
