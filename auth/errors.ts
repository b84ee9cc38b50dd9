/**
 * The error thrown by every SASL failure detected on the client side.
 *
 * @module
 */

import { MailwireError } from "../tls/errors.ts";

/**
 * Authentication failed on the client side: unusable or unsafe credentials,
 * no acceptable mechanism, credentials refused over a connection without
 * TLS, or a server that broke the SASL exchange (invalid base64 challenge,
 * success reported too early, too many challenges).
 *
 * A server that simply rejects the credentials (SMTP `535`, POP3 `-ERR`) is
 * reported by the protocol client's own error instead. Messages never
 * contain a secret.
 *
 * @example Tell authentication failures apart
 * ```ts
 * import { AuthError, decodeBase64 } from "@mailwire/mailwire/auth";
 *
 * try {
 *   decodeBase64("not base64!");
 * } catch (err) {
 *   console.log(err instanceof AuthError); // true
 * }
 * ```
 */
export class AuthError extends MailwireError {}
