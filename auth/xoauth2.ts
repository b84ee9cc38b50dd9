/**
 * The XOAUTH2 mechanism (Google, Microsoft).
 *
 * @module
 */

import { AuthError } from "../errors.ts";
import type { Credentials, SaslMechanism } from "./mechanism.ts";
import { validateCredentials } from "./validate_credentials.ts";

/**
 * XOAUTH2: one initial response, `user=<username>\x01auth=Bearer <token>\x01\x01`.
 * When the server rejects the token it sends one challenge holding a JSON
 * error; the mechanism answers it with an empty response (so the server can
 * send its failure reply) and exposes the text as {@linkcode XOAuth2Mechanism.error}.
 *
 * @example
 * ```ts
 * import { XOAuth2Mechanism } from "@mailwire/mailwire/auth";
 *
 * const xoauth2 = new XOAuth2Mechanism({ username: "tim@example.com", accessToken: "ya29.token" });
 * const fields = new TextDecoder().decode(xoauth2.start()).split("\x01");
 * console.log(fields); // [ "user=tim@example.com", "auth=Bearer ya29.token", "", "" ]
 *
 * // The server rejects the token with a JSON challenge.
 * const challenge = new TextEncoder().encode('{"status":"401","schemes":"bearer"}');
 * console.log(xoauth2.next(challenge).length); // 0
 * console.log(xoauth2.error); // '{"status":"401","schemes":"bearer"}'
 * ```
 */
export class XOAuth2Mechanism implements SaslMechanism {
  /** Always `"XOAUTH2"`. */
  readonly name = "XOAUTH2";
  #message: Uint8Array;
  #finished = false;
  #error: string | undefined;

  /**
   * Prepare an XOAUTH2 exchange.
   *
   * @param credentials Needs `username` and `accessToken`.
   * @throws {AuthError} When the credentials are missing a token or unsafe.
   */
  constructor(credentials: Credentials) {
    validateCredentials(credentials, {
      require: "accessToken",
      mechanism: "XOAUTH2",
    });
    const { username, accessToken } = credentials;
    this.#message = new TextEncoder().encode(
      `user=${username}\x01auth=Bearer ${accessToken}\x01\x01`,
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
   * Record the server's error challenge and answer it with an empty
   * response.
   *
   * @throws {AuthError} On a second challenge.
   */
  next(challenge: Uint8Array): Uint8Array {
    if (this.#error !== undefined) {
      throw new AuthError("unexpected second challenge for XOAUTH2");
    }
    this.#error = new TextDecoder().decode(challenge);
    this.#finished = true;
    return new Uint8Array(0);
  }
}
