// Private helpers shared by the connectors.

import type { ConnectTarget, TlsOptions } from "./conn.ts";
import {
  AbortedError,
  ConnectionClosedError,
  MailwireError,
  TlsError,
  type TlsFailure,
} from "../errors.ts";

/** How long {@linkcode Conn.close} waits for a graceful shutdown before it forces one. */
export const CLOSE_GRACE_MS = 1000;

/** The error thrown when `signal` aborted `what` (e.g. "connect"). */
export function abortedError(signal: AbortSignal, what: string): AbortedError {
  return new AbortedError(`${what} aborted`, { cause: signal.reason });
}

/** A cause's message, first letter lowercased, for use inside our messages. */
export function describe(cause: unknown): string {
  const message = cause instanceof Error
    ? cause.message
    : typeof cause === "string"
    ? cause
    : String(cause);
  const trimmed = message.trim();
  // "Connection refused" → "connection refused"; leave "TLS ..." and codes.
  return /^[A-Z][a-z]/.test(trimmed)
    ? trimmed.charAt(0).toLowerCase() + trimmed.slice(1)
    : trimmed;
}

/** `host:port`, or the socket path, for messages. */
export function where(target: ConnectTarget): string {
  if (target.path !== undefined) return target.path;
  const host = target.hostname.includes(":")
    ? `[${target.hostname}]`
    : target.hostname;
  return `${host}:${target.port}`;
}

/** TLS options with the name to verify resolved. */
export type ResolvedTlsOptions = TlsOptions & { servername: string };

/** The TLS defaults a connection keeps for a later upgrade. */
export function tlsDefaults(target: ConnectTarget): ResolvedTlsOptions {
  return {
    servername: target.servername ?? target.hostname,
    caCerts: target.caCerts,
    allowInvalidCertificates: target.allowInvalidCertificates,
  };
}

/** `options` with its missing fields taken from `defaults`. */
export function mergeTlsOptions(
  defaults: ResolvedTlsOptions,
  options: TlsOptions | undefined,
): ResolvedTlsOptions {
  return {
    servername: options?.servername ?? defaults.servername,
    caCerts: options?.caCerts ?? defaults.caCerts,
    allowInvalidCertificates: options?.allowInvalidCertificates ??
      defaults.allowInvalidCertificates,
  };
}

/** Call `fn`, ignoring any exception (for best-effort cleanup). */
export function attempt(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // cleanup is best effort
  }
}

/** An error's `code` property, when it is a string (Node.js, Bun). */
export function codeOf(cause: unknown): string | undefined {
  const code = (cause as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

const UNTRUSTED_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);
const NAME_CODES = new Set([
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH",
]);
const EXPIRED_CODES = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"]);
const NOT_TLS_CODES = new Set([
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_SSL_PACKET_LENGTH_TOO_LONG",
  "ERR_SSL_HTTP_REQUEST",
  "ERR_SSL_RECORD_LAYER_FAILURE",
]);
// Texts of rustls (Deno) and OpenSSL/BoringSSL (Node, Bun) errors.
const UNTRUSTED_TEXT = /UnknownIssuer|unable to verify|self[- ]signed/i;
const NAME_TEXT =
  /NotValidForName|not valid for name|altnames?|hostname mismatch/i;
const EXPIRED_TEXT = /Expired|NotValidYet|not yet valid/i;
const NOT_TLS_TEXT =
  /wrong[ _]version[ _]number|InvalidContentType|corrupt message|packet[ _]length[ _]too[ _]long|http[ _]request/i;

/** What a runtime's TLS error (`code` and message) says went wrong. */
export function tlsFailure(cause: unknown): TlsFailure {
  // Node's authorizationError is a bare code string.
  const code = codeOf(cause) ??
    (typeof cause === "string" && /^[A-Z_]+$/.test(cause) ? cause : undefined);
  if (code !== undefined) {
    if (UNTRUSTED_CODES.has(code)) return "untrusted";
    if (NAME_CODES.has(code)) return "name-mismatch";
    if (EXPIRED_CODES.has(code)) return "expired";
    if (NOT_TLS_CODES.has(code)) return "not-tls";
  }
  const text = describe(cause);
  if (UNTRUSTED_TEXT.test(text)) return "untrusted";
  if (NAME_TEXT.test(text)) return "name-mismatch";
  if (EXPIRED_TEXT.test(text)) return "expired";
  if (NOT_TLS_TEXT.test(text)) return "not-tls";
  return "other";
}

/** The hint a failure of this kind certainly deserves (empty if none). */
function hint(
  reason: TlsFailure,
  phase: "connect" | "upgrade",
  servername: string,
): string {
  switch (reason) {
    case "untrusted":
      return "; the certificate is not signed by a trusted ca: if the server uses a private ca, pass its certificate in caCerts";
    case "name-mismatch":
      return `; the certificate is not valid for ${
        JSON.stringify(servername)
      }: connect by a name it covers, or set servername`;
    case "expired":
      return "; the server's certificate is expired or not yet valid (check the clocks)";
    case "not-tls":
      return phase === "connect"
        ? '; the server answered in clear text: the port probably expects starttls or no tls (tls: "starttls" or "none"), e.g. 587 or 25 rather than 465'
        : "; the server sent clear text where the tls handshake should be";
    default:
      return "";
  }
}

/**
 * The `TlsError` for a failed handshake with `target`: classified
 * (`reason`), naming host and port, with the hint the reason calls for.
 * `detail` describes the cause (default: its message with its code).
 */
export function handshakeError(
  target: ConnectTarget | string,
  phase: "connect" | "upgrade",
  servername: string,
  cause: unknown,
  options: { reason?: TlsFailure; detail?: string } = {},
): TlsError {
  const reason = options.reason ?? tlsFailure(cause);
  const detail = options.detail ?? describeWithCode(cause);
  const place = typeof target === "string" ? target : where(target);
  return new TlsError(
    `tls handshake with ${place} failed: ${detail}${
      hint(reason, phase, servername)
    }`,
    { cause, reason },
  );
}

/** A cause's message with its `code` (Node.js, Bun), lowercased for our messages. */
export function describeWithCode(cause: unknown): string {
  const code = codeOf(cause);
  const message = describe(cause);
  return code !== undefined && !message.includes(code)
    ? `${message} (${code})`
    : message;
}

/** What a connection tells about itself when `startTls` is called. */
export interface UpgradeState {
  state: "open" | "upgrading" | "upgraded" | "closed";
  secure: boolean;
  /** Whether `readable` or `writable` is locked. */
  locked: boolean;
  reading: boolean;
  writing: boolean;
}

/**
 * Why `startTls` must refuse, if it must: `close` says whether the
 * connection is to be closed too (it is, once the caller broke a rule).
 */
export function upgradeRefusal(
  s: UpgradeState,
): { error: MailwireError; close: boolean } | undefined {
  if (s.state === "closed") {
    return {
      error: new ConnectionClosedError("connection closed"),
      close: false,
    };
  }
  if (s.state !== "open") {
    return {
      error: new MailwireError("tls already started on this connection"),
      close: false,
    };
  }
  const refuse = (error: MailwireError) => ({ error, close: true });
  if (s.secure) return refuse(new TlsError("tls is already active"));
  if (s.locked) {
    return refuse(
      new MailwireError("cannot start tls while the streams are locked"),
    );
  }
  if (s.reading) {
    return refuse(
      new MailwireError("cannot start tls while a read is pending"),
    );
  }
  if (s.writing) {
    return refuse(
      new MailwireError("cannot start tls while a write is pending"),
    );
  }
  return undefined;
}
