/**
 * The CRAM-MD5 mechanism (RFC 2195).
 *
 * @module
 */

import { AuthError } from "../errors.ts";
import { toHex } from "./hex.ts";
import { hmacMd5 } from "./hmac.ts";
import type { Credentials, SaslMechanism } from "./mechanism.ts";
import { validateCredentials } from "./validate_credentials.ts";

/**
 * CRAM-MD5 (RFC 2195): no initial response; the server's challenge is
 * answered with `username SP hex(HMAC-MD5(password, challenge))`. The
 * password itself never travels, but a recorded exchange allows an offline
 * dictionary attack, so mailwire still refuses it without TLS by default.
 *
 * @example The exchange of RFC 2195
 * ```ts
 * import { CramMd5Mechanism } from "@mailwire/mailwire/auth";
 *
 * const cram = new CramMd5Mechanism({ username: "tim", password: "tanstaaftanstaaf" });
 * const challenge = new TextEncoder().encode("<1896.697170952@postoffice.reston.mci.net>");
 * console.log(cram.start()); // null
 * console.log(new TextDecoder().decode(cram.next(challenge)));
 * // "tim b913a602c7eda7a495b4e6e7334d3890"
 * ```
 */
export class CramMd5Mechanism implements SaslMechanism {
  /** Always `"CRAM-MD5"`. */
  readonly name = "CRAM-MD5";
  #username: string;
  #key: Uint8Array;
  #finished = false;

  /**
   * Prepare a CRAM-MD5 exchange.
   *
   * @param credentials Needs `username` and `password`.
   * @throws {AuthError} When the credentials are missing a password or unsafe.
   */
  constructor(credentials: Credentials) {
    validateCredentials(credentials, {
      require: "password",
      mechanism: "CRAM-MD5",
    });
    this.#username = credentials.username;
    this.#key = new TextEncoder().encode(credentials.password);
  }

  /** True once the digest has been produced. */
  get finished(): boolean {
    return this.#finished;
  }

  /** CRAM-MD5 has no initial response: always `null`. */
  start(): null {
    return null;
  }

  /**
   * Answer the challenge with the username and the keyed digest.
   *
   * @throws {AuthError} On an empty challenge, or on a second challenge.
   */
  next(challenge: Uint8Array): Uint8Array {
    if (this.#finished) {
      throw new AuthError("unexpected second challenge for CRAM-MD5");
    }
    if (challenge.length === 0) {
      throw new AuthError("empty challenge for CRAM-MD5");
    }
    this.#finished = true;
    const digest = toHex(hmacMd5(this.#key, challenge));
    return new TextEncoder().encode(`${this.#username} ${digest}`);
  }
}
