/**
 * SASL authentication shared by the SMTP and POP3 clients: mechanisms over
 * bytes, a chooser, and the credential check. The clients drive the
 * exchange; the primitives behind it (strict base64, MD5, HMAC-MD5, hex)
 * are internal: a mechanism works on bytes, and its users never need them.
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
 * The SMTP and POP3 clients run the exchange (`auth(mechanism)`, `login()`):
 * they base64-encode responses, send `=` for an empty initial response,
 * defer a too-long initial response to the first challenge (POP3: 255
 * octets) and answer that challenge whatever it says, ignore whitespace
 * around a challenge, cancel with `*` on an invalid one (a mechanism that
 * reads its challenges, such as CRAM-MD5, gets only valid base64), and
 * reject a server that reports success before the mechanism has finished.
 *
 * ```ts
 * import { chooseMechanism } from "@mailwire/mailwire/auth";
 *
 * const mechanism = chooseMechanism(["PLAIN", "LOGIN"], { username: "tim", password: "secret" }, {
 *   secure: true,
 * });
 * console.log(mechanism.name, new TextDecoder().decode(mechanism.start()!).split("\0"));
 * // "PLAIN" [ "", "tim", "secret" ]
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

export {
  chooseMechanism,
  type ChooseMechanismOptions,
} from "./choose_mechanism.ts";
export { createMechanism, mechanisms } from "./create_mechanism.ts";
export { CramMd5Mechanism } from "./cram_md5.ts";
export { LoginMechanism } from "./login.ts";
export type {
  Credentials,
  MechanismFactory,
  SaslMechanism,
} from "./mechanism.ts";
export { OAuthBearerMechanism } from "./oauthbearer.ts";
export { PlainMechanism } from "./plain.ts";
export {
  validateCredentials,
  type ValidateCredentialsOptions,
} from "./validate_credentials.ts";
export { XOAuth2Mechanism } from "./xoauth2.ts";
export { AuthError, MailwireError } from "../errors.ts";
