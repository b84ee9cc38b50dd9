// The CLI's exit codes, one per failure class, and the mapping from mailwire's error classes to them.

import { AuthError } from "../auth/mod.ts";
import {
  AbortedError,
  ConnectError,
  ConnectionClosedError,
  InvalidInputError,
  MailwireError,
  ProtocolError,
  TimeoutError,
  TlsError,
} from "../tls/mod.ts";
import {
  SmtpAuthenticationError,
  SmtpConnectError,
  SmtpHeloError,
  SmtpNotSupportedError,
  SmtpOutcomeUnknownError,
  SmtpRecipientsRefusedError,
  SmtpResponseError,
  SmtpServerDisconnectedError,
} from "../smtp/mod.ts";
import {
  Pop3AuthenticationError,
  Pop3NotSupportedError,
  Pop3ResponseError,
  Pop3ServerDisconnectedError,
} from "../pop3/mod.ts";

/**
 * The exit codes of `mailwire`, one per failure class. When several
 * messages of a bulk send fail differently, the most severe class wins:
 * outcome unknown, then refused (see {@linkcode worstExit}).
 *
 * @example
 * ```ts
 * import { EXIT } from "@mailwire/mailwire/cli";
 * console.log(EXIT.ok, EXIT.usage, EXIT.outcomeUnknown); // 0 2 7
 * ```
 */
export const EXIT = {
  /** Everything worked. */
  ok: 0,
  /** A bug in mailwire (an unexpected error): please report it. */
  internal: 1,
  /** Bad arguments, an unreadable input file, input that can't be sent safely. */
  usage: 2,
  /** No connection: DNS, refused, unreachable, no greeting, the server hung up. */
  connect: 3,
  /** TLS failed: handshake, certificate, STARTTLS/STLS missing or refused, bytes injected before TLS. */
  tls: 4,
  /** Login failed: credentials refused, no usable mechanism, no TLS for credentials, token command failed. */
  auth: 5,
  /** The server refused: sender, recipients, message, a POP3 command (-ERR), or a `421`. */
  refused: 6,
  /** The connection was lost after the message data: it may have been delivered. Don't resend blindly. */
  outcomeUnknown: 7,
  /** The server broke the protocol, or a call timed out after the session was set up. */
  protocol: 8,
  /** A local write or its verification failed (fetch). */
  localIo: 9,
  /** Interrupted (Ctrl-C). */
  interrupted: 130,
} as const;

/**
 * One of the values of {@linkcode EXIT}.
 *
 * @example
 * ```ts
 * import { EXIT, type ExitCode } from "@mailwire/mailwire/cli";
 * const code: ExitCode = EXIT.tls;
 * console.log(code); // 4
 * ```
 */
export type ExitCode = typeof EXIT[keyof typeof EXIT];

/** The exit-code table as printed by `mailwire --help` and the README. */
export const EXIT_TABLE: readonly (readonly [ExitCode, string])[] = [
  [EXIT.ok, "success"],
  [EXIT.internal, "internal error (a bug in mailwire: please report it)"],
  [EXIT.usage, "usage: bad arguments, unreadable input, unsafe input"],
  [EXIT.connect, "connect: no connection, no greeting, connection lost"],
  [EXIT.tls, "tls: handshake or certificate failed, STARTTLS/STLS missing"],
  [EXIT.auth, "auth: login refused, no usable mechanism, no tls for it"],
  [EXIT.refused, "refused: sender, recipient, message or command refused"],
  [
    EXIT.outcomeUnknown,
    "outcome unknown: lost after the data (may be delivered)",
  ],
  [EXIT.protocol, "protocol: the server broke the protocol, or timed out"],
  [EXIT.localIo, "local i/o: a write or its verification failed"],
  [EXIT.interrupted, "interrupted"],
];

