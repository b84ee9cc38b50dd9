/**
 * The runtime seam of mailwire. The SMTP and POP3 clients never touch a
 * socket API: they read and write one {@linkcode Conn}, a pair of Web streams
 * plus `startTls()` and `close()`, opened by a {@linkcode Connector}.
 *
 * Built in:
 * - {@linkcode defaultConnector}: picks the one below that fits the runtime;
 *   the clients use it when you pass no `connector`.
 * - {@linkcode denoConnector}: `Deno.connect` + `Deno.startTls`.
 * - {@linkcode bunConnector}: Bun's own sockets (`Bun.connect` +
 *   `upgradeTLS`), cheaper per read and write than Bun's `node:net`.
 * - {@linkcode nodeConnector}: `node:net` + `node:tls`, for Node.js (and
 *   Bun, where it binds a `localAddress`; taken from
 *   `process.getBuiltinModule`, never imported: bundles for Workers name no
 *   `node:` module).
 * - {@linkcode cloudflareConnector}: Cloudflare Workers, over the `connect`
 *   you import from `cloudflare:sockets`; pass
 *   `connector: cloudflareConnector(connect)` to a client.
 *
 * Every built-in connector checks the target first, the same way on every
 * runtime: an empty hostname, a port outside 1–65535, CR/LF/NUL in a path
 * or whitespace in a hostname throw an `InvalidInputError` before any
 * socket exists. A failed handshake is a `TlsError` whose `reason` says why
 * (`"untrusted"`, `"name-mismatch"`, `"expired"`, `"not-tls"`, `"other"`)
 * where the runtime tells, and whose message names host and port. After a
 * handshake, `conn.tlsInfo` holds what the runtime exposes (protocol,
 * cipher and the peer's chain on Node.js and Bun; less on Deno and Workers).
 *
 * Certificates are always verified unless you set
 * `allowInvalidCertificates: true` (tests only). Trust a private CA with
 * `caCerts` (PEM strings): on Node.js and Bun they replace the default roots,
 * on Deno they are added to them. On Deno, `allowInvalidCertificates` is not
 * available per connection: `denoConnector` refuses it with a `TlsError`, and
 * `defaultConnector` hands such connections to `nodeConnector` (Deno's Node
 * compatibility layer honours it).
 *
 * ## Your own connector
 *
 * Pass any function of type {@linkcode Connector} as a client's `connector`
 * option: a test transport, a proxy, another socket API. It must keep the
 * rules the clients rely on:
 *
 * 1. Reads are pull-based: read from the socket only while a consumer
 *    waits on `readable` (a `highWaterMark: 0` stream whose `pull` does one
 *    read). Never read ahead or pipe: bytes read early would be lost at a
 *    STARTTLS upgrade, or be taken as TLS-protected when they were not.
 * 2. `startTls` is called with both stream locks released and no read in
 *    flight. It completes and verifies the handshake before resolving, and
 *    refuses (`ProtocolError`) bytes the peer sent before it when it can
 *    see them. On failure it closes the connection.
 * 3. `close()` is idempotent, never throws and resolves in bounded time,
 *    whatever the peer does.
 * 4. Failures are `MailwireError`s: `ConnectError` (cannot connect),
 *    `TlsError` (handshake or certificate), `ConnectionClosedError` (peer
 *    went away), `AbortedError` (the signal fired; `cause` is its reason).
 *
 * @example A connector over an in-memory peer (for tests)
 * ```ts
 * import type { Conn, Connector } from "@mailwire/mailwire/tls";
 * import { TlsError } from "@mailwire/mailwire/tls";
 *
 * // A fake server that greets and then echoes every write.
 * const fakeConnector: Connector = () => {
 *   const encoder = new TextEncoder();
 *   const pending: Uint8Array[] = [encoder.encode("220 fake ready\r\n")];
 *   let wake: (() => void) | undefined;
 *   const conn: Conn = {
 *     secure: false,
 *     readable: new ReadableStream<Uint8Array>({
 *       async pull(controller) {
 *         while (pending.length === 0) {
 *           await new Promise<void>((resolve) => (wake = resolve));
 *         }
 *         controller.enqueue(pending.shift()!);
 *       },
 *     }, { highWaterMark: 0 }),
 *     writable: new WritableStream<Uint8Array>({
 *       write(chunk) {
 *         pending.push(chunk);
 *         wake?.();
 *       },
 *     }),
 *     startTls: () => Promise.reject(new TlsError("no tls in this fake")),
 *     close: () => Promise.resolve(),
 *   };
 *   return Promise.resolve(conn);
 * };
 *
 * const conn = await fakeConnector({ hostname: "fake", port: 25, tls: "none" });
 * const reader = conn.readable.getReader();
 * const { value } = await reader.read();
 * console.log(new TextDecoder().decode(value)); // "220 fake ready\r\n"
 * reader.releaseLock();
 * await conn.close();
 * ```
 *
 * @module
 */

export {
  AbortedError,
  ConnectError,
  ConnectionClosedError,
  InvalidInputError,
  MailwireError,
  ProtocolError,
  TimeoutError,
  TlsError,
  type TlsFailure,
} from "../errors.ts";
export type {
  CertificateInfo,
  Conn,
  Connector,
  ConnectTarget,
  TlsInfo,
  TlsOptions,
} from "./conn.ts";
export { defaultConnector } from "./connect.ts";
export { denoConnector } from "./deno.ts";
export { bunConnector } from "./bun.ts";
export { nodeConnector } from "./node.ts";
export {
  type CloudflareConnect,
  cloudflareConnector,
  type CloudflareSocket,
} from "./cloudflare.ts";
