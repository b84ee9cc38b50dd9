/**
 * Credential checks every built-in mechanism runs before producing a byte.
 *
 * @module
 */

import { AuthError } from "../errors.ts";
import type { Credentials } from "./mechanism.ts";

/**
 * Options for {@linkcode validateCredentials}.
 *
 * @example
 * ```ts
 * import { validateCredentials, type ValidateCredentialsOptions } from "@mailwire/mailwire/auth";
 *
 * const options: ValidateCredentialsOptions = { require: "password", mechanism: "PLAIN" };
 * try {
 *   validateCredentials({ username: "tim" }, options);
 * } catch (err) {
 *   console.log((err as Error).message); // "missing password for PLAIN"
 * }
 * ```
 */
export interface ValidateCredentialsOptions {
  /** The secret the mechanism cannot work without. Default: none. */
  require?: "password" | "accessToken";
  /** The mechanism name, used in error messages. */
  mechanism?: string;
}

/** Any C0 control character or DEL. */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** What would end a line (CR, LF) or a field (NUL) in the protocols. */
function hasLineBreak(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x0d || code === 0x0a || code === 0) return true;
  }
  return false;
}

/**
 * Check credentials before anything is sent, throwing an
 * {@linkcode AuthError} that names the field but never its value.
 *
 * - `username` must be a non-empty string; `username`, `authzid` and
 *   `accessToken` must not contain control characters (a NUL would forge a
 *   PLAIN field, a `\x01` an XOAUTH2 field, CR or LF a protocol line).
 * - `password` must not contain CR, LF or NUL (other characters are the
 *   user's business).
 * - With `require`, that secret must be present and non-empty.
 *
 * Custom mechanisms can call it too.
 *
 * @param credentials The credentials to check.
 * @param options What the mechanism needs.
 * @throws {AuthError} When a field is missing, empty or unsafe.
 *
 * @example
 * ```ts
 * import { AuthError, validateCredentials } from "@mailwire/mailwire/auth";
 *
 * validateCredentials({ username: "tim", password: "secret" }, { require: "password" });
 * try {
 *   validateCredentials({ username: "tim\r\nQUIT", password: "secret" });
 * } catch (err) {
 *   console.log(err instanceof AuthError); // true
 * }
 * ```
 */
export function validateCredentials(
  credentials: Credentials,
  options: ValidateCredentialsOptions = {},
): void {
  const { username, password, accessToken, authzid } = credentials;
  if (typeof username !== "string" || username.length === 0) {
    throw new AuthError("username must be a non-empty string");
  }
  if (hasControl(username)) {
    throw new AuthError("username must not contain control characters");
  }
  if (authzid !== undefined) {
    if (typeof authzid !== "string") {
      throw new AuthError("authzid must be a string");
    }
    if (hasControl(authzid)) {
      throw new AuthError("authzid must not contain control characters");
    }
  }
  if (password !== undefined) {
    if (typeof password !== "string") {
      throw new AuthError("password must be a string");
    }
    if (hasLineBreak(password)) {
      throw new AuthError("password must not contain CR, LF or NUL");
    }
  }
  if (accessToken !== undefined) {
    if (typeof accessToken !== "string") {
      throw new AuthError("access token must be a string");
    }
    if (hasControl(accessToken)) {
      throw new AuthError("access token must not contain control characters");
    }
  }
  const required = options.require;
  if (required !== undefined && !credentials[required]) {
    const what = required === "password" ? "password" : "access token";
    throw new AuthError(
      options.mechanism
        ? `missing ${what} for ${options.mechanism}`
        : `missing ${what}`,
    );
  }
}
