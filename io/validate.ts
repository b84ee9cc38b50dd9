// Input checks every client applies before a byte is sent: CR/LF/NUL in arguments and credentials.

import type { Credentials } from "../auth/mechanism.ts";
import { InvalidInputError } from "../errors.ts";

const UNSAFE = /[\r\n\0]/;

/**
 * Throw InvalidInputError when `value` holds CR, LF or NUL. `what` names the
 * argument in the message; the value itself is never echoed (it may be a
 * secret).
 */
export function assertSafe(value: string, what: string): void {
  if (typeof value !== "string") {
    throw new InvalidInputError(`${what} must be a string`);
  }
  if (UNSAFE.test(value)) {
    throw new InvalidInputError(
      `${what} contains a cr, lf or nul character`,
    );
  }
}

/**
 * Check every credential field (username, password, access token, authzid)
 * before the first byte of a login: each given one must be a string
 * without CR, LF or NUL. Never echoes a value.
 */
export function assertCredentials(credentials: Credentials): void {
  assertSafe(credentials.username, "username");
  for (const key of ["password", "accessToken", "authzid"] as const) {
    const value = credentials[key];
    if (value !== undefined) assertSafe(value, key);
  }
}
