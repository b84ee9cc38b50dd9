/**
 * Lowercase hexadecimal encoding, as CRAM-MD5 and APOP send digests.
 *
 * Internal to the package (not exported from the auth entry point): the
 * clients use it; users work with mechanisms over bytes.
 *
 * @module
 */

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, "0"));

/**
 * Encode bytes as lowercase hexadecimal, two digits per byte.
 *
 * @param bytes The bytes to encode.
 * @returns The hex text.
 *
 * @example
 * ```ts
 * import { toHex } from "./hex.ts";
 *
 * console.log(toHex(new Uint8Array([0, 15, 255]))); // "000fff"
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  const parts = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) parts[i] = HEX[bytes[i]];
  return parts.join("");
}
