/**
 * The error hierarchy shared by every part of mailwire: connection, TLS,
 * deadline, abort, protocol, input and authentication failures. It belongs
 * to no transport: `tls/`, `io/`, `auth/` and the clients all import it.
 * Protocol-specific errors (SMTP, POP3) extend {@linkcode MailwireError} too,
 * so one `instanceof` catches everything.
 *
 * @module
 */

/**
 * Base class of every error mailwire throws.
 *
 * @example Catch any mailwire failure
 * ```ts
 * import { MailwireError } from "@mailwire/mailwire/tls";
 * const err: unknown = new MailwireError("boom");
 * console.log(err instanceof MailwireError); // true
 * ```
 */
export class MailwireError extends Error {
  /**
   * The step of the session that failed (`"connect"`, `"greeting"`,
   * `"ehlo"`, `"starttls"`, `"tls"`, `"auth"`, `"mail"`, `"rcpt"`, `"data"`,
   * `"capa"`, `"retr"`, ...), set by the client when the error leaves one
   * of its calls; the message names it too.
   */
  phase?: string;
  /**
   * The server as `host:port` (or the Unix socket path), set by the client
   * together with {@linkcode MailwireError.phase}.
   */
  server?: string;
  /**
   * Create an error with a lowercase message and an optional cause.
   *
   * @example
   * ```ts
   * import { MailwireError } from "@mailwire/mailwire/tls";
   * const err = new MailwireError("connection failed", { cause: new Error("ECONNRESET") });
   * console.log(err.name, (err.cause as Error).message); // "MailwireError" "ECONNRESET"
   * ```
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A deadline passed. The connection was closed: its state is unknown.
 *
 * @example
 * ```ts
 * import { TimeoutError } from "@mailwire/mailwire/tls";
 * const err = new TimeoutError("reply not received within 1000 ms", 1000);
 * console.log(err.timeout); // 1000
 * ```
 */
export class TimeoutError extends MailwireError {
  /** The deadline in milliseconds that passed. */
  readonly timeout: number;
  /**
   * Create a timeout error for a deadline of `timeout` milliseconds.
   *
   * @example
   * ```ts
   * import { TimeoutError } from "@mailwire/mailwire/tls";
   * const err = new TimeoutError("no reply within 5000 ms", 5000);
   * console.log(err.name, err.timeout); // "TimeoutError" 5000
   * ```
   */
  constructor(message: string, timeout: number, options?: ErrorOptions) {
    super(message, options);
    this.timeout = timeout;
  }
}

/**
 * The caller's `AbortSignal` fired. The connection was closed. `cause` holds
 * the signal's reason.
 *
 * @example
 * ```ts
 * import { AbortedError } from "@mailwire/mailwire/tls";
 * const err = new AbortedError("operation aborted", { cause: "user" });
 * console.log(err.cause); // "user"
 * ```
 */
export class AbortedError extends MailwireError {}

/**
 * The TCP connection could not be opened (refused, unreachable, DNS).
 *
 * @example
 * ```ts
 * import { ConnectError } from "@mailwire/mailwire/tls";
 * console.log(new ConnectError("connection refused").message);
 * ```
 */
export class ConnectError extends MailwireError {}

/**
 * The TLS handshake failed: untrusted or expired certificate, wrong host
 * name, or a peer that does not speak TLS.
 *
 * @example
 * ```ts
 * import { TlsError } from "@mailwire/mailwire/tls";
 * console.log(new TlsError("certificate not trusted").name); // "TlsError"
 * ```
 */
export class TlsError extends MailwireError {
  /**
   * What went wrong, when the connector could tell: `"untrusted"` (no
   * trusted CA signed the certificate: pass the CA in `caCerts`),
   * `"name-mismatch"` (the certificate is for another name: check
   * `hostname`/`servername`), `"expired"` (or not yet valid), `"not-tls"`
   * (the peer answered in clear text: a STARTTLS port reached with implicit
   * TLS), or `"other"`.
   */
  readonly reason: TlsFailure;
  /**
   * Create a TLS error; `reason` defaults to `"other"`.
   *
   * @example
   * ```ts
   * import { TlsError } from "@mailwire/mailwire/tls";
   * const err = new TlsError("certificate not trusted", { reason: "untrusted" });
   * console.log(err.reason); // "untrusted"
   * ```
   */
  constructor(
    message: string,
    options?: ErrorOptions & { reason?: TlsFailure },
  ) {
    super(message, options);
    this.reason = options?.reason ?? "other";
  }
}

/**
 * Why a TLS handshake failed (see {@linkcode TlsError.reason}).
 *
 * @example
 * ```ts
 * import type { TlsFailure } from "@mailwire/mailwire/tls";
 * const reason: TlsFailure = "name-mismatch";
 * console.log(reason);
 * ```
 */
export type TlsFailure =
  | "untrusted"
  | "name-mismatch"
  | "expired"
  | "not-tls"
  | "other";

/**
 * The peer closed the connection (or reset it) while mailwire still expected
 * data, or a write failed because the peer went away.
 *
 * @example
 * ```ts
 * import { ConnectionClosedError } from "@mailwire/mailwire/tls";
 * console.log(new ConnectionClosedError("connection closed").name);
 * ```
 */
export class ConnectionClosedError extends MailwireError {}

/**
 * The peer broke the protocol: a malformed or oversized reply, an endless
 * line, or bytes sent before a TLS upgrade (an injection attempt). The
 * connection is closed.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "@mailwire/mailwire/tls";
 * console.log(new ProtocolError("line longer than 8192 bytes").message);
 * ```
 */
export class ProtocolError extends MailwireError {}

/**
 * An argument the caller passed can't be sent safely: CR, LF or NUL in an
 * address, command, username or password (command injection), or a value
 * the protocol can't carry. Thrown before a single byte is sent.
 *
 * @example
 * ```ts
 * import { InvalidInputError } from "@mailwire/mailwire/tls";
 * console.log(new InvalidInputError("address contains a line break").name);
 * ```
 */
export class InvalidInputError extends MailwireError {}

/**
 * Authentication failed on the client side: unusable or unsafe credentials,
 * no acceptable mechanism, credentials refused over a connection without
 * TLS, or a server that broke the SASL exchange (invalid base64 challenge,
 * success reported too early, too many challenges).
 *
 * A server that simply rejects the credentials (SMTP `535`, POP3 `-ERR`) is
 * reported by the protocol client's own error instead. Messages never
 * contain a secret.
 *
 * @example Tell authentication failures apart
 * ```ts
 * import { AuthError, validateCredentials } from "@mailwire/mailwire/auth";
 *
 * try {
 *   validateCredentials({ username: "tim\u0001", password: "secret" });
 * } catch (err) {
 *   console.log(err instanceof AuthError); // true
 * }
 * ```
 */
export class AuthError extends MailwireError {}
