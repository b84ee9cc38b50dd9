/**
 * The PLAIN mechanism (RFC 4616).
 *
 * @module
 */

import { AuthError } from "../errors.ts";
import type { Credentials, SaslMechanism } from "./mechanism.ts";
import { validateCredentials } from "./validate_credentials.ts";

/**
 * PLAIN (RFC 4616): one message, `authzid NUL username NUL password`, sent
 * as the initial response. The password travels in clear inside the
 * message, so it is only safe under TLS.
 *
 * @example
 * ```ts
 * import { PlainMechanism } from "@mailwire/mailwire/auth";
 *
 * const plain = new PlainMechanism({ username: "tim", password: "tanstaaftanstaaf" });
 * console.log(new TextDecoder().decode(plain.start()).split("\0")); // [ "", "tim", "tanstaaftanstaaf" ]
 * console.log(plain.finished); // true
 * ```
 */
export class PlainMechanism implements SaslMechanism {
  /** Always `"PLAIN"`. */
  readonly name = "PLAIN";
  #message: Uint8Array;
  #finished = false;

  /**
   * Prepare a PLAIN exchange.
   *
   * @param credentials Needs `username` and `password`; `authzid` is optional.
   * @throws {AuthError} When the credentials are missing a password or unsafe.
   */
  constructor(credentials: Credentials) {
    validateCredentials(credentials, {
      require: "password",
      mechanism: "PLAIN",
    });
    const { username, password, authzid = "" } = credentials;
    this.#message = new TextEncoder().encode(
      `${authzid}\0${username}\0${password}`,
    );
  }

  /** True once the message has been produced. */
  get finished(): boolean {
    return this.#finished;
  }

  /** Return the message; PLAIN always has an initial response. */
  start(): Uint8Array {
    this.#finished = true;
    return this.#message;
  }

  /**
   * PLAIN expects no challenge after its message.
   *
   * @throws {AuthError} Always.
   */
  next(_challenge: Uint8Array): Uint8Array {
    throw new AuthError("unexpected challenge for PLAIN");
  }
}
