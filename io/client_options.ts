// The options every mail client shares (server, TLS, deadlines, signal, transcript, auth policy), checked and resolved once.

import type { Credentials, MechanismFactory } from "../auth/mechanism.ts";
import type { Connector, TlsOptions } from "../tls/conn.ts";
import { AuthError, type MailwireError } from "../errors.ts";
import type { Logger } from "./log.ts";
import type { SessionConfig } from "./session.ts";
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
} from "./options.ts";

/**
 * Options every mailwire client takes (`SmtpClient`, `LmtpClient`,
 * `Pop3Client`); each adds its own.
 *
 * @example
 * ```ts
 * import type { ClientOptions } from "@mailwire/mailwire/smtp";
 * const common: ClientOptions = {
 *   hostname: "mail.example.com",
 *   caCerts: ["-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"],
 *   timeout: 30_000,
 * };
 * console.log(common.hostname);
 * ```
 */
export interface ClientOptions extends TlsOptions {
  /** Server host name or address. Default `"localhost"`. */
  hostname?: string;
  /** Server port. Default: the protocol's (SMTP 587, or 465 with implicit TLS; LMTP 24; POP3 110, or 995). */
  port?: number;
  /** Local address to bind before connecting (smtplib's `source_address`), for multi-homed hosts. */
  localAddress?: string;
  /** Local port to bind before connecting. */
  localPort?: number;
  /**
   * Deadline in ms of each call as a whole (a command and its reply, a
   * whole send or retrieval with its message data). Default 60 000;
   * `Infinity` for none. For large messages on slow links, pass a larger
   * `timeout` to that call.
   */
  timeout?: number;
  /**
   * Deadline in ms of `connect()` as a whole: TCP, greeting, capabilities,
   * the TLS upgrade, capabilities again and login. Default 30 000, or
   * `timeout` when that is shorter.
   */
  connectTimeout?: number;
  /**
   * Aborts whatever the client is doing and closes the connection, idle
   * included; calls waiting for their turn reject at once, and later calls
   * too.
   */
  signal?: AbortSignal;
  /** Socket implementation. Default: the runtime's own (Deno, Bun, Node); on Workers pass `cloudflareConnector(connect)`. */
  connector?: Connector;
  /** Receives the transcript; credentials are redacted. */
  logger?: Logger;
  /** Allow credentials over a connection without TLS. Default false. */
  allowInsecureAuth?: boolean;
  /** Extra SASL mechanisms by name. */
  mechanisms?: ReadonlyMap<string, MechanismFactory>;
  /** Pipeline commands when the server offers PIPELINING. Default true. */
  pipelining?: boolean;
  /** Longest accepted reply, status or listing line in bytes. Default 8192. */
  maxLineLength?: number;
}

/** The shared options with every default applied. @internal */
export interface ResolvedClientOptions {
  hostname: string;
  tlsOptions: TlsOptions;
  localAddress?: string;
  localPort?: number;
  timeout: number;
  connectTimeout: number;
  signal?: AbortSignal;
  connector?: Connector;
  logger?: Logger;
  allowInsecureAuth: boolean;
  mechanisms?: ReadonlyMap<string, MechanismFactory>;
  pipelining: boolean;
  maxLineLength: number;
}

/** Checks of the shared options. @internal */
export const CLIENT_SPEC: Spec = {
  hostname,
  port: port(),
  servername: hostname,
  caCerts: arrayOf(string),
  allowInvalidCertificates: boolean,
  localAddress: hostname,
  localPort: port(),
  timeout,
  connectTimeout: timeout,
  signal,
  connector: func,
  logger: func,
  allowInsecureAuth: boolean,
  mechanisms: mapOf(func),
  pipelining: boolean,
  maxLineLength: positiveInteger(1 << 30),
};

/** Checks of the `auth` option's credential fields. @internal */
export const CREDENTIALS_SPEC: Spec = {
  username: safeString,
  password: safeString,
  accessToken: (value, name) => {
    // A token, or a provider of one (a function; its token is checked when it comes).
    if (typeof value !== "function") safeString(value, name);
  },
  authzid: safeString,
  mechanism: safeString,
};

/** Hints for credential keys from other libraries. @internal */
export const CREDENTIAL_HINTS: Readonly<Record<string, string>> = {
  user: 'use "username"',
  pass: 'use "password"',
  type: 'use "mechanism"',
  method: 'use "mechanism"',
  token: 'use "accessToken"',
};

