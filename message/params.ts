/**
 * Parse a structured field with parameters (`Content-Type`,
 * `Content-Disposition`): `value; name=token; name="quoted"`, with RFC 2231
 * extended and continued parameters (`name*0*=utf-8''%C3%A4`) and the
 * common non-standard forms (encoded words in quotes, unquoted spaces,
 * missing or doubled `;`). One pass, linear.
 */
import { concatBytes } from "./encoding.ts";
import { decodeCharset, decodeWords } from "./header.ts";

/** The value before the first `;` and the parameters after it. */
export interface ParsedParams {
  /** Trimmed value, e.g. `text/plain` (case kept). */
  value: string;
  /** Parameters by lower-case name, decoded. */
  params: Record<string, string>;
}

/** Most parameters kept from one field. */
const MAX_PARAMS = 256;
const utf8 = new TextEncoder();

function percentDecode(s: string): Uint8Array {
  // "%XX" is ASCII, so decoding the UTF-8 bytes is the same thing.
  const raw = utf8.encode(s);
  const out = new Uint8Array(raw.length);
  let at = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 37 && isHex(raw[i + 1]) && isHex(raw[i + 2])) {
      out[at++] = (hexValue(raw[i + 1]) << 4) | hexValue(raw[i + 2]);
      i += 2;
    } else out[at++] = raw[i];
  }
  return out.subarray(0, at);
}

function hexValue(c: number): number {
  return c <= 57 ? c - 48 : (c | 32) - 87;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** Parse `value; a=b; c="d"` (see the module doc). */
export function parseParams(input: string): ParsedParams {
  const n = input.length;
  let i = input.indexOf(";");
  if (i < 0) i = n;
  const value = input.slice(0, i).trim();
  const simple = new Map<string, string>();
  // name -> sections (index -> [text, extended])
  const sections = new Map<string, Map<number, [string, boolean]>>();
  let count = 0;
  while (i < n && count < MAX_PARAMS) {
    i++; // past ';'
    while (
      i < n && (input[i] === " " || input[i] === "\t" || input[i] === ";")
    ) i++;
    const nameStart = i;
    while (i < n && input[i] !== "=" && input[i] !== ";") i++;
    const name = input.slice(nameStart, i).trim().toLowerCase();
    if (i >= n || input[i] === ";") {
      continue; // a parameter without a value: skipped
    }
    i++; // past '='
    while (i < n && (input[i] === " " || input[i] === "\t")) i++;
    let v: string;
    let quoted = false;
    if (input[i] === '"') {
      quoted = true;
      let q = "";
      i++;
      while (i < n && input[i] !== '"') {
        if (input[i] === "\\" && i + 1 < n) i++;
        q += input[i++];
      }
      i++; // past the closing quote
      while (i < n && input[i] !== ";") i++; // junk after the quote
      v = q;
    } else {
      const s = i;
      while (i < n && input[i] !== ";") i++;
      v = input.slice(s, i).trim();
    }
    if (!name) continue;
    count++;
    const star = name.indexOf("*");
    if (star < 0) {
      if (!simple.has(name)) {
        simple.set(name, quoted || v.includes("=?") ? decodeWords(v) : v);
      }
      continue;
    }
    // RFC 2231: name*=, name*0=, name*0*=, name*1*= …
    const base = name.slice(0, star);
    const rest = name.slice(star + 1);
    let index = 0;
    let extended = false;
    if (rest === "") extended = true;
    else {
      const e = rest.endsWith("*");
      const num = e ? rest.slice(0, -1) : rest;
      if (!/^\d{1,3}$/.test(num)) continue;
      index = Number(num);
      extended = e;
    }
    let secs = sections.get(base);
    if (!secs) sections.set(base, secs = new Map());
    if (!secs.has(index)) secs.set(index, [v, extended]);
  }
  const params: Record<string, string> = {};
  for (const [k, v] of simple) params[k] = v;
  for (const [base, secs] of sections) {
    const order = [...secs.keys()].sort((a, b) => a - b);
    let charset = "utf-8";
    const chunks: Uint8Array[] = [];
    for (const idx of order) {
      let [text, ext] = secs.get(idx)!;
      if (ext && idx === order[0]) {
        const q1 = text.indexOf("'");
        const q2 = q1 < 0 ? -1 : text.indexOf("'", q1 + 1);
        if (q2 > 0) {
          charset = text.slice(0, q1) || "utf-8";
          text = text.slice(q2 + 1);
        }
      }
      chunks.push(ext ? percentDecode(text) : utf8.encode(text));
    }
    const all = concatBytes(chunks);
    // The extended form wins over a plain one of the same name.
    params[base] = decodeCharset(all, charset);
  }
  return { value, params };
}
