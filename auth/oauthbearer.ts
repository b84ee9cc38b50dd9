/**
 * The OAUTHBEARER mechanism (RFC 7628).
 *
 * @module
 */

import { AuthError } from "../errors.ts";
import type { Credentials, SaslMechanism } from "./mechanism.ts";
import { validateCredentials } from "./validate_credentials.ts";

/**
 * OAUTHBEARER (RFC 7628): one initial response,
 * `n,a=<authzid>,\x01auth=Bearer <token>\x01\x01`, where the identity is
 * `authzid` when given, else `username`, with `,` and `=` escaped as `=2C`
 * and `=3D` (RFC 5801). When the server rejects the token it sends one
 * challenge holding a JSON error; the mechanism answers it with the single
 * byte `\x01` (RFC 7628 §3.2.3) and exposes the text as
 * {@linkcode OAuthBearerMechanism.error}.
 *
 * @example
 * ```ts
 * import { OAuthBearerMechanism } from "@mailwire/mailwire/auth";
 *
 * const bearer = new OAuthBearerMechanism({ username: "tim@example.com", accessToken: "token" });
 * const fields = new TextDecoder().decode(bearer.start()).split("\x01");
 * console.log(fields); // [ "n,a=tim@example.com,", "auth=Bearer token", "", "" ]
 *
 * const challenge = new TextEncoder().encode('{"status":"invalid_token"}');
 * console.log(bearer.next(challenge)); // Uint8Array(1) [ 1 ]
 * console.log(bearer.error); // '{"status":"invalid_token"}'
 * ```
 */
export class OAuthBearerMechanism implements SaslMechanism {
  /** Always `"OAUTHBEARER"`. */
  readonly name = "OAUTHBEARER";
  #message: Uint8Array;
  #finished = false;
  #error: string | undefined;

  /**
   * Prepare an OAUTHBEARER exchange.
   *
   * @param credentials Needs `username` and `accessToken`; `authzid`, when
   * given, is sent instead of `username`.
   * @throws {AuthError} When the credentials are missing a token or unsafe.
   */
  constructor(credentials: Credentials) {
    validateCredentials(credentials, {
      require: "accessToken",
      mechanism: "OAUTHBEARER",
    });
    const identity = (credentials.authzid || credentials.username)
      .replaceAll("=", "=3D")
      .replaceAll(",", "=2C");
    this.#message = new TextEncoder().encode(
      `n,a=${identity},\x01auth=Bearer ${credentials.accessToken}\x01\x01`,
    );
  }

  /** True once the initial response has been produced. */
  get finished(): boolean {
    return this.#finished;
  }

  /** The server's error text (usually JSON), once it has sent one; else `undefined`. */
  get error(): string | undefined {
    return this.#error;
  }

  /** Return the initial response. */
  start(): Uint8Array {
    this.#finished = true;
    return this.#message;
  }

  /**
   * Record the server's error challenge and answer it with `\x01`.
   *
   * @throws {AuthError} On a second challenge.
   */
  next(challenge: Uint8Array): Uint8Array {
    if (this.#error !== undefined) {
      throw new AuthError("unexpected second challenge for OAUTHBEARER");
    }
    this.#error = new TextDecoder().decode(challenge);
    this.#finished = true;
    return new Uint8Array([1]);
  }
}
