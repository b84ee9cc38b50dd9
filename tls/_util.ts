// Private helpers shared by the connectors.

import type { ConnectTarget, TlsOptions } from "./conn.ts";
import { AbortedError } from "../errors.ts";

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
  return trimmed.charAt(0).toLowerCase() + trimmed.slice(1);
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