/** Why a `tls` value is refused, for the common mistakes. @internal */
export function tlsModeHint(value: unknown): string | undefined {
  if (value === true) return 'use tls: "implicit" (or the default "starttls")';
  if (value === false) return 'use tls: "none" to opt in to clear text';
  if (typeof value === "string") return "modes are lowercase";
  if (typeof value === "object" && value !== null) {
    return "tls is a mode string; certificates go in caCerts, the name in servername";
  }
  return undefined;
}

/** Refuse an `auth` option that can't log in. @internal */
export function checkAuth(
  auth:
    | (Omit<Credentials, "accessToken"> & { accessToken?: unknown })
    | undefined,
  owner: string,
): void {
  if (!auth) return;
  if (auth.username === undefined) {
    throw new TypeError(`${owner} options: auth needs a username`);
  }
  if (auth.password === undefined && auth.accessToken === undefined) {
    throw new TypeError(
      `${owner} options: auth needs a password or an accessToken`,
    );
  }
}

/** The shared options (already checked) with their defaults. @internal */
export function resolveClientOptions(o: ClientOptions): ResolvedClientOptions {
  return {
    hostname: o.hostname ?? "localhost",
    tlsOptions: {
      servername: o.servername,
      caCerts: o.caCerts,
      allowInvalidCertificates: o.allowInvalidCertificates,
    },
    localAddress: o.localAddress,
    localPort: o.localPort,
    timeout: o.timeout ?? 60_000,
    connectTimeout: o.connectTimeout ?? Math.min(o.timeout ?? 30_000, 30_000),
    signal: o.signal,
    connector: o.connector,
    logger: o.logger,
    allowInsecureAuth: o.allowInsecureAuth ?? false,
    mechanisms: o.mechanisms,
    pipelining: o.pipelining ?? true,
    maxLineLength: o.maxLineLength ?? 8192,
  };
}

/** A session's configuration from a client's resolved options. @internal */
export function sessionConfig(
  protocol: SessionConfig["protocol"],
  o: ResolvedClientOptions & { port: number; tls: string; path?: string },
  defaultConnector: Connector,
  disconnected: SessionConfig["disconnected"],
): SessionConfig {
  return {
    protocol,
    target: {
      hostname: o.hostname,
      port: o.port,
      path: o.path,
      tls: o.tls === "implicit"
        ? "implicit"
        : o.tls === "none"
        ? "none"
        : "starttls-capable",
      ...o.tlsOptions,
      localAddress: o.localAddress,
      localPort: o.localPort,
    },
    connector: o.connector ?? defaultConnector,
    timeout: o.timeout,
    connectTimeout: o.connectTimeout,
    signal: o.signal,
    logger: o.logger,
    maxLineLength: o.maxLineLength,
    tlsMode: o.tls,
    disconnected,
  };
}

/** Refuse credentials over clear text unless allowed: the same words on every client. @internal */
export function refuseInsecureAuth(
  secure: boolean,
  allowInsecureAuth: boolean,
): void {
  if (!secure && !allowInsecureAuth) {
    throw new AuthError(
      "refusing to send credentials without tls; set allowInsecureAuth to allow it",
    );
  }
}

/** The type of a client's "server went away" error factory. @internal */
export type Disconnected = (
  message: string,
  options?: ErrorOptions,
) => MailwireError;

/**
 * Check a client's options: the shared ones, then `spec`'s own, with the
 * hints for names from other libraries; `auth` must be able to log in.
 * @internal
 */
export function checkClientOptions(
  options:
    | (ClientOptions & {
      auth?: Omit<Credentials, "accessToken"> & { accessToken?: unknown };
    })
    | undefined,
  spec: Spec,
  owner: string,
): void {
  checkOptions(
    options,
    { ...CLIENT_SPEC, ...spec },
    `${owner} options`,
    FOREIGN_HINTS,
  );
  checkAuth(options?.auth, owner);
}

/** The check of an `auth` option: credentials plus `extra` fields. @internal */
export function authOption(
  extra: Spec = {},
): (value: unknown, name: string) => void {
  return object({ ...CREDENTIALS_SPEC, ...extra }, CREDENTIAL_HINTS);
}

/** The check of a `tls` option: one of `modes`, hints for the usual mistakes. @internal */
export function tlsOption(
  modes: readonly string[],
  hint: (value: unknown) => string | undefined = tlsModeHint,
): (value: unknown, name: string) => void {
  return oneOf(modes, hint);
}
