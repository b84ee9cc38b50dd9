/**
 * Header field text both ways: RFC 2047 encoded words (encode and decode),
 * folding at 78 columns without a line over 998 octets, RFC 2045/2231
 * parameters (`filename*0*=utf-8''…`), and charset decoding. Every scan is
 * a single pass over the input; no regular expression runs over received
 * data.
 */
import { InvalidInputError } from "../errors.ts";
import { concatBytes, decodeBase64, encodeBase64 } from "./encoding.ts";

const utf8 = new TextEncoder();

/** UTF-8 length of `s` in octets. */
export function byteLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n++;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Whether every character of `s` is ASCII. */
export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Throw when `value` holds CR, LF or NUL (header injection). */
export function assertHeaderSafe(value: string, what: string): void {
  if (typeof value !== "string") {
    throw new InvalidInputError(`${what} must be a string`);
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 13 || c === 10 || c === 0) {
      throw new InvalidInputError(`${what} contains a cr, lf or nul character`);
    }
  }
}

// Characters that may stay literal in a Q-encoded word in any position
// (RFC 2047 §5 (3), the strictest rule, so one encoder serves text and phrases).
function qSafe(b: number): boolean {
  return (b >= 48 && b <= 57) || (b >= 65 && b <= 90) ||
    (b >= 97 && b <= 122) || b === 33 || b === 42 || b === 43 || b === 45 ||
    b === 47;
}

const HEX = "0123456789ABCDEF";
/** Longest encoded word we write: room for `Subject: ` and the word in 78. */
const WORD_MAX = 66;
const WORD_OVERHEAD = "=?UTF-8?B??=".length;

/**
 * `text` as RFC 2047 encoded words in UTF-8, each at most 66 characters,
 * split only between characters. Q when that is shorter, else B.
 */
export function encodeWords(text: string): string[] {
  const bytes = utf8.encode(text);
  let escaped = 0;
  for (const b of bytes) if (!qSafe(b) && b !== 32) escaped++;
  const useQ = bytes.length + 2 * escaped <= Math.ceil(bytes.length / 3) * 4;
  const payload = WORD_MAX - WORD_OVERHEAD;
  const maxBytes = useQ ? payload : Math.floor(payload / 4) * 3;
  const words: string[] = [];
  let start = 0;
  let cost = 0;
  let i = 0;
  const flush = (end: number) => {
    const chunk = bytes.subarray(start, end);
    if (useQ) {
      let s = "";
      for (const b of chunk) {
        s += b === 32
          ? "_"
          : qSafe(b)
          ? String.fromCharCode(b)
          : "=" + HEX[b >> 4] + HEX[b & 15];
      }
      words.push(`=?UTF-8?Q?${s}?=`);
    } else {
      words.push(`=?UTF-8?B?${encodeBase64(chunk)}?=`);
    }
    start = end;
    cost = 0;
  };
  while (i < bytes.length) {
    // One whole UTF-8 character.
    const b = bytes[i];
    const len = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    let c = 0;
    for (let k = 0; k < len; k++) {
      c += useQ ? (qSafe(bytes[i + k]) || bytes[i + k] === 32 ? 1 : 3) : 1;
    }
    if (cost + c > maxBytes && i > start) flush(i);
    cost += c;
    i += len;
  }
  if (i > start || words.length === 0) flush(i);
  return words;
}

function isWsp(c: number): boolean {
  return c === 32 || c === 9;
}

/** Whether a word of an unstructured value must be carried as encoded words. */
function mustEncode(word: string, raw8: boolean): boolean {
  if (word.length > 76 || word.includes("=?")) return true;
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i);
    if (c < 32 || c === 127) return true;
    if (c > 127 && !raw8) return true;
  }
  return false;
}

/**
 * Fold points of an unstructured value (Subject, custom fields): words with
 * the whitespace before them, where runs of words that cannot go as they
 * are (non-ASCII without SMTPUTF8, control characters, `=?`, words longer
 * than a line) become encoded words. The value is trimmed.
 */
