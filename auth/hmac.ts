/**
 * HMAC-MD5 (RFC 2104), the keyed digest behind CRAM-MD5.
 *
 * Internal to the package (not exported from the auth entry point): the
 * clients use it; users work with mechanisms over bytes.
 *
 * @module
 */

import { md5 } from "./md5.ts";

const BLOCK = 64;

/**
 * Compute HMAC-MD5 of `data` under `key` (RFC 2104). Keys longer than the
 * 64-byte block are hashed first.
 *
 * @param key The secret key.
 * @param data The message to authenticate.
 * @returns The 16-byte MAC.
 *
 * @example The CRAM-MD5 digest of RFC 2195
 * ```ts
 * import { hmacMd5 } from "./hmac.ts";
 * import { toHex } from "./hex.ts";
 *
 * const text = new TextEncoder();
 * const mac = hmacMd5(
 *   text.encode("tanstaaftanstaaf"),
 *   text.encode("<1896.697170952@postoffice.reston.mci.net>"),
 * );
 * console.log(toHex(mac)); // "b913a602c7eda7a495b4e6e7334d3890"
 * ```
 */
export function hmacMd5(key: Uint8Array, data: Uint8Array): Uint8Array {
  const k = key.length > BLOCK ? md5(key) : key;
  const inner = new Uint8Array(BLOCK + data.length);
  const outer = new Uint8Array(BLOCK + 16);
  for (let i = 0; i < BLOCK; i++) {
    const byte = i < k.length ? k[i] : 0;
    inner[i] = byte ^ 0x36;
    outer[i] = byte ^ 0x5c;
  }
  inner.set(data, BLOCK);
  outer.set(md5(inner), BLOCK);
  const mac = md5(outer);
  inner.fill(0, 0, BLOCK);
  outer.fill(0, 0, BLOCK);
  return mac;
}
