/**
 * MD5 (RFC 1321). WebCrypto has no MD5, and CRAM-MD5 (and APOP) need it.
 *
 * Internal to the package (not exported from the auth entry point): the
 * clients use it; users work with mechanisms over bytes.
 *
 * @module
 */

// Left-rotation amounts: four per round, repeated over the round's 16 steps.
const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const S = new Uint8Array(64);
for (let i = 0; i < 64; i++) S[i] = SHIFTS[((i >> 4) << 2) | (i & 3)];

// K[i] = floor(abs(sin(i + 1)) * 2^32).
const K = new Uint32Array(64);
for (let i = 0; i < 64; i++) {
  K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 0x100000000);
}

/**
 * Compute the MD5 digest of `data`.
 *
 * MD5 is broken for collision resistance; mailwire uses it only where a
 * protocol demands it (CRAM-MD5, APOP).
 *
 * @param data The bytes to hash.
 * @returns The 16-byte digest.
 *
 * @example Hash a string
 * ```ts
 * import { md5 } from "./md5.ts";
 * import { toHex } from "./hex.ts";
 *
 * const digest = md5(new TextEncoder().encode("abc"));
 * console.log(toHex(digest)); // "900150983cd24fb0d6963f7d28e17f72"
 * ```
 */
export function md5(data: Uint8Array): Uint8Array {
  const length = data.length;
  // Message + 0x80 + zero padding + 64-bit length, a multiple of 64 bytes.
  const padded = new Uint8Array((((length + 8) >>> 6) + 1) << 6);
  padded.set(data);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  const bits = length * 8;
  view.setUint32(padded.length - 8, bits >>> 0, true);
  view.setUint32(padded.length - 4, Math.floor(bits / 0x100000000), true);

  let a0 = 0x67452301;
  let b0 = 0xefcdab89;
  let c0 = 0x98badcfe;
  let d0 = 0x10325476;
  const m = new Uint32Array(16);

  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let j = 0; j < 16; j++) m[j] = view.getUint32(offset + j * 4, true);
    let a = a0;
    let b = b0;
    let c = c0;
    let d = d0;
    for (let i = 0; i < 64; i++) {
      let f: number;
      let g: number;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      const sum = (a + f + K[i] + m[g]) | 0;
      const s = S[i];
      a = d;
      d = c;
      c = b;
      b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
    }
    a0 = (a0 + a) | 0;
    b0 = (b0 + b) | 0;
    c0 = (c0 + c) | 0;
    d0 = (d0 + d) | 0;
  }

  const digest = new Uint8Array(16);
  const out = new DataView(digest.buffer);
  out.setUint32(0, a0, true);
  out.setUint32(4, b0, true);
  out.setUint32(8, c0, true);
  out.setUint32(12, d0, true);
  return digest;
}
