// Pop3Client: poplib's POP3 on Web streams; the public face of a Pop3Connection.

import type { SaslMechanism } from "../auth/mechanism.ts";
import type { TokenProvider } from "../io/oauth.ts";
import { checkOptions, type Spec } from "../io/options.ts";
import type { Pop3Status } from "../io/pop3_status.ts";
import type { TlsInfo, TlsOptions } from "../tls/conn.ts";
import { messageId, pipelineLine } from "./commands.ts";
import { Pop3Connection } from "./connection.ts";
import type {
  Pop3CallOptions,
  Pop3ClientOptions,
  Pop3LoginOptions,
} from "./options.ts";
import {
  parseStat,
  type Pop3MessageListing,
  type Pop3ScanListing,
  type Pop3Stat,
  type Pop3UidListing,
} from "./parse.ts";
import { listing, runPipeline } from "./pipeline.ts";
import { allOk, capa, list, retr, retrStream, top, uidl } from "./mailbox.ts";
import type { Pop3PipelineCommand, Pop3PipelineReply } from "./types.ts";

const keys = (...names: string[]): Spec =>
  Object.fromEntries(names.map((n) => [n, () => {}]));
const LOGIN_SPEC = keys(
  "mechanism",
  "preference",
  "apop",
  "initialResponse",
  "signal",
  "timeout",
);
const TLS_SPEC = keys("servername", "caCerts", "allowInvalidCertificates");

/**
 * A POP3 client: everything Python's `poplib` does, on Web streams, secure
 * by default (verified TLS, STLS required on port 110, no credentials in
 * clear, CR/LF/NUL refused before a byte is sent, every call bounded as a
 * whole), plus SASL, pipelined batches and streamed retrieval.
 *
 * Deletions (`dele`) become final only when {@linkcode Pop3Client.quit}
 * completes; {@linkcode Pop3Client.close} and `await using` never commit
 * them. Calls run one at a time, in call order. Errors name the server and
 * the phase that failed (`err.phase`, `err.server`).
 *
 * @example Read every message, delete them, commit with QUIT
 * ```ts
 * import { Pop3Client } from "@mailwire/mailwire/pop3";
 * async function drain(password: string): Promise<Uint8Array[]> {
 *   await using client = await Pop3Client.connect({
 *     hostname: "pop.example.com",
 *     auth: { username: "me@example.com", password },
 *   });
 *   const ids = (await client.listing()).map((m) => m.id);
 *   const messages = await client.retrMany(ids);
 *   await client.deleMany(ids);
 *   await client.quit(); // commits the deletions
 *   return messages;
 * }
 * console.log(typeof drain); // "function"
 * ```
 */
export class Pop3Client {
  readonly #c: Pop3Connection;

  /**
   * Create a client; call {@linkcode Pop3Client.connect} (the method) next.
   * Every option is checked here: an unknown key, a wrong type or an
   * out-of-range value throws a `TypeError` or `RangeError` naming it.
   *
   * @example
   * ```ts
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = new Pop3Client({ hostname: "pop.example.com", timeout: 30_000 });
   * console.log(client.connected); // false
   * ```
   */
  constructor(options: Pop3ClientOptions = {}) {
    this.#c = new Pop3Connection(options, new.target);
  }

  /**
   * Create a client and connect: greeting, CAPA and STLS (in `"starttls"`
   * mode), CAPA again, then login when `auth` is given; all within
   * `connectTimeout`.
   *
   * @example
   * ```ts
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function check() {
   *   const client = await Pop3Client.connect({ hostname: "localhost", port: 110 });
   *   await client.quit();
   * }
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
   * ```ts
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = new Pop3Client({ hostname: "pop.example.com" });
   * console.log(client.welcome); // undefined until connected, then e.g. "POP3 server ready"
   * ```
   */
  get welcome(): string | undefined {
    return this.#c.welcome;
  }

  /**
   * The APOP timestamp (`<...@...>`) of the greeting, if it had one.
   *
   * @example
   * ```ts
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = new Pop3Client({ hostname: "pop.example.com" });
   * console.log(client.timestamp); // e.g. "<1896.697170952@dbc.mtview.ca.us>" once connected
   * ```
   */
  get timestamp(): string | undefined {
    return this.#c.timestamp;
  }