/** A usage error of the CLI itself: bad flags, missing values, unreadable files. */
export class UsageError extends Error {
  /** Create with a lowercase message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** A local write, fsync or verification failed. */
export class LocalIoError extends Error {
  /** Create with a lowercase message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LocalIoError";
  }
}

/** A login could not even be attempted (e.g. the token command failed). */
export class CredentialError extends Error {
  /** Create with a lowercase message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CredentialError";
  }
}

const TLS_PHASES = new Set(["tls", "starttls", "stls"]);
const CONNECT_PHASES = new Set(["connect", "greeting"]);

/**
 * The exit code for an error thrown by a mailwire client or by the CLI.
 *
 * @example
 * ```ts
 * import { exitCodeOf } from "@mailwire/mailwire/cli";
 * import { TlsError } from "@mailwire/mailwire/tls";
 * console.log(exitCodeOf(new TlsError("certificate not trusted"))); // 4
 * ```
 */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof LocalIoError) return EXIT.localIo;
  if (err instanceof CredentialError) return EXIT.auth;
  if (!(err instanceof MailwireError)) return EXIT.internal;
  const phase = err.phase ?? "";
  if (err instanceof AbortedError) return EXIT.interrupted;
  if (err instanceof InvalidInputError) return EXIT.usage;
  if (err instanceof TlsError) return EXIT.tls;
  if (err instanceof SmtpOutcomeUnknownError) return EXIT.outcomeUnknown;
  if (
    err instanceof AuthError || err instanceof SmtpAuthenticationError ||
    err instanceof Pop3AuthenticationError
  ) return EXIT.auth;
  if (
    err instanceof SmtpNotSupportedError || err instanceof Pop3NotSupportedError
  ) {
    if (TLS_PHASES.has(phase) || /\b(starttls|stls)\b/.test(err.message)) {
      return EXIT.tls;
    }
    if (phase === "auth" || /\b(auth|sasl|apop)\b/.test(err.message)) {
      return EXIT.auth;
    }
    return EXIT.refused;
  }
  if (err instanceof TimeoutError) {
    if (CONNECT_PHASES.has(phase)) return EXIT.connect;
    if (TLS_PHASES.has(phase)) return EXIT.tls;
    if (phase === "auth") return EXIT.auth;
    return EXIT.protocol;
  }
  if (err instanceof ProtocolError) {
    return TLS_PHASES.has(phase) ? EXIT.tls : EXIT.protocol;
  }
  if (
    err instanceof ConnectError || err instanceof SmtpConnectError ||
    err instanceof SmtpHeloError || err instanceof ConnectionClosedError ||
    err instanceof SmtpServerDisconnectedError ||
    err instanceof Pop3ServerDisconnectedError
  ) return EXIT.connect;
  if (err instanceof Pop3ResponseError) {
    return CONNECT_PHASES.has(phase) ? EXIT.connect : EXIT.refused;
  }
  if (
    err instanceof SmtpResponseError ||
    err instanceof SmtpRecipientsRefusedError
  ) return EXIT.refused;
  return EXIT.protocol;
}

const SEVERITY: readonly ExitCode[] = [
  EXIT.ok,
  EXIT.refused,
  EXIT.protocol,
  EXIT.connect,
  EXIT.tls,
  EXIT.auth,
  EXIT.localIo,
  EXIT.usage,
  EXIT.internal,
  EXIT.outcomeUnknown,
  EXIT.interrupted,
];

/**
 * The more severe of two exit codes (for a run with several outcomes):
 * interrupted, then outcome unknown, then the rest, refused the mildest.
 *
 * @example
 * ```ts
 * import { EXIT, worstExit } from "@mailwire/mailwire/cli";
 * console.log(worstExit(EXIT.refused, EXIT.outcomeUnknown)); // 7
 * ```
 */
export function worstExit(a: ExitCode, b: ExitCode): ExitCode {
  return SEVERITY.indexOf(b) > SEVERITY.indexOf(a) ? b : a;
}
