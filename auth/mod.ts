/**
 * SASL authentication shared by the SMTP and POP3 clients: mechanisms over
 * bytes, a chooser, and a protocol-independent driver. Also the primitives
 * they need and the runtimes lack: strict base64, MD5 and HMAC-MD5.
 *
 * ## Mechanisms
 *
 * | Name | Class | Needs | Initial response |
 * |---|---|---|---|
 * | `PLAIN` (RFC 4616) | {@linkcode PlainMechanism} | password | yes |
 * | `LOGIN` | {@linkcode LoginMechanism} | password | no: username, then password |
 * | `CRAM-MD5` (RFC 2195) | {@linkcode CramMd5Mechanism} | password | no: answers the challenge |
 * | `XOAUTH2` | {@linkcode XOAuth2Mechanism} | access token | yes |
 * | `OAUTHBEARER` (RFC 7628) | {@linkcode OAuthBearerMechanism} | access token | yes |
 *
 * Every mechanism checks its credentials when created, before producing a
 * byte: CR, LF or NUL anywhere (any control character in the username,
 * authzid or token) is an {@linkcode AuthError}, as is a missing password
 * or token. {@linkcode mechanisms} lists the built-ins;
 * {@linkcode createMechanism} makes one by name.
 *
 * ## Choosing
 *
 * {@linkcode chooseMechanism} picks the first mechanism of the preference
 * that the server offers. The default preference is `XOAUTH2`,
 * `OAUTHBEARER` when there is an access token, then `CRAM-MD5`, `PLAIN`,
 * `LOGIN` when there is a password.
 *
 * **No secrets in clear text by default:** when the connection is not
 * protected by TLS, `chooseMechanism` throws unless `allowInsecureAuth` is
 * `true`, even for CRAM-MD5 (a recorded CRAM-MD5 exchange allows an offline
 * dictionary attack on the password).
 *
 * ## Driving an exchange
 *
 * {@linkcode authenticate} runs the exchange over a
 * {@linkcode SaslTransport}, which the SMTP and POP3 clients implement.
 * It base64-encodes responses, sends `=` for an empty initial response,
 * defers a too-long initial response to the first challenge (POP3: 255
 * octets), cancels with `*` on an invalid challenge, and rejects a server
 * that reports success before the mechanism has finished.
 *
 * ```ts
 * import { authenticate, chooseMechanism, type SaslStep } from "@mailwire/mailwire/auth";
 *
 * const mechanism = chooseMechanism(["PLAIN", "LOGIN"], { username: "tim", password: "secret" }, {
 *   secure: true,
 * });
 * const sent: string[] = [];
 * await authenticate(mechanism, {
 *   begin(name, initialResponse): Promise<SaslStep> {
 *     sent.push(`AUTH ${name} ${initialResponse}`);
 *     return Promise.resolve({ done: true });
 *   },
 *   respond(): Promise<SaslStep> {
 *     throw new Error("not reached");
 *   },
 * });
 * console.log(sent); // [ "AUTH PLAIN AHRpbQBzZWNyZXQ=" ]
 * ```
 *
 * ## Adding a mechanism
 *
 * Implement {@linkcode SaslMechanism} and pass a factory in `custom`: custom
 * mechanisms come first in the default preference, and may replace a
 * built-in of the same name.
 *
 * ```ts
 * import {
 *   chooseMechanism,
 *   type Credentials,
 *   type SaslMechanism,
 *   validateCredentials,
 * } from "@mailwire/mailwire/auth";
 *
 * // EXTERNAL (RFC 4422 appendix A): the identity comes from the TLS client
 * // certificate; the client only names the authzid.
 * class ExternalMechanism implements SaslMechanism {
 *   readonly name = "EXTERNAL";
 *   #authzid: Uint8Array;
 *   #finished = false;
 *   constructor(credentials: Credentials) {
 *     validateCredentials(credentials);
 *     this.#authzid = new TextEncoder().encode(credentials.authzid ?? "");
 *   }
 *   get finished(): boolean {
 *     return this.#finished;
 *   }
 *   start(): Uint8Array {
 *     this.#finished = true;
 *     return this.#authzid;
 *   }
 *   next(): Uint8Array {
 *     throw new Error("unexpected challenge for EXTERNAL");
 *   }
 * }
 *
 * const mechanism = chooseMechanism(["EXTERNAL", "PLAIN"], { username: "tim" }, {
 *   secure: true,
 *   custom: new Map([["EXTERNAL", (credentials: Credentials) => new ExternalMechanism(credentials)]]),
 * });
 * console.log(mechanism.name); // "EXTERNAL"
 * ```
 *
 * @module
 */

export * from "./authenticate.ts";
export * from "./base64.ts";
export * from "./choose_mechanism.ts";
export { createMechanism, mechanisms } from "./create_mechanism.ts";
export * from "./cram_md5.ts";
export * from "./hex.ts";
export * from "./hmac.ts";
export * from "./login.ts";
export * from "./md5.ts";
export * from "./mechanism.ts";
export * from "./oauthbearer.ts";
export * from "./plain.ts";
export * from "./validate_credentials.ts";
export * from "./xoauth2.ts";
export { AuthError, MailwireError } from "../errors.ts";
