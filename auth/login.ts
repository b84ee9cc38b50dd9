/**
 * The LOGIN mechanism (draft-murchison-sasl-login).
 *
 * @module
 */

import { AuthError } from "../errors.ts";
import type { Credentials, SaslMechanism } from "./mechanism.ts";
import { validateCredentials } from "./validate_credentials.ts";

/**
 * LOGIN: no initial response; the first challenge is answered with the
 * username, the second with the password. The prompt texts
 * (`Username:`/`Password:`) are ignored: only their order counts, so a
 * server cannot obtain the password by asking for the username, and a
 * prompt that is not valid base64 is answered all the same. A third
 * challenge is an error.
 *
 * @example
 * ```ts
 * import { LoginMechanism } from "@mailwire/mailwire/auth";
 *
 * const text = new TextEncoder();
 * const login = new LoginMechanism({ username: "tim", password: "secret" });
 * console.log(login.start()); // null
 * console.log(new TextDecoder().decode(login.next(text.encode("Username:")))); // "tim"
 * console.log(new TextDecoder().decode(login.next(text.encode("Password:")))); // "secret"
 * console.log(login.finished); // true
 * ```
 */
export class LoginMechanism implements SaslMechanism {
  /** Always `"LOGIN"`. */
  readonly name = "LOGIN";
  /** Always `true`: the prompts' text is ignored, so an undecodable one is answered too. */
  readonly ignoresChallenges = true;
  #username: Uint8Array;
  #password: Uint8Array;
  #step = 0;

  /**
   * Prepare a LOGIN exchange.
   *
   * @param credentials Needs `username` and `password`.
   * @throws {AuthError} When the credentials are missing a password or unsafe.
   */
  constructor(credentials: Credentials) {
    validateCredentials(credentials, {
      require: "password",
      mechanism: "LOGIN",
    });
    const text = new TextEncoder();
    this.#username = text.encode(credentials.username);
    this.#password = text.encode(credentials.password);
  }

  /** True once the password has been produced. */
  get finished(): boolean {
    return this.#step >= 2;
  }

  /** LOGIN has no initial response: always `null`. */
  start(): null {
    return null;
  }

  /**
   * Answer the first challenge with the username, the second with the
   * password, whatever their text.
   *
   * @throws {AuthError} On a third challenge.
   */
  next(_challenge: Uint8Array): Uint8Array {
    switch (this.#step++) {
      case 0:
        return this.#username;
      case 1:
        return this.#password;
      default:
        this.#step = 2;
        throw new AuthError("unexpected third challenge for LOGIN");
    }
  }
}