  /**
   * The last capabilities learned with CAPA (keyword upper-cased → its
   * arguments); empty before the first CAPA or when the server has none.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * function mechanisms(client: Pop3Client): readonly string[] {
   *   return client.capabilities.get("SASL") ?? []; // e.g. ["PLAIN", "XOAUTH2"]
   * }
   * ```
   */
  get capabilities(): ReadonlyMap<string, readonly string[]> {
    return this.#c.capa ?? new Map();
  }

  /**
   * Whether TLS is active.
   *
   * @example
   * ```ts
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = new Pop3Client({ hostname: "pop.example.com" });
   * console.log(client.secure); // false until connected (then true: "starttls" is the default)
   * ```
   */
  get secure(): boolean {
    return this.#c.secure;
  }

  /**
   * What the TLS handshake negotiated (protocol, cipher, the server's
   * certificates), as far as the runtime tells.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * function protocol(client: Pop3Client): string | undefined {
   *   return client.tlsInfo?.protocol; // e.g. "TLSv1.3"
   * }
   * ```
   */
  get tlsInfo(): TlsInfo | undefined {
    return this.#c.session.tlsInfo;
  }

  /**
   * Whether login succeeded (the session is in the TRANSACTION state).
   *
   * @example
   * ```ts
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = new Pop3Client({ hostname: "pop.example.com" });
   * console.log(client.authenticated); // false
   * ```
   */
  get authenticated(): boolean {
    return this.#c.authenticated;
  }

  /**
   * Whether UTF8 mode (RFC 6856) was entered.
   *
   * @example
   * ```ts
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = new Pop3Client({ hostname: "pop.example.com" });
   * console.log(client.utf8Enabled); // false until utf8() succeeded
   * ```
   */
  get utf8Enabled(): boolean {
    return this.#c.utf8;
  }

  /**
   * Whether a connection is open.
   *
   * @example
   * ```ts
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * const client = new Pop3Client({ hostname: "pop.example.com" });
   * console.log(client.connected); // false
   * ```
   */
  get connected(): boolean {
    return this.#c.connected;
  }

  /**
   * Whether the last CAPA listed `name` (case-insensitive).
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function head(client: Pop3Client): Promise<Uint8Array> {
   *   return client.hasCapability("TOP") ? await client.top(1, 0) : await client.retr(1);
   * }
   * ```
   */
  hasCapability(name: string): boolean {
    return this.#c.hasCapability(name);
  }

  /**
   * Open the connection, read the greeting, and set up TLS and login as the
   * options say, all within `connectTimeout` (or the call's `timeout`). On
   * failure the connection is closed; the error names the phase that
   * failed. A second `connect()` while connected (or connecting) is an
   * error, and opens nothing.
   *
   * @example
   * ```ts
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function open() {
   *   const client = new Pop3Client({ hostname: "pop.example.com" });
   *   const greeting = await client.connect({ timeout: 10_000 });
   *   console.log(greeting.ok, greeting.text); // true "POP3 server ready"
   *   return client;
   * }
   * ```
   */
  connect(call?: Pop3CallOptions): Promise<Pop3Status> {
    return this.#c.run(call, "connect", (d) => this.#c.connect(d), true);
  }

  /**
   * CAPA (RFC 2449): the server's capabilities, keyword upper-cased → its
   * arguments, e.g. `SASL` → `["PLAIN", "XOAUTH2"]`. Always asks the server
   * (the result is kept in {@linkcode Pop3Client.capabilities}). A server
   * without CAPA answers `-ERR`: a {@linkcode Pop3ResponseError}.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function canPipeline(client: Pop3Client): Promise<boolean> {
   *   return (await client.capa()).has("PIPELINING");
   * }
   * ```
   */
  capa(call?: Pop3CallOptions): Promise<Map<string, string[]>> {
    return this.#c.run(call, "capa", (d) => capa(this.#c, d));
  }

