// Pop3Connection: the state and steps of one POP3 session under Pop3Client (greeting, CAPA, STLS, login, statuses, bodies).

import type { Credentials, SaslMechanism } from "../auth/mechanism.ts";
import { ProtocolError } from "../errors.ts";
import type { Deadline } from "../io/deadline.ts";
import {
  type MultilineLimits,
  parsePop3Status,
  type Pop3Continuation,
  type Pop3Status,
  readBody,
  readMultiline,
  readPop3Status,
} from "../io/pop3_status.ts";
import { saslExchange } from "../io/sasl.ts";
import {
  loginWithProvider,
  parseOAuthError,
  type TokenCredentials,
} from "../io/oauth.ts";
import { Session, type SessionCall } from "../io/session.ts";
import { refuseInsecureAuth, sessionConfig } from "../io/client_options.ts";
import { checkCredentials } from "../auth/validate_credentials.ts";
import { assertCredentials, assertSafe } from "../io/validate.ts";
import type { TlsOptions } from "../tls/conn.ts";
import { defaultConnector } from "../tls/connect.ts";
import { apopDigest, findApopTimestamp } from "./apop.ts";
import { BodyBuffer } from "./body.ts";
import { checkRawCommand, latin1, redact, statusLine } from "./commands.ts";
import {
  Pop3AuthenticationError,
  Pop3Error,
  Pop3NotSupportedError,
  Pop3ResponseError,
  Pop3ServerDisconnectedError,
} from "./errors.ts";
import { chooseLogin } from "./login.ts";
import {
  type Pop3ClientOptions,
  type Pop3LoginOptions,
  type ResolvedPop3Options,
  resolvePop3Options,
} from "./options.ts";
import { addCapability, announcedSize } from "./parse.ts";

const CAPA_MAX_BYTES = 1 << 20;
/**
 * RFC 2449 §4 and RFC 5034 §4: a command line, CRLF included, is at most
 * 255 octets; the SASL exchange counts without the CRLF.
 */
const MAX_AUTH_LINE = 253;
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * One client's connection state and the protocol steps the public methods
 * are made of. Each step takes the deadline of the public call it runs in.
 * @internal
 */
export class Pop3Connection {
  readonly o: ResolvedPop3Options;
  readonly session: Session;
  welcome: string | undefined;
  timestamp: string | undefined;
  /** Last known capabilities; undefined: not asked yet (or stale after login/STLS). */
  capa: Map<string, string[]> | undefined;
  /** The `-ERR` to the last CAPA, when the server has none. */
  capaRefusal: Pop3Status | undefined;
  /** `capa` is from before login (kept until a capability it lacks is wanted). */
  capaStale = false;
  /** Message sizes from the last LIST (preallocation, pipeline windows). */
  sizes: Map<number, number> | undefined;
  authenticated = false;
  utf8 = false;
  /** The open message stream, if any: the connection is busy until it ends. */
  stream: object | undefined;

  /** `cls`: the client class being built (it names the options). */
  constructor(options: Pop3ClientOptions | undefined, cls: { name: string }) {
    const o = resolvePop3Options(options, cls.name);
    this.o = o;
    this.session = new Session(
      sessionConfig(
        "pop3",
        o,
        defaultConnector,
        (message, opts) => new Pop3ServerDisconnectedError(message, opts),
      ),
    );
  }

  get connected(): boolean {
    return this.session.connected;
  }

  get secure(): boolean {
    return this.session.secure;
  }

  hasCapability(name: string): boolean {
    return this.capa?.has(name.toUpperCase()) ?? false;
  }

  /** One public call: not while a message stream is open, in turn, one deadline. */
  async run<T>(
    call: SessionCall | undefined,
    phase: string,
    fn: (d: Deadline) => Promise<T>,
    connect = false,
  ): Promise<T> {
    this.notStreaming();
    return await this.session.run(call, phase, (d) => {
      this.notStreaming();
      return fn(d);
    }, { connect });
  }

  /** Refuse while a message stream holds the connection. */
  notStreaming(): void {
    if (this.stream) {
      throw new Pop3Error(
        "connection busy: a message stream is open; read it to the end or cancel it",
      );
    }
  }

