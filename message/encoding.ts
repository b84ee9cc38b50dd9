/**
 * Content transfer encodings of message bodies (RFC 2045): a streaming
 * base64 encoder that wraps at 76 columns, quoted-printable for text, and
 * tolerant decoders for both. Bytes in, bytes out; linear in the input.
 */

const ALPHABET =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ENC = new Uint8Array(64);
const DEC = new Int8Array(256).fill(-1);
for (let i = 0; i < 64; i++) {
  ENC[i] = ALPHABET.charCodeAt(i);
  DEC[ENC[i]] = i;
}
// base64url letters decode too (seen in the wild).
DEC[45] = 62;
DEC[95] = 63;

/** Bytes of input per 76-column base64 line. */
const LINE_BYTES = 57;

function encodeInto(
  src: Uint8Array,
  from: number,
  to: number,
  out: Uint8Array,
  at: number,
): number {
  let i = from;
  for (; i + 3 <= to; i += 3) {
    const n = (src[i] << 16) | (src[i + 1] << 8) | src[i + 2];
    out[at++] = ENC[n >> 18];
    out[at++] = ENC[(n >> 12) & 63];
    out[at++] = ENC[(n >> 6) & 63];
    out[at++] = ENC[n & 63];
  }
  const rest = to - i;
  if (rest === 1) {
    const n = src[i] << 16;
    out[at++] = ENC[n >> 18];
    out[at++] = ENC[(n >> 12) & 63];
    out[at++] = 61;
    out[at++] = 61;
  } else if (rest === 2) {
    const n = (src[i] << 16) | (src[i + 1] << 8);
    out[at++] = ENC[n >> 18];
    out[at++] = ENC[(n >> 12) & 63];
    out[at++] = ENC[(n >> 6) & 63];
    out[at++] = 61;
  }
  return at;
}

/** Base64 of `bytes`, unwrapped (encoded words, DKIM tags). */
export function encodeBase64(bytes: Uint8Array): string {
  const out = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
  encodeInto(bytes, 0, bytes.length, out, 0);
  let s = "";
  for (let i = 0; i < out.length; i += 8192) {
    s += String.fromCharCode(...out.subarray(i, i + 8192));
  }
  return s;
}

/**
 * The length of the wrapped base64 form of `n` bytes, as
 * {@linkcode Base64LineEncoder} writes it (lines separated by CRLF, none
 * after the last).
 */
export function base64WrappedLength(n: number): number {
  if (n === 0) return 0;
  const lines = Math.ceil(n / LINE_BYTES);
  return Math.ceil(n / 3) * 4 + 2 * (lines - 1);
}

/**
 * Base64 in 76-column lines, fed chunk by chunk. Lines are separated by
 * CRLF; the last line has no line end (the MIME delimiter that follows
 * brings its own). Holds at most 56 bytes between calls.
 */
export class Base64LineEncoder {
  #carry = new Uint8Array(LINE_BYTES);
  #carried = 0;
  #lines = 0;