export function unstructuredPieces(value: string, raw8: boolean): string[] {
  const v = value.trim();
  const words: { ws: string; word: string }[] = [];
  let i = 0;
  while (i < v.length) {
    const ws0 = i;
    while (i < v.length && isWsp(v.charCodeAt(i))) i++;
    const w0 = i;
    while (i < v.length && !isWsp(v.charCodeAt(i))) i++;
    words.push({ ws: v.slice(ws0, w0), word: v.slice(w0, i) });
  }
  const pieces: string[] = [];
  for (let k = 0; k < words.length;) {
    if (!mustEncode(words[k].word, raw8)) {
      pieces.push(words[k].ws + words[k].word);
      k++;
      continue;
    }
    const lead = words[k].ws;
    let run = words[k].word;
    k++;
    while (k < words.length && mustEncode(words[k].word, raw8)) {
      run += words[k].ws + words[k].word;
      k++;
    }
    encodeWords(run).forEach((w, n) => pieces.push((n ? " " : lead) + w));
  }
  return pieces;
}

/**
 * A whole header field, `Name: value`, folded before the pieces' leading
 * whitespace so lines stay within 78 octets where the pieces allow; no
 * trailing CRLF. A line that would pass 998 octets is an error.
 */
export function foldField(name: string, pieces: string[]): string {
  let out = name + ":";
  let line = out.length;
  for (let i = 0; i < pieces.length; i++) {
    const p = i === 0 ? " " + pieces[0] : pieces[i];
    const len = byteLength(p);
    if (i > 0 && line + len > 78) {
      out += "\r\n";
      line = 0;
    }
    out += p;
    line += len;
    if (line > 998) {
      throw new InvalidInputError(
        `${name.toLowerCase()} header has a word too long for a 998-octet line`,
      );
    }
  }
  return out;
}

// RFC 2231 attribute-char: what may stay literal in an extended value.
function attrChar(b: number): boolean {
  return (b >= 48 && b <= 57) || (b >= 65 && b <= 90) ||
    (b >= 97 && b <= 122) || "!#$&+-.^_`|~".includes(String.fromCharCode(b));
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c >= 127 || '()<>@,;:\\"/[]?='.includes(s[i])) return false;
  }
  return true;
}

/** `"…"` with `\` before `"` and `\`. */
export function quoteString(s: string): string {
  let out = '"';
  for (const ch of s) out += ch === '"' || ch === "\\" ? "\\" + ch : ch;
  return out + '"';
}

/**
 * Fold pieces of one parameter (`; name=value`): a token or quoted string
 * when the value is short printable ASCII, else RFC 2231 extended,
 * percent-encoded UTF-8, split into `name*0*=`, `name*1*=` … sections that
 * fit a line.
 */
export function paramPieces(name: string, value: string): string[] {
  let printable = true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 32 || c > 126) printable = false;
  }
  if (printable && name.length + value.length < 70 && !value.includes("=?")) {
    return [` ${name}=${isToken(value) ? value : quoteString(value)}`];
  }
  const bytes = utf8.encode(value);
  const sections: string[] = [];
  let cur = "utf-8''";
  for (const b of bytes) {
    const t = attrChar(b)
      ? String.fromCharCode(b)
      : "%" + HEX[b >> 4] + HEX[b & 15];
    if (cur.length + t.length > 60) {
      sections.push(cur);
      cur = "";
    }
    cur += t;
  }
  sections.push(cur);
  if (sections.length === 1) return [` ${name}*=${sections[0]}`];
  return sections.map((s, n) => ` ${name}*${n}*=${s}`);
}

/** Field pieces of `value; a=b; c=d` (each parameter after a `;`). */
export function withParams(
  value: string,
  params: [string, string][],
): string[] {
  const pieces = [value];
  for (const [name, v] of params) {
    const ps = paramPieces(name, v);
    pieces[pieces.length - 1] += ";";
    ps.forEach((p, n) => pieces.push(n < ps.length - 1 ? p + ";" : p));
  }
  return pieces;
}

// ---- decoding -------------------------------------------------------------

const decoders = new Map<string, TextDecoder>();

/**
 * Decode `bytes` in `charset` (any label TextDecoder knows); an unknown
 * label decodes as UTF-8. Never throws: bad bytes become U+FFFD.
 */
