// SmtpClient's options and per-call options, with the strict checking and defaults applied at construction.

import type { Credentials, MechanismFactory } from "../auth/mechanism.ts";
import type { Logger } from "../io/log.ts";
import {
  arrayOf,
  boolean,
  checkOptions,
  FOREIGN_HINTS,
  func,
  hostname,
  mapOf,
  object,
  oneOf,
  port,
  positiveInteger,
  safeString,
  signal,
  type Spec,
  string,
  timeout,
} from "../io/options.ts";
import type { Connector, TlsOptions } from "../tls/conn.ts";
import type { Dialect } from "./dialect.ts";

/**
 * How TLS is used.
 * - `"starttls"`: connect in clear, then STARTTLS before anything else; a
 *   server without STARTTLS, or refusing it, is an error (default, port 587/25).
 * - `"implicit"`: TLS from the first byte (SMTPS, port 465).
 * - `"opportunistic"`: STARTTLS when offered, else stay in clear (relaying
 *   to an MX); credentials are still never sent in clear.
 * - `"none"`: never TLS (explicit opt-in; AUTH then needs `allowInsecureAuth`).
 *
 * Any other value is refused when the client is created: a mode can never
 * silently mean clear text.
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
 * Options of {@linkcode SmtpClient}. Every key is checked when the client
 * is created: an unknown key, a wrong type or an out-of-range value is a
 * `TypeError` or `RangeError` naming the option (with a hint for names
 * other libraries use, such as `host`, `secure` or `auth.user`).
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
  /** TLS mode. Default `"implicit"` on port 465, else `"starttls"` (LMTP: `"none"`). */
  tls?: SmtpTlsMode;
  /** Name sent with EHLO/HELO/LHLO. Default `"localhost"`. */
  localName?: string;
  /** Local address to bind before connecting (smtplib's `source_address`). */
  localAddress?: string;
  /** Local port to bind before connecting. */
  localPort?: number;
  /**
   * Deadline in ms of each call as a whole (a command and its reply, a
   * whole `sendMail` with its message data). Default 60 000; `Infinity`
   * for none. For large messages on slow links, pass a larger `timeout`
   * to that call.
   */
  timeout?: number;
  /**
   * Deadline in ms of `connect()` as a whole: TCP, greeting, EHLO,
   * STARTTLS, EHLO again and AUTH. Default 30 000, or `timeout` when that
   * is shorter.
   */
  connectTimeout?: number;
  /** Aborts whatever the client is doing and closes the connection; later calls are refused. */
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
  /** Most lines in one reply (EHLO included). Default 10 000. */
  maxReplyLines?: number;
  /** Most bytes in one reply. Default 1 MiB. */
  maxReplyBytes?: number;
}

/**
 * Per-call deadline and cancellation, taken by every method.
 *
 * @example A 5-second deadline for one call
 * ```ts
 * import type { SmtpCallOptions, SmtpClient } from "@mailwire/mailwire/smtp";
 * async function ping(client: SmtpClient) {
 *   const call: SmtpCallOptions = { timeout: 5_000, signal: AbortSignal.timeout(10_000) };
 *   return await client.noop(call);
 * }
 * console.log(typeof ping); // "function"
 * ```
 */
export interface SmtpCallOptions {
  /**
   * Aborts this call. While it still waits for earlier calls it just gives
   * up its turn (an AbortedError; nothing sent, the connection untouched);
   * once it has started, the connection is closed (its state is unknown).
   */
  signal?: AbortSignal;
  /** Deadline for this whole call in ms, instead of the client's `timeout`. */
  timeout?: number;
}

/**
 * Options of {@linkcode SmtpClient.login}.
 *
 * @example
 * ```ts
 * import type { SmtpClient, SmtpLoginOptions } from "@mailwire/mailwire/smtp";
 * async function login(client: SmtpClient) {
 *   const options: SmtpLoginOptions = { preference: ["PLAIN", "LOGIN"], timeout: 10_000 };
 *   await client.login("me@example.com", "secret", options);
 * }
 * console.log(typeof login); // "function"
 * ```
 */
export interface SmtpLoginOptions extends SmtpCallOptions {
  /** Force a mechanism; default: the strongest the server offers. */
  mechanism?: string;
  /** Preference order of mechanism names. */
  preference?: string[];
  /** Send the initial response with the AUTH command (default true). */
  initialResponse?: boolean;
}