  /** Open, greet, STLS and log in as the options say. */
  async connect(d: Deadline): Promise<Pop3Status> {
    if (this.connected) throw new Pop3Error("already connected");
    this.forget();
    this.welcome = undefined;
    this.timestamp = undefined;
    return await this.session.establish(d, async () => {
      const greeting = await this.session.greeting(() => this.status(d), {
        implicitPort: 995,
        looksLike: /"[2-5]\d\d[ -]/,
        other: "this is an smtp server; use SmtpClient",
      });
      if (!greeting.ok) {
        throw new Pop3ResponseError("server refused the connection", greeting);
      }
      this.welcome = greeting.text;
      this.timestamp = findApopTimestamp(greeting.text);
      if (this.o.tls === "starttls") {
        await this.capabilities(d);
        this.session.phase = "stls";
        if (!this.hasCapability("STLS")) {
          throw new Pop3NotSupportedError(
            'server does not offer stls; refusing to continue without tls (tls: "implicit" if the port expects tls from the first byte, "none" to allow clear text)',
          );
        }
        await this.stls({}, d);
      }
      if (this.o.auth) {
        const { mechanism, apop, ...credentials } = this.o.auth;
        await this.login(credentials, { mechanism, apop }, d);
      }
      return greeting;
    }, () => this.close());
  }

  /** Forget what this connection learned (after a close, or STLS). */
  forget(): void {
    this.capa = undefined;
    this.capaStale = false;
    this.sizes = undefined;
    this.capaRefusal = undefined;
    this.authenticated = false;
    this.utf8 = false;
    this.stream = undefined;
  }

  /** Close without QUIT (deletions are never committed). */
  async close(): Promise<void> {
    this.authenticated = false;
    this.stream = undefined;
    await this.session.close();
  }

  /**
   * Send lines in one write (CR/LF/NUL refused, unsolicited bytes close the
   * connection unless `midBatch`); the transcript shows them redacted.
   */
  send(
    lines: readonly string[],
    d: Deadline,
    log?: readonly string[],
    midBatch = false,
  ): Promise<void> {
    return this.session.io((ch) =>
      ch.sendCommands(lines, d, {
        log: log ?? (ch.logging ? lines.map(redact) : undefined),
        midBatch,
      })
    );
  }

  /** Read and log one status line (strict: anything but +OK/-ERR closes). */
  async status(d: Deadline): Promise<Pop3Status> {
    const status = await this.session.io((ch) =>
      readPop3Status(ch.reader, d, ch.abort)
    );
    const ch = this.session.channel;
    if (ch.logging) ch.log("server", statusLine(status));
    return status;
  }

  async cmd(line: string, d: Deadline): Promise<Pop3Status> {
    await this.send([line], d);
    return await this.status(d);
  }

  /** A command that must succeed: `-ERR` is a Pop3ResponseError. */
  async ok(line: string, d: Deadline, what: string): Promise<Pop3Status> {
    const status = await this.cmd(line, d);
    if (!status.ok) throw new Pop3ResponseError(what, status);
    return status;
  }

  /**
   * Read a multi-line body after its +OK. `longLines`: message content,
   * whose lines may be of any length (the total is still capped).
   */
  multiline(
    d: Deadline,
    longLines: boolean,
    onLine: (line: Uint8Array) => void,
    limits: MultilineLimits = { maxBytes: this.o.maxMessageBytes },
  ): Promise<void> {
    return this.session.io(async (ch) => {
      const reader = ch.reader;
      const cap = reader.maxLineLength;
      if (longLines) reader.maxLineLength = Math.max(cap, limits.maxBytes);
      try {
        await readMultiline(reader, d, limits, ch.abort, onLine);
      } finally {
        reader.maxLineLength = cap;
      }
    });
  }

