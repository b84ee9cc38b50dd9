/**
 * The runtime seam: one {@linkcode Conn} of Web streams, whatever the
 * runtime's socket API.
 *
 * @module
 */

/**
 * TLS settings for an implicit-TLS connection or a STARTTLS/STLS upgrade.
 *
 * @example Trust a private CA and verify another name than the address
 * ```ts
 * import type { TlsOptions } from "@mailwire/mailwire/tls";
 *
 * const options: TlsOptions = {
 *   servername: "mail.internal",
 *   caCerts: ["-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"],
 * };
 * console.log(options.allowInvalidCertificates ?? false); // false
 * ```
 */
export interface TlsOptions {
  /** Name to verify the certificate against and to send as SNI. Defaults to the hostname. */
  servername?: string;
  /** Extra trusted CA certificates (PEM). When given, they are trusted in addition to the system roots (Deno) or instead of them (Node, Bun). */
  caCerts?: string[];
  /**
   * Accept any certificate. Dangerous: for tests against self-signed servers
   * only. Default `false`.
   */
  allowInvalidCertificates?: boolean;
}

/**
 * Where and how to connect.
 *
 * @example Submission with STARTTLS, and LMTP over a Unix socket
 * ```ts
 * import type { ConnectTarget } from "@mailwire/mailwire/tls";
 *
 * const submission: ConnectTarget = {
 *   hostname: "mail.example.com",
 *   port: 587,
 *   tls: "starttls-capable",
 * };
 * const lmtp: ConnectTarget = {
 *   hostname: "localhost",
 *   port: 24,
 *   tls: "none",
 *   path: "/var/run/dovecot/lmtp",
 * };
 * console.log(submission.tls, lmtp.path);
 * ```
 */
export interface ConnectTarget extends TlsOptions {
  /** Host name or IP address. */
  hostname: string;
  /** TCP port. Ignored when `path` is set. */
  port: number;
  /**
   * `"implicit"`: TLS from the first byte. `"none"` and `"starttls-capable"`:
   * plaintext first; the latter tells connectors that need to know in
   * advance (Workers) that {@linkcode Conn.startTls} may be called.
   */
  tls: "none" | "implicit" | "starttls-capable";
  /** Unix socket path (LMTP). When set, `hostname`/`port` are not used for the socket. */
  path?: string;
  /**
   * Local address to bind before connecting (smtplib's `source_address`),
   * for multi-homed senders. A connector whose runtime cannot bind one
   * throws a `ConnectError` naming the runtime; it never ignores it.
   */
  localAddress?: string;
  /** Local port to bind before connecting (with or without `localAddress`). */
  localPort?: number;
}

/**
 * What a completed TLS handshake negotiated, as far as the runtime tells
 * (Node.js and Bun tell everything; Deno and Workers less: missing fields
 * are `undefined`).
 *
 * @example
 * ```ts
 * import type { TlsInfo } from "@mailwire/mailwire/tls";
 * const info: TlsInfo = { protocol: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384" };
 * console.log(info.protocol, info.peerCertificates?.[0]?.subject); // "TLSv1.3" undefined
 * ```
 */
export interface TlsInfo {
  /** Protocol version, e.g. `"TLSv1.3"`. */
  readonly protocol?: string;
  /** Cipher suite name, e.g. `"TLS_AES_256_GCM_SHA384"`. */
  readonly cipher?: string;
  /** ALPN protocol, if one was negotiated. */
  readonly alpnProtocol?: string;
  /** The peer's chain, leaf first (as far as the runtime exposes it). */
  readonly peerCertificates?: readonly CertificateInfo[];
  /** Whether the chain was verified (false only with `allowInvalidCertificates`). */
  readonly verified?: boolean;
  /** Why verification failed, when it failed and that was allowed. */
  readonly verificationError?: string;
}

/**
 * One certificate of a peer's chain.
 *
 * @example
 * ```ts
 * import type { CertificateInfo } from "@mailwire/mailwire/tls";
 * const leaf: CertificateInfo = { subject: "CN=mail.example.com", validTo: "2027-03-01T00:00:00.000Z" };
 * console.log(leaf.subject);
 * ```
 */
export interface CertificateInfo {
  /** Subject as `CN=...,O=...`. */
  readonly subject?: string;
  /** Issuer as `CN=...,O=...`. */
  readonly issuer?: string;
  /** DNS names and IP addresses of subjectAltName, e.g. `["DNS:mail.example.com"]`. */
  readonly subjectAltNames?: readonly string[];
  /** Start of validity (ISO 8601). */
  readonly validFrom?: string;
  /** End of validity (ISO 8601). */
  readonly validTo?: string;
  /** SHA-256 fingerprint, hex with colons. */
  readonly fingerprint256?: string;
}

/**
 * A byte connection. Read from `readable`, write to `writable`.
 *
 * Rules every connector and every client follows:
 * - a read is made only when the caller asks for one (no read-ahead, no
 *   pipe), so nothing is in flight when {@linkcode Conn.startTls} is called;
 * - `startTls` is called only with both stream locks released;
 * - `close` is idempotent and bounded in time.
 *
 * @example Read one chunk, then upgrade with the locks released
 * ```ts
 * import type { Conn } from "@mailwire/mailwire/tls";
 *
 * async function upgrade(conn: Conn): Promise<Conn> {
 *   const reader = conn.readable.getReader();
 *   const { value } = await reader.read(); // e.g. "220 go ahead\r\n"
 *   reader.releaseLock(); // no read in flight, no lock held
 *   console.log(new TextDecoder().decode(value));
 *   return await conn.startTls({ servername: "mail.example.com" });
 * }
 * console.log(typeof upgrade); // "function"
 * ```
 */
export interface Conn {
  /** Bytes from the peer. Pull-based: the connector reads only when asked. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
  /** Whether TLS is active (implicit or after an upgrade). */
  readonly secure: boolean;
  /** What the TLS handshake negotiated, when `secure` (optional for connectors). */
  readonly tlsInfo?: TlsInfo;
  /**
   * Upgrade to TLS. Resolves with the new connection after a completed,
   * verified handshake; this object is then unusable. Throws
   * `ProtocolError` if the peer already sent bytes the caller has not read
   * (a STARTTLS injection), and `TlsError` on a failed handshake. Either
   * way the connection is closed on failure.
   *
   * Options left out default to those the connection was opened with
   * (`servername` defaults to the target's `servername`, else its
   * `hostname`). An aborted `signal` (optional: connectors may ignore it)
   * stops the handshake with an `AbortedError`; {@linkcode Conn.close}
   * during the upgrade stops it too.
   */
  startTls(options: TlsOptions, signal?: AbortSignal): Promise<Conn>;
  /** Close the connection. Idempotent; never hangs (bounded). */
  close(): Promise<void>;
}

/**
 * Opens a {@linkcode Conn}. Pass your own to a client's `connector` option to
 * use another socket API (e.g. `cloudflare:sockets`) or a test transport.
 * Throws `ConnectError`, `TlsError`, `AbortedError`.
 *
 * @example Wrap a connector to log every connection
 * ```ts
 * import { type Connector, defaultConnector } from "@mailwire/mailwire/tls";
 *
 * const logged: Connector = async (target, signal) => {
 *   const conn = await defaultConnector(target, signal);
 *   console.log(`connected to ${target.hostname}:${target.port}`);
 *   return conn;
 * };
 * console.log(typeof logged); // "function"
 * ```
 */
export type Connector = (
  target: ConnectTarget,
  signal?: AbortSignal,
) => Promise<Conn>;
