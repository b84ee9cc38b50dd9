/**
 * Strict base64 (RFC 4648 §4, standard alphabet, padded), as SASL uses it.
 *
 * Internal to the package (not exported from the auth entry point): the
 * clients use it; users work with mechanisms over bytes.
 *
 * @module
 */

import { AuthError } from "../errors.ts";

const ALPHABET =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const PAD = 0x3d; // "="

const ENCODE = new Uint8Array(64);
const DECODE = new Int8Array(256).fill(-1);
for (let i = 0; i < 64; i++) {
  const code = ALPHABET.charCodeAt(i);
  ENCODE[i] = code;
  DECODE[code] = i;
}

const ascii = new TextDecoder();

/**
 * Encode bytes as padded base64 with the standard alphabet.
 *
 * @param bytes The bytes to encode.
 * @returns The base64 text; empty for empty input.
 *
 * @example Encode a PLAIN initial response
 * ```ts
 * import { encodeBase64 } from "./base64.ts";
 *
 * const bytes = new TextEncoder().encode("\0tim\0tanstaaftanstaaf");
 * console.log(encodeBase64(bytes)); // "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  const length = bytes.length;
  const out = new Uint8Array(Math.ceil(length / 3) * 4);
  let o = 0;
  let i = 0;
  for (const end = length - (length % 3); i < end; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out[o++] = ENCODE[n >>> 18];
    out[o++] = ENCODE[(n >>> 12) & 63];
    out[o++] = ENCODE[(n >>> 6) & 63];
    out[o++] = ENCODE[n & 63];
  }
  const rest = length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out[o++] = ENCODE[n >>> 18];
    out[o++] = ENCODE[(n >>> 12) & 63];
    out[o++] = PAD;
    out[o++] = PAD;
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out[o++] = ENCODE[n >>> 18];
    out[o++] = ENCODE[(n >>> 12) & 63];
    out[o++] = ENCODE[(n >>> 6) & 63];
    out[o++] = PAD;
  }
  return ascii.decode(out);
}

/**
 * Decode padded base64 with the standard alphabet, strictly.
 *
 * Unlike `atob`, nothing is tolerated: the length must be a multiple of 4,
 * every character must be in the alphabet (no whitespace, no URL-safe
 * `-`/`_`), `=` may only appear as one or two final padding characters, and
 * the bits the padding leaves unused must be zero (so every byte string has
 * exactly one accepted encoding).
 *
 * @param text The base64 text; the empty string decodes to empty bytes.
 * @returns The decoded bytes.
 * @throws {AuthError} When `text` is not canonical padded base64.
 *
 * @example Decode a server challenge
 * ```ts
 * import { decodeBase64 } from "./base64.ts";
 *
 * const challenge = decodeBase64("VXNlcm5hbWU6");
 * console.log(new TextDecoder().decode(challenge)); // "Username:"
 * ```
 *
 * @example Invalid input throws
 * ```ts
 * import { AuthError } from "../errors.ts";
 * import { decodeBase64 } from "./base64.ts";
 *
 * try {
 *   decodeBase64("YQ"); // missing padding
 * } catch (err) {
 *   console.log(err instanceof AuthError); // true
 * }
 * ```
 */
export function decodeBase64(text: string): Uint8Array {
  const length = text.length;
  if (length % 4 !== 0) {
    throw new AuthError("invalid base64: length is not a multiple of 4");
  }
  if (length === 0) return new Uint8Array(0);
  let padding = 0;
  if (text.charCodeAt(length - 1) === PAD) {
    padding = text.charCodeAt(length - 2) === PAD ? 2 : 1;
  }
  const out = new Uint8Array((length / 4) * 3 - padding);
  const full = padding === 0 ? length : length - 4;
  let o = 0;
  let i = 0;
  for (; i < full; i += 4) {
    const n = (sextet(text, i) << 18) | (sextet(text, i + 1) << 12) |
      (sextet(text, i + 2) << 6) | sextet(text, i + 3);
    out[o++] = n >>> 16;
    out[o++] = (n >>> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  if (padding === 2) {
    const n = (sextet(text, i) << 18) | (sextet(text, i + 1) << 12);
    if ((n & 0xffff) !== 0) {
      throw new AuthError("invalid base64: non-zero bits before padding");
    }
    out[o] = n >>> 16;
  } else if (padding === 1) {
    const n = (sextet(text, i) << 18) | (sextet(text, i + 1) << 12) |
      (sextet(text, i + 2) << 6);
    if ((n & 0xff) !== 0) {
      throw new AuthError("invalid base64: non-zero bits before padding");
    }
    out[o++] = n >>> 16;
    out[o] = (n >>> 8) & 0xff;
  }
  return out;
}

function sextet(text: string, index: number): number {
  const code = text.charCodeAt(index);
  const value = code < 256 ? DECODE[code] : -1;
  if (value < 0) {
    throw new AuthError(
      code === PAD
        ? "invalid base64: misplaced padding"
        : `invalid base64: unexpected character at index ${index}`,
    );
  }
  return value;
}