  /**
   * Read a multi-line listing, one string per line: exact bytes as latin1
   * (UIDs, sizes), or UTF-8 text (CAPA). At most `maxListEntries` lines.
   */
  async lines(
    d: Deadline,
    what: string,
    options: { maxBytes?: number; text?: boolean } = {},
  ): Promise<string[]> {
    const ch = this.session.channel;
    const lines: string[] = [];
    await this.multiline(d, false, (line) => {
      const text = options.text ? utf8.decode(line) : latin1(line);
      if (ch.logging) ch.log("server", text);
      lines.push(text);
    }, {
      maxBytes: options.maxBytes ?? this.o.maxMessageBytes,
      maxLines: this.o.maxListEntries,
      what: `${what} (maxListEntries ${this.o.maxListEntries})`,
    });
    if (ch.logging) ch.log("server", ".");
    return lines;
  }

  /** Read a message body (RETR/TOP) after its +OK. */
  async body(
    status: Pop3Status,
    d: Deadline,
    id?: number,
  ): Promise<Uint8Array> {
    const buffer = new BodyBuffer(
      announcedSize(status.text) ??
        (id !== undefined ? this.sizes?.get(id) : undefined),
      this.o.maxMessageBytes,
    );
    await this.session.io((ch) =>
      readBody(
        ch.reader,
        d,
        this.o.maxMessageBytes,
        ch.abort,
        (bytes) => buffer.append(bytes),
      )
    );
    const ch = this.session.channel;
    if (ch.logging) {
      ch.log("server", `<${buffer.length} bytes of message data>`);
      ch.log("server", ".");
    }
    return buffer.bytes();
  }

  /** Parse with `parse`; a malformed answer closes the connection. */
  parse<T>(parse: () => T): T {
    try {
      return parse();
    } catch (err) {
      if (err instanceof ProtocolError) void this.close();
      throw err;
    }
  }

  /** CAPA when not known yet; a server without CAPA has no capabilities. */
  async capabilities(d: Deadline): Promise<Map<string, string[]>> {
    if (this.capa) return this.capa;
    const before = this.session.phase;
    this.session.phase = "capa";
    const status = await this.cmd("CAPA", d);
    if (!status.ok) {
      this.capaRefusal = status;
      this.capa = new Map();
      this.session.phase = before;
      return this.capa;
    }
    const capa = new Map<string, string[]>();
    for (
      const line of await this.lines(d, "capa response", {
        maxBytes: CAPA_MAX_BYTES,
        text: true,
      })
    ) {
      addCapability(capa, line);
    }
    this.capaRefusal = undefined;
    this.capa = capa;
    this.session.phase = before;
    return capa;
  }

  /**
   * Whether the server offers `name`. A list from before login that lacks
   * it is asked for again (once) after login.
   */
  async has(name: string, d: Deadline): Promise<boolean> {
    let capa = await this.capabilities(d);
    if (!capa.has(name) && this.capaStale) {
      this.capa = undefined;
      this.capaStale = false;
      capa = await this.capabilities(d);
    }
    return capa.has(name);
  }

  /** When the server lists capabilities and lacks `name`: Pop3NotSupportedError. */
  async need(name: string, d: Deadline): Promise<void> {
    await this.has(name, d);
    const capa = await this.capabilities(d);
    if (!this.capaRefusal && !capa.has(name)) {
      throw new Pop3NotSupportedError(
        `server does not offer ${name.toLowerCase()}`,
      );
    }
  }

  /** STLS, the upgrade, and CAPA again. */
  async stls(options: TlsOptions, d: Deadline): Promise<Pop3Status> {
    const s = this.session;
    if (this.secure) throw new Pop3Error("tls is already active");
    if (this.authenticated) {
      throw new Pop3Error("stls is only allowed before login");
    }
    const capa = await this.capabilities(d);
    s.phase = "stls";
    if (!capa.has("STLS")) {
      throw new Pop3NotSupportedError("server does not offer stls");
    }
    const status = await this.cmd("STLS", d);
    if (!status.ok) {
      await this.close();
      throw new Pop3NotSupportedError(
        `server refused stls: -ERR ${status.text}`,
        { cause: new Pop3ResponseError("stls refused", status) },
      );
    }
    await s.upgrade(options, d);
    this.capa = undefined;
    await this.capabilities(d);
    return status;
  }

  /** Refuse credentials over clear text unless allowed (the same words on every client). */
  insecure(): void {
    refuseInsecureAuth(this.secure, this.o.allowInsecureAuth);
  }

