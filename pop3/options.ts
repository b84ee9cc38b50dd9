// Pop3Client's options and per-call options, with the strict checking and defaults applied at construction.

import type { Credentials } from "../auth/mechanism.ts";
import type { TokenProvider } from "../io/oauth.ts";
import {
  authOption,
  checkClientOptions,
  type ClientOptions,
  resolveClientOptions,
  type ResolvedClientOptions,
  tlsModeHint,
  tlsOption,
} from "../io/client_options.ts";
import { boolean, positiveInteger, type Spec } from "../io/options.ts";

/**
 * How TLS is used.
 * - `"starttls"`: connect in clear, then STLS before anything else; a server
 *   without STLS, or refusing it, is an error (default, port 110).
 * - `"implicit"`: TLS from the first byte (POP3S, port 995).
 * - `"none"`: never TLS (explicit opt-in; logging in then needs
 *   `allowInsecureAuth`).
 *
 * Any other value is refused when the client is created: a mode can never
 * silently mean clear text.
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
export interface Pop3AuthOptions extends Omit<Credentials, "accessToken"> {
  /**
   * An OAuth 2 access token (XOAUTH2/OAUTHBEARER), or a provider of one:
   * asked at each login, and once more (with one more attempt) after a
   * failed token login.
   */
  accessToken?: string | TokenProvider;
  /**
   * Force a method: a SASL mechanism name (e.g. `"PLAIN"`), `"APOP"` or
   * `"USER"` (USER/PASS). Default: see {@linkcode Pop3Client.login}.
   */
  mechanism?: string;
  /** `true`: use APOP when the greeting has a timestamp and no SASL mechanism fits. Default: never APOP. */
  apop?: boolean;
}

/**
 * Options of {@linkcode Pop3Client}. Every key is checked when the client
 * is created: an unknown key, a wrong type or an out-of-range value is a
 * `TypeError` or `RangeError` naming the option (with a hint for names
 * other libraries use, such as `host`, `secure` or `user`).
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
export interface Pop3ClientOptions extends ClientOptions {
  /** TLS mode. Default `"implicit"` on port 995, else `"starttls"`. */
  tls?: Pop3TlsMode;
  /** Log in during `connect()`. */
  auth?: Pop3AuthOptions;
  /** Most bytes in one multi-line response (a message, a listing). Default 256 MiB. Message lines have no limit of their own. */
  maxMessageBytes?: number;
  /** Most entries in one LIST or UIDL listing (or CAPA lines). Default 1 000 000. */
  maxListEntries?: number;
}

/**
 * Per-call deadline and cancellation, taken by every method.
 *
 * @example Per-call deadlines
 * ```ts
 * import type { Pop3CallOptions, Pop3Client } from "@mailwire/mailwire/pop3";
 * async function fetchBig(client: Pop3Client) {
 *   const slow: Pop3CallOptions = { timeout: 300_000 }; // 5 minutes for a big one
 *   const raw = await client.retr(1, slow);
 *   await client.noop({ signal: AbortSignal.timeout(5_000) });
 *   return raw;
 * }
 * console.log(typeof fetchBig); // "function"
 * ```
 */
export interface Pop3CallOptions {
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
 * Options of {@linkcode Pop3Client.login}.
 *
 * @example Never APOP, and a 10-second deadline
 * ```ts
 * import type { Pop3Client, Pop3LoginOptions } from "@mailwire/mailwire/pop3";
 * async function login(client: Pop3Client, password: string) {
 *   const options: Pop3LoginOptions = { apop: false, timeout: 10_000 };
 *   await client.login("me@example.com", password, options);
 * }
 * console.log(typeof login); // "function"
 * ```
 */
export interface Pop3LoginOptions extends Pop3CallOptions {
  /** Force a method: a SASL mechanism name, `"APOP"` or `"USER"`. */
  mechanism?: string;
  /** Preference order of SASL mechanism names. */
  preference?: string[];
  /** `true`: use APOP when the greeting has a timestamp and no SASL mechanism fits. Default: never APOP. */
  apop?: boolean;
  /** Send the SASL initial response with the AUTH command when it fits (default true). */
  initialResponse?: boolean;
}

/** The options with every default applied. @internal */
export interface ResolvedPop3Options extends ResolvedClientOptions {
  port: number;
  tls: Pop3TlsMode;
  auth?: Pop3AuthOptions;
  maxMessageBytes: number;
  maxListEntries: number;
}

/** Why a `tls` value is refused. */
function tlsHint(value: unknown): string | undefined {
  if (value === "opportunistic") {
    return "pop3 has no opportunistic mode: a mailbox login needs tls";
  }
  return tlsModeHint(value);
}

/** Pop3Client's own options (beyond the shared ones) with their checks. @internal */
export const POP3_SPEC: Spec = {
  tls: tlsOption(["starttls", "implicit", "none"], tlsHint),
  auth: authOption({ apop: boolean }),
  maxMessageBytes: positiveInteger(2 ** 40),
  maxListEntries: positiveInteger(1 << 30),
};

/** Check `options` and apply the defaults. Throws TypeError/RangeError. @internal */
export function resolvePop3Options(
  options: Pop3ClientOptions | undefined,
  owner: string,
): ResolvedPop3Options {
  checkClientOptions(options, POP3_SPEC, owner);
  const o = options ?? {};
  const tls = o.tls ?? (o.port === 995 ? "implicit" : "starttls");
  return {
    ...resolveClientOptions(o),
    port: o.port ?? (tls === "implicit" ? 995 : 110),
    tls,
    auth: o.auth,
    maxMessageBytes: o.maxMessageBytes ?? 256 << 20,
    maxListEntries: o.maxListEntries ?? 1_000_000,
  };
}
