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
