/**
 * Credential checks: the one check the clients run before any byte, and the
 * public form every mechanism runs before producing one.
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

/** What is wrong with a string field, or undefined: C0 controls / DEL (or only CR, LF, NUL), lone surrogates. */
function problem(text: string, controls: boolean): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (
      controls
        ? code < 0x20 || code === 0x7f
        : code === 0x0d || code === 0x0a || code === 0
    ) {
      return controls ? "control characters" : "CR, LF or NUL";
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      // A lone surrogate would be sent as U+FFFD: another secret than the user's.
      const next = text.charCodeAt(i + 1);
      if (code >= 0xdc00 || !(next >= 0xdc00 && next <= 0xdfff)) {
        return "a lone surrogate (not well-formed unicode)";
      }
      i++;
    }
  }
  return undefined;
}

/** Names users bring from other libraries, and ours. */
const RENAMED: Readonly<Record<string, string>> = {
  user: "username",
  pass: "password",
  token: "accessToken",
  access_token: "accessToken",
  authzId: "authzid",
};

/**
 * Options for {@linkcode checkCredentials} (internal).
 */
export interface CheckCredentialsOptions extends ValidateCredentialsOptions {
  /** A mechanism name the caller will send (`AUTH <name>`): must be a SASL name. */
  mechanismName?: string;
}

/** SASL mechanism names (RFC 4422 §3.1): 1 to 20 of A-Z, 0-9, `-`, `_`. */
export const MECHANISM_NAME: RegExp = /^[A-Z0-9_-]{1,20}$/;

/**
 * The one check of every credential field, internal to the package: the
 * clients call it first thing in `login()`/`loginWithToken()`/`auth` and at
 * connect, before a byte is sent, whatever mechanism (or USER/PASS, APOP)
 * follows. Every built-in mechanism runs it too, through
 * {@linkcode validateCredentials}.
 *
 * - `credentials` must be an object; `username` a non-empty string.
 * - `username`, `authzid`, `accessToken`: strings without control
 *   characters (a NUL would forge a PLAIN field, a `\x01` an XOAUTH2 or
 *   OAUTHBEARER field, CR or LF a protocol line).
 * - `password`: a string without CR, LF or NUL.
 * - No field may hold a lone surrogate (it would be sent as U+FFFD).
 * - With `require`, that secret must be present and non-empty; with
 *   `mechanismName`, that name must be a valid SASL name.
 *
 * Errors name the field, never its value, and hint at the name to use for
 * `user`, `pass` or `token`.
 *
 * @throws {AuthError} When a field is missing, of the wrong type, or unsafe.
 */
export function checkCredentials(
  credentials: unknown,
  options: CheckCredentialsOptions = {},
): Credentials {
  if (typeof credentials !== "object" || credentials === null) {
    throw new AuthError("credentials must be an object");
  }
  const fields = credentials as Record<string, unknown>;
  for (const [wrong, right] of Object.entries(RENAMED)) {
    if (fields[wrong] !== undefined && fields[right] === undefined) {
      throw new AuthError(
        `unknown credentials field ${wrong}; did you mean ${right}?`,
      );
    }
  }
  const { username, password, accessToken, authzid } = fields;
  if (typeof username !== "string" || username.length === 0) {
    throw new AuthError("username must be a non-empty string");
  }
  const check = (name: string, value: unknown, controls: boolean) => {
    if (value === undefined) return;
    if (typeof value !== "string") {
      throw new AuthError(`${name} must be a string`);
    }
    const bad = problem(value, controls);
    if (bad) throw new AuthError(`${name} must not contain ${bad}`);
  };
  check("username", username, true);
  check("authzid", authzid, true);
  check("password", password, false);
  check("access token", accessToken, true);
  const required = options.require;
  if (required !== undefined && !fields[required]) {
    const what = required === "password" ? "password" : "access token";
    throw new AuthError(
      options.mechanism
        ? `missing ${what} for ${options.mechanism}`
        : `missing ${what}`,
    );
  }
  const name = options.mechanismName;
  if (
    name !== undefined &&
    (typeof name !== "string" || !MECHANISM_NAME.test(name))
  ) {
    throw new AuthError(`invalid sasl mechanism name ${JSON.stringify(name)}`);
  }
  return credentials as Credentials;
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
 * - No field may hold a lone surrogate: it would be sent as U+FFFD, not as
 *   what the user typed.
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
  checkCredentials(credentials, {
    require: options.require,
    mechanism: options.mechanism,
  });
}