  notAuthenticated(): void {
    if (this.authenticated) throw new Pop3Error("already authenticated");
  }

  loggedIn(): void {
    this.authenticated = true;
    // May change after login (RFC 2449 §5): kept, but asked again when a
    // capability it lacks is wanted.
    if (this.capa) this.capaStale = true;
  }

  /** Log in, choosing SASL, APOP or USER/PASS (see chooseLogin). */
  /**
   * Log in; a token provider is asked for the token, and once more (with
   * one more attempt) after a failed XOAUTH2/OAUTHBEARER login.
   */
  login(
    credentials: TokenCredentials,
    options: Pop3LoginOptions,
    d: Deadline,
  ): Promise<Pop3Status> {
    // Checked before a byte is sent (CAPA included).
    return loginWithProvider(
      credentials,
      d,
      (c) => this.loginOnce(c, options, d),
      (err) =>
        err instanceof Pop3AuthenticationError && this.connected &&
        !this.authenticated,
    );
  }

  async loginOnce(
    credentials: Credentials,
    options: Pop3LoginOptions,
    d: Deadline,
  ): Promise<Pop3Status> {
    this.session.phase = "auth"; // a refusal below is the login's
    assertCredentials(credentials); // before a byte is sent (CAPA included)
    checkCredentials(credentials); // types, control characters, lone surrogates
    this.notAuthenticated();
    this.insecure();
    const forced = options.mechanism?.toUpperCase();
    const capa = forced === "USER" || forced === "APOP"
      ? undefined
      : await this.capabilities(d);
    this.session.phase = "auth";
    const method = chooseLogin({
      credentials,
      forced,
      sasl: capa?.get("SASL") ?? [],
      timestamp: this.timestamp,
      secure: this.secure,
      allowInsecureAuth: this.o.allowInsecureAuth,
      apop: options.apop,
      preference: options.preference,
      custom: this.o.mechanisms,
    });
    let status: Pop3Status;
    if (method.kind === "user") {
      status = await this.userPass(credentials.username, method.password, d);
    } else if (method.kind === "apop") {
      status = await this.apop(credentials.username, method.password, d);
    } else {
      status = await this.auth(method.mechanism, options, d);
    }
    // No CAPA after login unless a capability is wanted that the list from
    // before login lacked (see `has`): it would change nothing.
    return status;
  }

  async userPass(
    username: string,
    password: string,
    d: Deadline,
  ): Promise<Pop3Status> {
    let user: Pop3Status, pass: Pop3Status;
    if (this.o.pipelining && this.capa?.has("PIPELINING")) {
      // One round trip (RFC 2449 §6.6); a refused USER makes PASS fail too.
      await this.send([`USER ${username}`, `PASS ${password}`], d);
      user = await this.status(d);
      pass = await this.status(d);
      if (!user.ok) throw new Pop3AuthenticationError("user refused", user);
    } else {
      user = await this.cmd(`USER ${username}`, d);
      if (!user.ok) throw new Pop3AuthenticationError("user refused", user);
      pass = await this.cmd(`PASS ${password}`, d);
    }
    if (!pass.ok) {
      throw new Pop3AuthenticationError("authentication failed", pass);
    }
    this.loggedIn();
    return pass;
  }

  async apop(
    username: string,
    secret: string,
    d: Deadline,
  ): Promise<Pop3Status> {
    const timestamp = this.timestamp;
    if (timestamp === undefined) {
      throw new Pop3NotSupportedError("server greeting has no apop timestamp");
    }
    const status = await this.cmd(
      `APOP ${username} ${apopDigest(timestamp, secret)}`,
      d,
    );
    if (!status.ok) {
      throw new Pop3AuthenticationError("authentication failed", status);
    }
    this.loggedIn();
    return status;
  }

