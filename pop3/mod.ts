/**
 * A POP3 client: everything Python's `poplib` does, on Web streams, for
 * Deno, Bun, Node and Workers, and then some.
 *
 * - {@linkcode Pop3Client}: connect with `tls: "starttls"` (default: STLS is
 *   required, never a silent fallback to clear text), `"implicit"` (port 995)
 *   or `"none"`; `login` picks SASL, then APOP, then USER/PASS;
 *   `loginWithToken` does XOAUTH2/OAUTHBEARER.
 * - Messages come back as raw bytes (`retr`, `top`), exact to the octet:
 *   CRLF line ends, every leading dot unstuffed, lines of any length, the
 *   total capped by `maxMessageBytes`. `retrStream` streams one with bounded
 *   memory.
 * - With PIPELINING, `retrMany`, `deleMany`, `listing` (UIDL + LIST) and
 *   `pipeline` send their commands in one write.
 * - `-ERR` is a {@linkcode Pop3ResponseError} with the RFC 2449/3206
 *   response code: `temporary` (`[IN-USE]`, `[LOGIN-DELAY]`, `[SYS/TEMP]`)
 *   versus `invalidCredentials` (`[AUTH]`).
 *
 * Deletions are final only after a completed `quit()`; `close()` and
 * `await using` never commit them. Secure by default: certificates are
 * verified, credentials (APOP included) never cross a connection without
 * TLS unless you set `allowInsecureAuth`, CR/LF/NUL in any argument is
 * refused before a byte is sent, every wait has a deadline and honours an
 * AbortSignal, and the transcript (`logger`) never shows a secret.
 *
 * @example
 * ```ts
 * import { Pop3Client } from "@mailwire/mailwire/pop3";
 * async function dump(password: string) {
 *   await using client = await Pop3Client.connect({
 *     hostname: "pop.example.com",
 *     auth: { username: "me@example.com", password },
 *   });
 *   for (const { id, uid, size } of await client.listing()) {
 *     const raw = await client.retr(id);
 *     console.log(uid, size, raw.length);
 *   }
 *   await client.quit();
 * }
 * console.log(typeof dump); // "function"
 * ```
 *
 * @module
 */
export { Pop3Client } from "./client.ts";
export type {
  Pop3AuthOptions,
  Pop3CallOptions,
  Pop3ClientOptions,
  Pop3LoginOptions,
  Pop3TlsMode,
} from "./options.ts";
export type { Pop3PipelineCommand, Pop3PipelineReply } from "./types.ts";
export * from "./errors.ts";
export { apopDigest } from "./apop.ts";
export type {
  Pop3MessageListing,
  Pop3ScanListing,
  Pop3Stat,
  Pop3UidListing,
} from "./parse.ts";
export type { Pop3Status } from "../io/pop3_status.ts";
// The errors the client throws and the types its signatures use, so this
// entry point is self-contained.
export * from "../io/client_exports.ts";
export type { OAuthErrorInfo, TokenProvider } from "../io/oauth.ts";
