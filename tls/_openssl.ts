// What a TLS socket of OpenSSL's kind (node:tls, Bun's own sockets) tells: its errors and the handshake's outcome.
import type { CertificateInfo, TlsInfo } from "./conn.ts";
import { ConnectionClosedError, MailwireError, TlsError } from "../errors.ts";
import { codeOf, describeWithCode, tlsFailure } from "./_util.ts";

/** One certificate as `getPeerCertificate(true)` returns it (node:tls, Bun). */
export interface PeerCertificate {
  subject?: unknown;
  issuer?: unknown;
  subjectaltname?: string;
  valid_from?: string;
  valid_to?: string;
  fingerprint256?: string;
  issuerCertificate?: PeerCertificate;
}

/** The part of a node:tls `TLSSocket` (or a Bun TLS socket) read after a handshake. */
export interface OpenSslSocket {
  getPeerCertificate(detailed: true): PeerCertificate | undefined;
  getCipher():
    | { name?: string; standardName?: string }
    | undefined
    | null;
  /** node:tls */
  getProtocol?(): string | null;
  /** Bun's own sockets */
  getTLSVersion?(): string | null;
  readonly alpnProtocol?: string | false | null;
  readonly authorized?: boolean;
  readonly authorizationError?: unknown;
  /** Bun's own sockets */
  getAuthorizationError?(): unknown;
}

const TLS_CODE =
  /^(CERT_|UNABLE_TO_|ERR_TLS_|ERR_SSL_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|ERR_OSSL_)/;

/** Maps an error of the read or write of an established connection to `place`. */
export function ioError(cause: unknown, place: string): MailwireError {
  if (cause instanceof MailwireError) return cause;
  const code = codeOf(cause);
  if (code !== undefined && TLS_CODE.test(code)) {
    return new TlsError(`tls error on ${place}: ${describeWithCode(cause)}`, {
      cause,
      reason: tlsFailure(cause),
    });
  }
  return new ConnectionClosedError(
    `connection to ${place} lost: ${describeWithCode(cause)}`,
    { cause },
  );
}

/** A distinguished name object of `getPeerCertificate` as `CN=...,O=...`. */
function distinguishedName(
  name: Record<string, string | string[]> | undefined,
): string | undefined {
  if (name === undefined || name === null || typeof name !== "object") {
    return undefined;
  }
  const parts: string[] = [];
  for (const [key, value] of Object.entries(name)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      parts.push(`${key}=${one}`);
    }
  }
  return parts.join(",");
}

/** An OpenSSL date (`Nov 25 09:00:15 2026 GMT`) as ISO 8601, or as given. */
function isoDate(value: string | undefined): string | undefined {
  if (typeof value !== "string") return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? value : new Date(time).toISOString();
}

/** One certificate of `getPeerCertificate(true)`. */
function certificateInfo(cert: PeerCertificate): CertificateInfo {
  const names = typeof cert.subjectaltname === "string"
    ? cert.subjectaltname.split(", ").filter((name) => name.length > 0).map(
      (name) => name.replace(/^IP Address:/, "IP:"),
    )
    : undefined;
  return {
    subject: distinguishedName(
      cert.subject as unknown as Record<string, string | string[]>,
    ),
    issuer: distinguishedName(
      cert.issuer as unknown as Record<string, string | string[]>,
    ),
    subjectAltNames: names,
    validFrom: isoDate(cert.valid_from),
    validTo: isoDate(cert.valid_to),
    fingerprint256: cert.fingerprint256,
  };
}

/** What the handshake of `socket` negotiated. */
export function tlsInfoOf(socket: OpenSslSocket, verify: boolean): TlsInfo {
  const chain: CertificateInfo[] = [];
  let cert: PeerCertificate | undefined = socket.getPeerCertificate(true);
  // Leaf first; the root's issuerCertificate is itself. Bounded.
  while (
    cert && typeof cert === "object" && Object.keys(cert).length > 0 &&
    chain.length < 16
  ) {
    chain.push(certificateInfo(cert));
    const next: PeerCertificate | undefined = cert.issuerCertificate;
    if (next === cert) break;
    cert = next;
  }
  const cipher = socket.getCipher();
  const error = socket.authorizationError ?? socket.getAuthorizationError?.();
  return {
    protocol: (socket.getProtocol?.() ?? socket.getTLSVersion?.()) ?? undefined,
    cipher: cipher?.standardName ?? cipher?.name,
    alpnProtocol: typeof socket.alpnProtocol === "string"
      ? socket.alpnProtocol
      : undefined,
    peerCertificates: chain,
    verified: socket.authorized === true,
    verificationError: !verify && error != null
      ? (typeof error === "string" ? error : describeWithCode(error))
      : undefined,
  };
}