/** The options with every default applied. @internal */
export interface ResolvedSmtpOptions {
  hostname: string;
  port: number;
  path?: string;
  tls: SmtpTlsMode;
  tlsOptions: TlsOptions;
  localName: string;
  localAddress?: string;
  localPort?: number;
  timeout: number;
  connectTimeout: number;
  signal?: AbortSignal;
  connector?: Connector;
  logger?: Logger;
  auth?: SmtpAuthOptions;
  allowInsecureAuth: boolean;
  mechanisms?: ReadonlyMap<string, MechanismFactory>;
  pipelining: boolean;
  chunking: boolean;
  maxLineLength: number;
  maxReplyLines: number;
  maxReplyBytes: number;
}

const TLS_MODES = ["starttls", "implicit", "opportunistic", "none"] as const;

/** Why a `tls` value is refused, for the common mistakes. */
function tlsHint(value: unknown): string | undefined {
  if (value === true) return 'use tls: "implicit" (or the default "starttls")';
  if (value === false) return 'use tls: "none" to opt in to clear text';
  if (typeof value === "string") return "modes are lowercase";
  if (typeof value === "object" && value !== null) {
    return "tls is a mode string; certificates go in caCerts, the name in servername";
  }
  return undefined;
}

const AUTH_SPEC: Spec = {
  username: safeString,
  password: safeString,
  accessToken: safeString,
  authzid: safeString,
  mechanism: safeString,
};

const AUTH_HINTS = {
  user: 'use "username"',
  pass: 'use "password"',
  type: 'use "mechanism"',
  method: 'use "mechanism"',
};

/** Every option of SmtpClient with its check. @internal */
export const SMTP_SPEC: Spec = {
  hostname,
  port: port(),
  path: safeString,
  tls: oneOf(TLS_MODES, tlsHint),
  servername: hostname,
  caCerts: arrayOf(string),
  allowInvalidCertificates: boolean,
  localName: safeString,
  localAddress: hostname,
  localPort: port(),
  timeout,
  connectTimeout: timeout,
  signal,
  connector: func,
  logger: func,
  auth: object(AUTH_SPEC, AUTH_HINTS),
  allowInsecureAuth: boolean,
  mechanisms: mapOf(func),
  pipelining: boolean,
  chunking: boolean,
  maxLineLength: positiveInteger(1 << 30),
  maxReplyLines: positiveInteger(1 << 24),
  maxReplyBytes: positiveInteger(1 << 30),
};

/** Check `options` and apply the defaults. Throws TypeError/RangeError. @internal */
export function resolveSmtpOptions(
  options: SmtpClientOptions | undefined,
  dialect: Dialect,
  owner: string,
): ResolvedSmtpOptions {
  checkOptions(options, SMTP_SPEC, `${owner} options`, FOREIGN_HINTS);
  const o = options ?? {};
  if (
    o.auth && o.auth.password === undefined && o.auth.accessToken === undefined
  ) {
    throw new TypeError(
      `${owner} options: auth needs a password or an accessToken`,
    );
  }
  if (o.auth && o.auth.username === undefined) {
    throw new TypeError(`${owner} options: auth needs a username`);
  }
  const tls = o.tls ?? dialect.defaultTls(o.port);
  return {
    hostname: o.hostname ?? "localhost",
    port: o.port ?? dialect.defaultPort(tls),
    path: o.path,
    tls,
    tlsOptions: {
      servername: o.servername,
      caCerts: o.caCerts,
      allowInvalidCertificates: o.allowInvalidCertificates,
    },
    localName: o.localName ?? "localhost",
    localAddress: o.localAddress,
    localPort: o.localPort,
    timeout: o.timeout ?? 60_000,
    connectTimeout: o.connectTimeout ?? Math.min(o.timeout ?? 30_000, 30_000),
    signal: o.signal,
    connector: o.connector,
    logger: o.logger,
    auth: o.auth,
    allowInsecureAuth: o.allowInsecureAuth ?? false,
    mechanisms: o.mechanisms,
    pipelining: o.pipelining ?? true,
    chunking: o.chunking ?? true,
    maxLineLength: o.maxLineLength ?? 8192,
    maxReplyLines: o.maxReplyLines ?? 10_000,
    maxReplyBytes: o.maxReplyBytes ?? 1 << 20,
  };
}