  /**
   * Log in with a username and password, choosing the method:
   * 1. SASL, when CAPA lists mechanisms usable with a password (CRAM-MD5,
   *    PLAIN, LOGIN, or `preference`);
   * 2. APOP, only when you ask for it (`apop: true`) and the greeting has a
   *    timestamp: under TLS it gains nothing, and many servers put a
   *    timestamp in every greeting but keep APOP secrets apart;
   * 3. USER/PASS.
   *
   * Without TLS nothing is sent unless `allowInsecureAuth` is set. A failure
   * is final ({@linkcode Pop3AuthenticationError}; check `temporary` for
   * `[IN-USE]`/`[LOGIN-DELAY]`): no other method is tried with the same
   * secret. CAPA is asked again afterwards.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function login(client: Pop3Client, password: string) {
   *   await client.login("me@example.com", password);
   *   console.log(client.authenticated); // true
   * }
   * ```
   */
  login(
    username: string,
    password: string,
    options?: Pop3LoginOptions,
  ): Promise<Pop3Status> {
    return this.#c.run(options, "auth", (d) => {
      checkOptions(options, LOGIN_SPEC, "login options");
      return this.#c.login({ username, password }, options ?? {}, d);
    });
  }

  /**
   * Log in with an OAuth 2 access token (XOAUTH2, or OAUTHBEARER), as Gmail
   * and Microsoft 365 want. Long tokens wait for the server's empty
   * challenge instead of riding on the AUTH line (RFC 5034's 255 octets).
   * The token is checked before a byte is sent. `accessToken` may be a
   * provider (`() => Promise<string>`): it is asked once more after a
   * failed token login, and the login tried once more; the server's JSON
   * error (status, scope) is on the error's `oauth`.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function oauth(client: Pop3Client, accessToken: string) {
   *   await client.loginWithToken("me@example.com", accessToken);
   * }
   * ```
   */
  loginWithToken(
    username: string,
    accessToken: string | TokenProvider,
    options?: Pop3LoginOptions,
  ): Promise<Pop3Status> {
    return this.#c.run(options, "auth", (d) => {
      checkOptions(options, LOGIN_SPEC, "login options");
      return this.#c.login({ username, accessToken }, options ?? {}, d);
    });
  }

  /**
   * USER: send the mailbox name (poplib's `user`). Without TLS it needs
   * `allowInsecureAuth`. `-ERR` is a {@linkcode Pop3AuthenticationError}.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function byHand(client: Pop3Client, password: string) {
   *   await client.user("me@example.com");
   *   await client.pass(password);
   * }
   * ```
   */
  user(username: string, call?: Pop3CallOptions): Promise<Pop3Status> {
    return this.#c.run(call, "auth", (d) => this.#c.userStep(username, d));
  }

  /**
   * PASS: send the password after {@linkcode Pop3Client.user} (poplib's
   * `pass_`). Without TLS it needs `allowInsecureAuth`; the transcript shows
   * `PASS <redacted>`. `-ERR` is a {@linkcode Pop3AuthenticationError}.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function byHand(client: Pop3Client, password: string) {
   *   await client.user("me@example.com");
   *   const status = await client.pass(password);
   *   console.log(status.text); // e.g. "maildrop has 2 messages"
   * }
   * ```
   */
  pass(password: string, call?: Pop3CallOptions): Promise<Pop3Status> {
    return this.#c.run(
      call,
      "auth",
      (d) => this.#c.passStep("PASS", password, d),
    );
  }

  /**
   * APOP (RFC 1939 §7): log in with the MD5 digest of the greeting's
   * timestamp and the secret. A greeting without a timestamp is a
   * {@linkcode Pop3NotSupportedError} before anything is sent. Without TLS
   * it needs `allowInsecureAuth` (MD5 is broken).
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function apop(client: Pop3Client, secret: string) {
   *   if (client.timestamp) await client.apop("me@example.com", secret);
   * }
   * ```
   */
  apop(
    username: string,
    secret: string,
    call?: Pop3CallOptions,
  ): Promise<Pop3Status> {
    return this.#c.run(
      call,
      "auth",
      (d) => this.#c.apopStep(username, secret, d),
    );
  }

  /**
   * RPOP (RFC 1081): trust-the-client-host login, kept for poplib parity.
   * `-ERR` is a {@linkcode Pop3AuthenticationError}.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function rpop(client: Pop3Client) {
   *   await client.user("me");
   *   await client.rpop("me");
   * }
   * ```
   */
  rpop(username: string, call?: Pop3CallOptions): Promise<Pop3Status> {
    return this.#c.run(
      call,
      "auth",
      (d) => this.#c.passStep("RPOP", username, d),
    );
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
   * ```ts
   * import { PlainMechanism } from "@mailwire/mailwire/auth";
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function plain(client: Pop3Client, password: string) {
   *   await client.auth(new PlainMechanism({ username: "me", password }));
   * }
   * ```
   */
  auth(
    mechanism: SaslMechanism,
    options?: Pop3LoginOptions,
  ): Promise<Pop3Status> {
    return this.#c.run(options, "auth", (d) => {
      checkOptions(options, LOGIN_SPEC, "auth options");
      return this.#c.auth(mechanism, options ?? {}, d);
    });
  }

  /**
   * UTF8 (RFC 6856): switch to UTF-8 for credentials and text, before
   * login, on a server that lists UTF8 (else a
   * {@linkcode Pop3NotSupportedError}, nothing sent).
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function unicode(client: Pop3Client) {
   *   if (client.hasCapability("UTF8")) await client.utf8();
   * }
   * ```
   */
  utf8(call?: Pop3CallOptions): Promise<Pop3Status> {
    return this.#c.run(call, "utf8", (d) => this.#c.utf8Step(d));
  }

  /**
   * STLS (RFC 2595): upgrade to TLS, then CAPA again (capabilities learned
   * in clear are forgotten). Only before login. With `tls: "starttls"` it
   * happens during connect. `options` override the client's TLS options
   * for this upgrade. Bytes the server sent before the handshake are an
   * injection: the connection is closed and a ProtocolError thrown. A
   * refused STLS closes the connection too (never continue in clear by
   * accident).
   *
   * @example
   * ```ts
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function upgrade(caPem: string) {
   *   const client = await Pop3Client.connect({ hostname: "localhost", tls: "none" });
   *   await client.stls({ caCerts: [caPem] });
   *   console.log(client.secure); // true
   * }
   * ```
   */
  stls(options: TlsOptions = {}, call?: Pop3CallOptions): Promise<Pop3Status> {
    return this.#c.run(call, "stls", (d) => {
      checkOptions(options, TLS_SPEC, "stls options");
      return this.#c.stls(options, d);
    });
  }
  /**
   * STAT: the number of messages and their total size.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function count(client: Pop3Client): Promise<number> {
   *   return (await client.stat()).count;
   * }
   * ```
   */
  stat(call?: Pop3CallOptions): Promise<Pop3Stat> {
    return this.#c.run(call, "stat", async (d) => {
      const status = await this.#c.ok("STAT", d, "stat");
      return this.#c.parse(() => parseStat(status.text));
    });
  }

  /**
   * LIST: every message's number and size.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function sizes(client: Pop3Client) {
   *   for (const { id, size } of await client.list()) console.log(id, size);
   * }
   * ```
   */
  list(call?: Pop3CallOptions): Promise<Pop3ScanListing[]>;
  /**
   * LIST `id`: one message's number and size; `-ERR` (no such message) is a
   * {@linkcode Pop3ResponseError}.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function sizeOf(client: Pop3Client): Promise<number> {
   *   return (await client.list(1)).size;
   * }
   * ```
   */
  list(id: number, call?: Pop3CallOptions): Promise<Pop3ScanListing>;
  list(
    idOrCall?: number | Pop3CallOptions,
    call?: Pop3CallOptions,
  ): Promise<Pop3ScanListing[] | Pop3ScanListing> {
    const id = typeof idOrCall === "number" ? idOrCall : undefined;
    const options = typeof idOrCall === "number" ? call : idOrCall ?? call;
    return this.#c.run(options, "list", (d) => list(this.#c, id, d));
  }

  /**
   * UIDL: every message's number and unique id (stable across sessions),
   * exactly as the server sent it (RFC 1939 allows 0x21–0x7E only:
   * anything else is a ProtocolError, never a lossy string).
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function fresh(client: Pop3Client, seen: Set<string>) {
   *   return (await client.uidl()).filter((m) => !seen.has(m.uid));
   * }
   * ```
   */
  uidl(call?: Pop3CallOptions): Promise<Pop3UidListing[]>;
  /**
   * UIDL `id`: one message's unique id.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function uidOf(client: Pop3Client): Promise<string> {
   *   return (await client.uidl(1)).uid;
   * }
   * ```
   */
  uidl(id: number, call?: Pop3CallOptions): Promise<Pop3UidListing>;
  uidl(
    idOrCall?: number | Pop3CallOptions,
    call?: Pop3CallOptions,
  ): Promise<Pop3UidListing[] | Pop3UidListing> {
    const id = typeof idOrCall === "number" ? idOrCall : undefined;
    const options = typeof idOrCall === "number" ? call : idOrCall ?? call;
    return this.#c.run(options, "uidl", (d) => uidl(this.#c, id, d));
  }

  /**
   * UIDL and LIST together (one write with PIPELINING): every message's
   * number, unique id and size, what a mail fetcher needs to decide what to
   * download.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function show(client: Pop3Client) {
   *   for (const { id, uid, size } of await client.listing()) console.log(id, uid, size);
   * }
   * ```
   */
  listing(call?: Pop3CallOptions): Promise<Pop3MessageListing[]> {
    return this.#c.run(call, "uidl", (d) => listing(this.#c, d));
  }

  /**
   * RETR: the whole message as raw bytes, exactly as stored (CRLF line ends,
   * the dot-stuffing of every line undone), lines of any length. Capped by
   * `maxMessageBytes` (a ProtocolError, connection closed); the call's
   * `timeout` bounds the whole transfer (pass a larger one, or use
   * {@linkcode Pop3Client.retrStream}, for huge messages on slow links).
   * To save a copy, the array may be a view of a buffer up to an eighth
   * larger: use the array itself, not its `.buffer`.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function headers(client: Pop3Client): Promise<string> {
   *   const raw = await client.retr(1);
   *   return new TextDecoder().decode(raw).split("\r\n\r\n")[0];
   * }
   * ```
   */
  retr(id: number, call?: Pop3CallOptions): Promise<Uint8Array> {
    return this.#c.run(call, "retr", (d) => retr(this.#c, id, d));
  }

  /**
   * RETR as a stream: the message in chunks of up to 64 KiB, read from the
   * server only as the stream is consumed (memory stays bounded by what the
   * connection reads at once, whatever the line lengths). Each chunk is
   * the consumer's own: unstuffed in place in the buffer the connection
   * read it into, no other copy. `-ERR` rejects the returned promise. The call's
   * `timeout` bounds getting the stream; then each chunk must arrive within
   * `timeout` (the consumer sets the pace).
   *
   * Until the stream is read to the end or cancelled, the connection is
   * busy: other calls throw. Cancelling reads and discards the rest when it
   * is at most 1 MiB and arrives within 10 s (the session, and its pending
   * deletions, go on); otherwise the connection is closed (pending
   * deletions are then never committed). `cancel()` resolves once the
   * connection is in one of these two states.
   *
   * @example Save a message to a file
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function save(client: Pop3Client, file: WritableStream<Uint8Array>) {
   *   const stream = await client.retrStream(1);
   *   await stream.pipeTo(file);
   * }
   * ```
   */
  retrStream(
    id: number,
    call?: Pop3CallOptions,
  ): Promise<ReadableStream<Uint8Array>> {
    return this.#c.run(call, "retr", (d) => retrStream(this.#c, id, call, d));
  }

  /**
   * TOP (RFC 1939 §7): the headers and the first `lines` lines of the body,
   * as raw bytes like {@linkcode Pop3Client.retr}. A server whose CAPA lacks
   * TOP gets nothing sent ({@linkcode Pop3NotSupportedError}).
   *
   * @example Headers only
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function head(client: Pop3Client): Promise<Uint8Array> {
   *   return await client.top(1, 0);
   * }
   * ```
   */
  top(id: number, lines: number, call?: Pop3CallOptions): Promise<Uint8Array> {
    return this.#c.run(call, "top", (d) => top(this.#c, id, lines, d));
  }

  /**
   * DELE: mark a message deleted. Final only when
   * {@linkcode Pop3Client.quit} completes; RSET or a dropped connection
   * undoes it.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function remove(client: Pop3Client) {
   *   await client.dele(1);
   *   await client.quit(); // commits the deletion
   * }
   * ```
   */
  dele(id: number, call?: Pop3CallOptions): Promise<Pop3Status> {
    return this.#c.run(call, "dele", (d) => {
      const n = messageId(id);
      return this.#c.ok(`DELE ${n}`, d, `dele ${n}`);
    });
  }

  /**
   * RSET: unmark every message marked deleted in this session.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function undo(client: Pop3Client) {
   *   await client.rset();
   * }
   * ```
   */
  rset(call?: Pop3CallOptions): Promise<Pop3Status> {
    return this.#c.run(call, "rset", (d) => this.#c.ok("RSET", d, "rset"));
  }

  /**
   * NOOP: keep the session alive, check the server answers.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function ping(client: Pop3Client) {
   *   await client.noop();
   * }
   * ```
   */
  noop(call?: Pop3CallOptions): Promise<Pop3Status> {
    return this.#c.run(call, "noop", (d) => this.#c.ok("NOOP", d, "noop"));
  }

  /**
   * Send several commands and read their answers in order: in one write
   * when the server offers PIPELINING (at most 64 commands in flight, so a
   * server that stops reading while its answers pile up cannot deadlock
   * us), else one at a time. `-ERR` answers are returned, not thrown. TOP is
   * refused before anything is sent when CAPA lacks it. The call's
   * `timeout` bounds the whole batch. The building block of
   * {@linkcode Pop3Client.retrMany} and {@linkcode Pop3Client.deleMany}.
   *
   * @example Fetch two messages and mark the first deleted, one round trip
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function batch(client: Pop3Client) {
   *   const [a, b, del] = await client.pipeline([
   *     { command: "RETR", id: 1 },
   *     { command: "RETR", id: 2 },
   *     { command: "DELE", id: 1 },
   *   ]);
   *   console.log(a.body?.length, b.body?.length, del.status.ok);
   * }
   * ```
   */
  pipeline(
    commands: readonly Pop3PipelineCommand[],
    call?: Pop3CallOptions,
  ): Promise<Pop3PipelineReply[]> {
    return this.#c.run(call, "pipeline", (d) => {
      if (!Array.isArray(commands)) {
        throw new TypeError("pipeline takes an array of commands");
      }
      const lines = commands.map(pipelineLine);
      return runPipeline(this.#c, commands, lines, d);
    });
  }

  /**
   * RETR several messages, pipelined when the server offers PIPELINING.
   * Every answer is read; then the first `-ERR`, if any, is thrown as a
   * {@linkcode Pop3ResponseError}.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function firstTwo(client: Pop3Client): Promise<Uint8Array[]> {
   *   return await client.retrMany([1, 2]);
   * }
   * ```
   */
  async retrMany(
    ids: readonly number[],
    call?: Pop3CallOptions,
  ): Promise<Uint8Array[]> {
    const batch = ids.map((id) => ({ command: "RETR", id } as const));
    return allOk(await this.pipeline(batch, call), (r) => r.body!);
  }

  /**
   * DELE several messages, pipelined when the server offers PIPELINING.
   * Every answer is read; then the first `-ERR`, if any, is thrown (the
   * others stay marked: RSET undoes them all). Final only after
   * {@linkcode Pop3Client.quit}.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function purge(client: Pop3Client) {
   *   await client.deleMany([1, 2, 3]);
   *   await client.quit();
   * }
   * ```
   */
  async deleMany(
    ids: readonly number[],
    call?: Pop3CallOptions,
  ): Promise<Pop3Status[]> {
    const batch = ids.map((id) => ({ command: "DELE", id } as const));
    return allOk(await this.pipeline(batch, call), (r) => r.status);
  }

  /**
   * Send any single-line command and return its status, `+OK` or `-ERR`
   * (poplib's `_shortcmd`/docmd style). CR, LF and NUL are refused, and so
   * are commands with a multi-line answer or that change the connection
   * (RETR, TOP, CAPA, LIST/UIDL without argument, STLS, AUTH, QUIT): use
   * their methods. The transcript redacts PASS and APOP.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function alive(client: Pop3Client): Promise<boolean> {
   *   return (await client.command("NOOP")).ok;
   * }
   * ```
   */
  command(line: string, call?: Pop3CallOptions): Promise<Pop3Status> {
    return this.#c.run(call, "command", (d) => this.#c.commandStep(line, d));
  }

  /**
   * QUIT: end the session; the server commits the deletions (UPDATE state)
   * and closes. `-ERR` (some deletions failed) is a
   * {@linkcode Pop3ResponseError}. The connection is closed either way; if
   * it drops before the answer, whether deletions were committed is unknown.
   *
   * @example
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function commit(client: Pop3Client) {
   *   await client.dele(1);
   *   await client.quit();
   * }
   * ```
   */
  quit(call?: Pop3CallOptions): Promise<Pop3Status> {
    return this.#c.run(call, "quit", async (d) => {
      try {
        return await this.#c.ok("QUIT", d, "quit");
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
   * ```ts
   * import type { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function keepAll(client: Pop3Client) {
   *   await client.dele(1);
   *   await client.close(); // message 1 is kept
   * }
   * ```
   */
  async close(): Promise<void> {
    await this.#c.close();
  }

  /**
   * `await using` support: {@linkcode Pop3Client.close}, without QUIT, so
   * leaving a block early never commits deletions. Call `quit()` yourself
   * to commit them.
   *
   * @example
   * ```ts
   * import { Pop3Client } from "@mailwire/mailwire/pop3";
   * async function scoped() {
   *   await using client = await Pop3Client.connect({ hostname: "localhost" });
   *   await client.dele(1);
   * } // closed, message 1 kept
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
