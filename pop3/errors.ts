import type { Pop3Status } from "../io/pop3_status.ts";
import type { OAuthErrorInfo } from "../io/oauth.ts";
import { MailwireError } from "../errors.ts";

/**
 * Base class of the POP3 errors (poplib's `error_proto`). Connection, TLS,
 * deadline and protocol failures are the shared errors of
 * `@mailwire/mailwire/tls`; every one of them extends `MailwireError`.
 *
 * @example
 * ```ts
 * import { Pop3Error } from "@mailwire/mailwire/pop3";
 * console.log(new Pop3Error("boom") instanceof Error); // true
 * ```
 */
export class Pop3Error extends MailwireError {}

/**
 * A response code (RFC 2449 §8, RFC 3206, RFC 6856): the known ones, or any
 * other a server sends.
 *
 * @example
 * ```ts
 * import type { Pop3RespCode } from "@mailwire/mailwire/pop3";
 * const code: Pop3RespCode = "LOGIN-DELAY";
 * console.log(code); // "LOGIN-DELAY"
 * ```
 */
export type Pop3RespCode =
  | "IN-USE"
  | "LOGIN-DELAY"
  | "SYS/TEMP"
  | "SYS/PERM"
  | "AUTH"
  | "UTF8"
  // deno-lint-ignore ban-types
  | (string & {});

/** RFC 2449/3206 response codes after which trying again later may work. */
const TEMPORARY: ReadonlySet<string> = new Set([
  "IN-USE",
  "LOGIN-DELAY",
  "SYS/TEMP",
]);

/**
 * The server answered `-ERR`. The connection stays usable (unless it was
 * the greeting). `respCode` carries the RFC 2449 response code when the
 * server sent one, and `temporary` / `invalidCredentials` tell a caller
 * whether to retry later or to fix the credentials.
 *
 * @example
 * ```ts
 * import { Pop3ResponseError } from "@mailwire/mailwire/pop3";
 * const err = new Pop3ResponseError("login failed", {
 *   ok: false,
 *   text: "mailbox locked by another session",
 *   respCode: "IN-USE",
 * });
 * console.log(err.respCode, err.temporary); // "IN-USE" true
 * ```
 */
export class Pop3ResponseError extends Pop3Error {
  /** The server's text after `-ERR`, without the response code. */
  readonly response: string;
  /** The RFC 2449 response code without brackets (`IN-USE`, `LOGIN-DELAY`, `SYS/TEMP`, `SYS/PERM`, `AUTH`...), if any. */
  readonly respCode: Pop3RespCode | undefined;

  /**
   * Create from a message and the server's `-ERR` status (its text is appended to the message).
   *
   * @example
   * ```ts
   * import { Pop3ResponseError } from "@mailwire/mailwire/pop3";
   *
   * const err = new Pop3ResponseError("retr failed", { ok: false, text: "no such message" });
   * console.log(err.message); // "retr failed: -ERR no such message"
   * ```
   */
  constructor(message: string, status: Pop3Status, options?: ErrorOptions) {
    const code = status.respCode ? `[${status.respCode}] ` : "";
    super(`${message}: -ERR ${code}${status.text}`.trimEnd(), options);
    this.response = status.text;
    this.respCode = status.respCode;
  }

  /**
   * `IN-USE`, `LOGIN-DELAY` or `SYS/TEMP`: the same request may work later.
   *
   * @example
   * ```ts
   * import { Pop3ResponseError } from "@mailwire/mailwire/pop3";
   *
   * const status = { ok: false, text: "try later", respCode: "LOGIN-DELAY" };
   * console.log(new Pop3ResponseError("login failed", status).temporary); // true
   * ```
   */
  get temporary(): boolean {
    return this.respCode !== undefined && TEMPORARY.has(this.respCode);
  }

  /**
   * `SYS/PERM`: a lasting server-side problem; retrying won't help.
   *
   * @example
   * ```ts
   * import { Pop3ResponseError } from "@mailwire/mailwire/pop3";
   *
   * const status = { ok: false, text: "mailbox broken", respCode: "SYS/PERM" };
   * console.log(new Pop3ResponseError("login failed", status).permanent); // true
   * ```
   */
  get permanent(): boolean {
    return this.respCode === "SYS/PERM";
  }

  /**
   * `AUTH` (RFC 3206): the credentials were wrong; fix them before retrying.
   *
   * @example
   * ```ts
   * import { Pop3ResponseError } from "@mailwire/mailwire/pop3";
   *
   * const status = { ok: false, text: "bad password", respCode: "AUTH" };
   * console.log(new Pop3ResponseError("login failed", status).invalidCredentials); // true
   * ```
   */
  get invalidCredentials(): boolean {
    return this.respCode === "AUTH";
  }
}

/**
 * Login failed: `-ERR` to PASS, APOP, RPOP or AUTH. mailwire does not try
 * another method with the same secret. Check `temporary` (mailbox in use,
 * login too soon) versus `invalidCredentials`.
 *
 * @example
 * ```ts
 * import { Pop3AuthenticationError } from "@mailwire/mailwire/pop3";
 * const err = new Pop3AuthenticationError("authentication failed", {
 *   ok: false,
 *   text: "invalid login",
 *   respCode: "AUTH",
 * });
 * console.log(err.invalidCredentials); // true
 * ```
 */
export class Pop3AuthenticationError extends Pop3ResponseError {
  /** A failed XOAUTH2/OAUTHBEARER login: the server's error decoded (status, scope). */
  oauth?: OAuthErrorInfo;
}

/**
 * The server closed the connection, or a method needing a connection was
 * called without one. Deletions are not committed unless a QUIT completed.
 *
 * @example
 * ```ts
 * import { Pop3ServerDisconnectedError } from "@mailwire/mailwire/pop3";
 * console.log(new Pop3ServerDisconnectedError("not connected").name);
 * ```
 */
export class Pop3ServerDisconnectedError extends Pop3Error {}

/**
 * The server lacks something the call needs (STLS, SASL, TOP, UIDL, UTF8,
 * an APOP timestamp), or refused STLS. Nothing was sent for that call,
 * except the refused STLS itself.
 *
 * @example
 * ```ts
 * import { Pop3NotSupportedError } from "@mailwire/mailwire/pop3";
 * console.log(new Pop3NotSupportedError("server does not offer top").message);
 * ```
 */
export class Pop3NotSupportedError extends Pop3Error {}