  /** AUTH with any SASL mechanism (RFC 5034). */
  async auth(
    mechanism: SaslMechanism,
    options: Pop3LoginOptions,
    d: Deadline,
  ): Promise<Pop3Status> {
    this.notAuthenticated();
    this.insecure();
    const capa = await this.capabilities(d);
    this.session.phase = "auth";
    const sasl = capa.get("SASL");
    if (
      !this.capaRefusal &&
      !sasl?.some((m) => m.toUpperCase() === mechanism.name.toUpperCase())
    ) {
      throw new Pop3NotSupportedError(
        `server does not offer sasl mechanism ${mechanism.name}`,
      );
    }
    let final: Pop3Status | undefined;
    const exchange = saslExchange(this.session, d, mechanism, {
      read: async (rd) => {
        const reply = await this.saslReply(rd);
        if ("continuation" in reply) {
          return { done: false, challenge: reply.text };
        }
        if (!reply.ok) {
          throw new Pop3AuthenticationError("authentication failed", reply);
        }
        final = reply;
        return { done: true };
      },
      initialResponse: options.initialResponse ?? true,
      maxInitialLine: MAX_AUTH_LINE,
    });
    try {
      await exchange;
    } catch (err) {
      // A failed token login carries the server's decoded OAuth error.
      const text = (mechanism as { error?: unknown }).error;
      if (err instanceof Pop3AuthenticationError && typeof text === "string") {
        err.oauth = parseOAuthError(text);
      }
      throw err;
    }
    this.loggedIn();
    return final!;
  }

  /** A status or a `+ challenge` line. */
  async saslReply(d: Deadline): Promise<Pop3Status | Pop3Continuation> {
    const reply = await this.session.io(async (ch) => {
      const line = ch.reader.tryReadLine(d) ?? await ch.reader.readLine(d);
      try {
        return parsePop3Status(line, true);
      } catch (err) {
        ch.abort();
        throw err;
      }
    });
    const ch = this.session.channel;
    if (ch.logging) {
      ch.log(
        "server",
        "continuation" in reply ? `+ ${reply.text}` : statusLine(reply),
      );
    }
    return reply;
  }

  /** USER, sent by hand (poplib's `user`). */
  async userStep(username: string, d: Deadline): Promise<Pop3Status> {
    assertSafe(username, "username");
    this.notAuthenticated();
    this.insecure();
    const status = await this.cmd(`USER ${username}`, d);
    if (!status.ok) throw new Pop3AuthenticationError("user refused", status);
    return status;
  }

  /** PASS (or RPOP) by hand: logged in on `+OK`. */
  async passStep(
    verb: "PASS" | "RPOP",
    secret: string,
    d: Deadline,
  ): Promise<Pop3Status> {
    assertSafe(secret, verb === "PASS" ? "password" : "username");
    this.notAuthenticated();
    if (verb === "PASS") this.insecure();
    const status = await this.cmd(`${verb} ${secret}`, d);
    if (!status.ok) {
      throw new Pop3AuthenticationError("authentication failed", status);
    }
    this.loggedIn();
    return status;
  }

  /** APOP by hand: refused before a byte without a greeting timestamp. */
  apopStep(username: string, secret: string, d: Deadline): Promise<Pop3Status> {
    assertSafe(username, "username");
    assertSafe(secret, "secret");
    this.notAuthenticated();
    if (this.timestamp === undefined) {
      throw new Pop3NotSupportedError("server greeting has no apop timestamp");
    }
    this.insecure();
    return this.apop(username, secret, d);
  }

  /** UTF8 (RFC 6856), before login, when offered. */
  async utf8Step(d: Deadline): Promise<Pop3Status> {
    this.notAuthenticated();
    const capa = await this.capabilities(d);
    if (!capa.has("UTF8")) {
      throw new Pop3NotSupportedError("server does not offer utf8");
    }
    const status = await this.ok("UTF8", d, "utf8");
    this.utf8 = true;
    return status;
  }

  /** A raw single-line command (checked); credentials only under TLS. */
  async commandStep(line: string, d: Deadline): Promise<Pop3Status> {
    const verb = checkRawCommand(line);
    if (verb === "USER" || verb === "PASS" || verb === "APOP") this.insecure();
    const status = await this.cmd(line, d);
    if (status.ok && (verb === "PASS" || verb === "APOP" || verb === "RPOP")) {
      this.loggedIn();
    }
    return status;
  }
}
