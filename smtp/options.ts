// SmtpClient's options and per-call options, with the strict checking and defaults applied at construction.

import type { Credentials } from "../auth/mechanism.ts";
import type { TokenProvider } from "../io/oauth.ts";
import {
  authOption,
  checkClientOptions,
  type ClientOptions,
  resolveClientOptions,
  type ResolvedClientOptions,
  tlsOption,
} from "../io/client_options.ts";
import {
  boolean,
  positiveInteger,
  safeString,
  type Spec,
} from "../io/options.ts";
import type { DkimOptions } from "../message/dkim.ts";
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
export interface SmtpAuthOptions extends Omit<Credentials, "accessToken"> {
  /**
   * An OAuth 2 access token (XOAUTH2/OAUTHBEARER), or a provider of one:
   * asked at each login, and once more (with one more attempt) after a
   * failed token login.
   */
  accessToken?: string | TokenProvider;
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
export interface SmtpClientOptions extends ClientOptions {
  /** Unix socket path instead of host and port (LMTP). */
  path?: string;
  /** TLS mode. Default `"implicit"` on port 465, else `"starttls"` (LMTP: `"none"`). */
  tls?: SmtpTlsMode;
  /** Name sent with EHLO/HELO/LHLO. Default `"localhost"`. */
  localName?: string;
  /** Log in during `connect()`. */
  auth?: SmtpAuthOptions;
  /** Use BDAT (CHUNKING) for in-memory messages when offered. Default true. */
  chunking?: boolean;
  /** Most lines in one reply (EHLO included). Default 10 000. */
  maxReplyLines?: number;
  /** Most bytes in one reply. Default 1 MiB. */
  maxReplyBytes?: number;
  /** Sign every message given to `send()` or `sendMessage()` with DKIM. */
  dkim?: DkimOptions;
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
export interface ResolvedSmtpOptions extends ResolvedClientOptions {
  port: number;
  path?: string;
  tls: SmtpTlsMode;
  localName: string;
  auth?: SmtpAuthOptions;
  chunking: boolean;
  maxReplyLines: number;
  maxReplyBytes: number;
  dkim?: DkimOptions;
}

/** DKIM options: an object (its fields are checked when signing). */
function dkimOption(value: unknown, name: string): void {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(
      `${name} must be { domain, selector, privateKey, algorithm }`,
    );
  }
}

/** SmtpClient's own options (beyond the shared ones) with their checks. @internal */
export const SMTP_SPEC: Spec = {
  path: safeString,
  tls: tlsOption(["starttls", "implicit", "opportunistic", "none"]),
  localName: safeString,
  auth: authOption(),
  chunking: boolean,
  maxReplyLines: positiveInteger(1 << 24),
  maxReplyBytes: positiveInteger(1 << 30),
  dkim: dkimOption,
};

/** Check `options` and apply the defaults. Throws TypeError/RangeError. @internal */
export function resolveSmtpOptions(
  options: SmtpClientOptions | undefined,
  dialect: Dialect,
  owner: string,
): ResolvedSmtpOptions {
  checkClientOptions(options, SMTP_SPEC, owner);
  const o = options ?? {};
  const tls = o.tls ?? dialect.defaultTls(o.port);
  return {
    ...resolveClientOptions(o),
    port: o.port ?? dialect.defaultPort(tls),
    path: o.path,
    tls,
    localName: o.localName ?? "localhost",
    auth: o.auth,
    chunking: o.chunking ?? true,
    maxReplyLines: o.maxReplyLines ?? 10_000,
    maxReplyBytes: o.maxReplyBytes ?? 1 << 20,
    dkim: o.dkim,
  };
}