export function decodeCharset(bytes: Uint8Array, charset = "utf-8"): string {
  const label = charset.trim().toLowerCase() || "utf-8";
  let d = decoders.get(label);
  if (!d) {
    try {
      d = new TextDecoder(label === "us-ascii" ? "utf-8" : label);
    } catch {
      d = new TextDecoder("utf-8");
    }
    if (decoders.size < 64) decoders.set(label, d);
  }
  return d.decode(bytes);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const latin1 = new TextDecoder("windows-1252");

/** Raw header bytes as text: UTF-8 when valid (RFC 6532), else windows-1252. */
export function headerText(bytes: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return latin1.decode(bytes);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return latin1.decode(bytes);
  }
}

function decodeQ(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  let at = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 95) out[at++] = 32;
    else if (c === 61 && i + 2 < s.length) {
      const v = parseInt(s.slice(i + 1, i + 3), 16);
      if (Number.isNaN(v)) out[at++] = 61;
      else {
        out[at++] = v;
        i += 2;
      }
    } else out[at++] = c & 0xff;
  }
  return out.subarray(0, at);
}

/**
 * `indexOf(needle, from)` for calls with growing or repeated `from`, linear
 * over all calls: a miss, or a hit past `from`, is remembered.
 */
function finder(s: string, needle: string): (from: number) => number {
  let lastFrom = -1;
  let last = -1;
  return (from) => {
    if (lastFrom >= 0 && from >= lastFrom && (last < 0 || from <= last)) {
      return last;
    }
    lastFrom = from;
    last = s.indexOf(needle, from);
    return last;
  };
}

/** The first whitespace or control character at or after `from`. */
function spaceFinder(s: string): (from: number) => number {
  let lastFrom = -1;
  let last = -1;
  return (from) => {
    if (lastFrom >= 0 && from >= lastFrom && from <= last) return last;
    let i = from;
    while (i < s.length && s.charCodeAt(i) > 32) i++;
    lastFrom = from;
    last = i;
    return i;
  };
}

/**
 * Decode the RFC 2047 encoded words of a header value: whitespace between
 * two encoded words is dropped, and adjacent words in one charset are
 * joined before decoding (a character split across words survives).
 * Anything that is not a well-formed encoded word stays as it is. Linear in
 * the length of `s`.
 */
export function decodeWords(s: string): string {
  if (!s.includes("=?")) return s;
  const closeAt = finder(s, "?=");
  const spaceAt = spaceFinder(s);
  const wordAt = (start: number) => {
    let q1 = -1;
    for (let k = start + 2; k < s.length && k - start < 80; k++) {
      if (s[k] === "?") {
        q1 = k;
        break;
      }
    }
    if (q1 < 0) return null;
    const enc = s[q1 + 1];
    if (s[q1 + 2] !== "?" || !enc || !"bBqQ".includes(enc)) return null;
    const close = closeAt(q1 + 3);
    if (close < 0 || spaceAt(q1 + 3) < close) return null;
    let charset = s.slice(start + 2, q1);
    const star = charset.indexOf("*"); // RFC 2231 language suffix
    if (star >= 0) charset = charset.slice(0, star);
    const text = s.slice(q1 + 3, close);
    const bytes = enc === "b" || enc === "B"
      ? decodeBase64(text)
      : decodeQ(text);
    return { charset, bytes, end: close + 2 };
  };
  let out = "";
  let pending: { charset: string; parts: Uint8Array[] } | null = null;
  let gap = ""; // whitespace after the last encoded word
  const flush = () => {
    if (!pending) return;
    out += decodeCharset(concatBytes(pending.parts), pending.charset);
    pending = null;
  };
  let i = 0;
  while (i < s.length) {
    const next = s.indexOf("=?", i);
    const word = next < 0 ? null : wordAt(next);
    if (word === null) {
      const end = next < 0 ? s.length : next + 2;
      flush();
      out += gap + s.slice(i, end);
      gap = "";
      i = end;
      continue;
    }
    if (next > i) { // text between the last word's whitespace and this word
      flush();
      out += gap + s.slice(i, next);
    } else if (
      pending && pending.charset.toLowerCase() !== word.charset.toLowerCase()
    ) flush();
    gap = ""; // whitespace between two encoded words is dropped
    if (!pending) pending = { charset: word.charset, parts: [] };
    pending.parts.push(word.bytes);
    i = word.end;
    let j = i;
    while (j < s.length && isWsp(s.charCodeAt(j))) j++;
    gap = s.slice(i, j);
    i = j;
  }
  flush();
  return out + gap;
}
