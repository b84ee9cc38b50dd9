// SMTP and LMTP as dialects of one client: what differs between them, in one place.

import type { SmtpTlsMode } from "./options.ts";

/** What a protocol variant changes in the client. @internal */
export interface Dialect {
  /** For messages and the transcript. */
  readonly name: "smtp" | "lmtp";
  /** The greeting command: EHLO or LHLO. */
  readonly hello: "EHLO" | "LHLO";
  /** Whether a refused EHLO may fall back to HELO (LMTP has no HELO). */
  readonly heloFallback: boolean;
  /** Whether the end of data gets one reply per accepted recipient (RFC 2033). */
  readonly replyPerRecipient: boolean;
  /** The TLS mode when none is given. */
  defaultTls(port: number | undefined): SmtpTlsMode;
  /** The port when none is given. */
  defaultPort(tls: SmtpTlsMode): number;
}

/** SMTP (RFC 5321). @internal */
export const SMTP: Dialect = {
  name: "smtp",
  hello: "EHLO",
  heloFallback: true,
  replyPerRecipient: false,
  defaultTls: (port) => port === 465 ? "implicit" : "starttls",
  defaultPort: (tls) => tls === "implicit" ? 465 : 587,
};

/** LMTP (RFC 2033): LHLO, one final reply per recipient, clear text by default (local sockets). @internal */
export const LMTP: Dialect = {
  name: "lmtp",
  hello: "LHLO",
  heloFallback: false,
  replyPerRecipient: true,
  defaultTls: () => "none",
  defaultPort: () => 24,
};

/** Client classes whose instances speak a dialect other than SMTP. @internal */
const registered = new WeakMap<object, Dialect>();

/** Make instances of `cls` (and its subclasses) speak `dialect`. @internal */
export function registerDialect(cls: object, dialect: Dialect): void {
  registered.set(cls, dialect);
}

/** The dialect of instances of `cls`: the nearest registered class's, else SMTP. @internal */
export function dialectOf(cls: object): Dialect {
  for (let c: object | null = cls; c; c = Object.getPrototypeOf(c)) {
    const d = registered.get(c);
    if (d) return d;
  }
  return SMTP;
}