  /** Encode `chunk`; returns the complete lines it finished. */
  push(chunk: Uint8Array): Uint8Array {
    const src = chunk;
    let start = 0;
    if (this.#carried > 0) {
      const take = Math.min(LINE_BYTES - this.#carried, chunk.length);
      this.#carry.set(chunk.subarray(0, take), this.#carried);
      this.#carried += take;
      start = take;
      if (this.#carried < LINE_BYTES) return new Uint8Array(0);
    }
    const head = this.#carried === LINE_BYTES ? 1 : 0;
    const full = Math.floor((src.length - start) / LINE_BYTES);
    const lines = head + full;
    const out = new Uint8Array(
      lines * 78 - (this.#lines === 0 && lines ? 2 : 0),
    );
    let at = 0;
    const line = (from: Uint8Array, i: number) => {
      if (this.#lines++ > 0) {
        out[at++] = 13;
        out[at++] = 10;
      }
      at = encodeInto(from, i, i + LINE_BYTES, out, at);
    };
    if (head) {
      line(this.#carry, 0);
      this.#carried = 0;
    }
    for (let k = 0; k < full; k++) line(src, start + k * LINE_BYTES);
    const restFrom = start + full * LINE_BYTES;
    if (restFrom < src.length) {
      this.#carry.set(src.subarray(restFrom), 0);
      this.#carried = src.length - restFrom;
    }
    return out;
  }

  /** The last, partial line (possibly empty). */
  end(): Uint8Array {
    if (this.#carried === 0) return new Uint8Array(0);
    const prefix = this.#lines > 0 ? 2 : 0;
    const out = new Uint8Array(prefix + Math.ceil(this.#carried / 3) * 4);
    if (prefix) {
      out[0] = 13;
      out[1] = 10;
    }
    encodeInto(this.#carry, 0, this.#carried, out, prefix);
    this.#carried = 0;
    this.#lines++;
    return out;
  }
}

/**
 * Decode base64, tolerating what real mail holds: line breaks, spaces,
 * missing padding, stray characters (skipped) and base64url letters.
 */
export function decodeBase64(input: Uint8Array | string): Uint8Array {
  const src = typeof input === "string" ? latin1Bytes(input) : input;
  const out = new Uint8Array(Math.floor(src.length * 3 / 4) + 3);
  let at = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < src.length; i++) {
    const v = DEC[src[i]];
    if (v < 0) continue;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, at);
}

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

const HEX = "0123456789ABCDEF";

/**
 * Quoted-printable (RFC 2045 §6.7) of text whose line ends are CRLF: CRLF
 * stays a hard line break, every encoded line is at most 76 characters
 * (soft breaks `=` where needed), space or tab before a line end is
 * encoded.
 */
export function encodeQuotedPrintable(bytes: Uint8Array): Uint8Array {
  // Worst case: every byte =XX plus a soft break every 25 bytes.
  const out = new Uint8Array(
    bytes.length * 3 + Math.ceil(bytes.length / 24) * 3 + 3,
  );
  let at = 0;
  let col = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b === 13 && bytes[i + 1] === 10) {
      out[at++] = 13;
      out[at++] = 10;
      i++;
      col = 0;
      continue;
    }
    const atLineEnd = i + 1 === n ||
      (bytes[i + 1] === 13 && bytes[i + 2] === 10);
    const literal = (b >= 33 && b <= 126 && b !== 61) ||
      ((b === 32 || b === 9) && !atLineEnd);
    const width = literal ? 1 : 3;
    // Room for the token, and for a soft break after it unless the line ends.
    const limit = atLineEnd ? 76 : 75;
    if (col + width > limit) {
      out[at++] = 61;
      out[at++] = 13;
      out[at++] = 10;
      col = 0;
    }
    if (literal) {
      out[at++] = b;
    } else {
      out[at++] = 61;
      out[at++] = HEX.charCodeAt(b >> 4);
      out[at++] = HEX.charCodeAt(b & 15);
    }
    col += width;
  }
  return out.slice(0, at);
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * Decode quoted-printable, tolerantly: `=XX` (either case) is a byte, `=`
 * before a line end (even with trailing blanks) is a soft break, any other
 * `=` stays literal, and blanks before a line end are dropped (RFC 2045
 * §6.7 (3)).
 */
export function decodeQuotedPrintable(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length);
  let at = 0;
  const n = src.length;
  for (let i = 0; i < n; i++) {
    const b = src[i];
    if (b === 61) {
      const h = hexValue(src[i + 1]);
      const l = hexValue(src[i + 2]);
      if (h >= 0 && l >= 0 && i + 2 < n) {
        out[at++] = (h << 4) | l;
        i += 2;
        continue;
      }
      // A soft break: "=" then optional blanks then CRLF, LF or the end.
      let j = i + 1;
      while (j < n && (src[j] === 32 || src[j] === 9)) j++;
      if (j === n) break;
      if (src[j] === 10) {
        i = j;
        continue;
      }
      if (src[j] === 13 && (src[j + 1] === 10 || j + 1 === n)) {
        i = j + 1;
        continue;
      }
      out[at++] = b;
      continue;
    }
    if (b === 32 || b === 9) {
      let j = i + 1;
      while (j < n && (src[j] === 32 || src[j] === 9)) j++;
      if (j === n || src[j] === 10 || (src[j] === 13 && src[j + 1] === 10)) {
        i = j - 1; // trailing blanks: dropped
        continue;
      }
      while (i < j) out[at++] = src[i++];
      i--;
      continue;
    }
    out[at++] = b;
  }
  return out.subarray(0, at);
}

/** `parts` joined into one buffer; a single part is returned as it is. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
