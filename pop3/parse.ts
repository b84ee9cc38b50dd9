// Pure parsers for POP3 answers: STAT, LIST, UIDL, CAPA and the RETR/TOP size.
import { ProtocolError } from "../errors.ts";

/**
 * `STAT`: how many messages the maildrop holds and their total size.
 *
 * @example (type-checked; needs a server to run)
 * ```ts
 * import type { Pop3Client, Pop3Stat } from "@mailwire/mailwire/pop3";
 *
 * async function report(client: Pop3Client): Promise<void> {
 *   const { count, size }: Pop3Stat = await client.stat();
 *   console.log(`${count} messages, ${size} octets`);
 * }
 * ```
 */
export interface Pop3Stat {
  /** Number of messages (those marked deleted are not counted). */
  count: number;
  /** Total size in octets. */
  size: number;
}

/**
 * One scan listing (`LIST`): a message number and its size in octets.
 *
 * @example (type-checked; needs a server to run)
 * ```ts
 * import type { Pop3Client, Pop3ScanListing } from "@mailwire/mailwire/pop3";
 *
 * async function big(client: Pop3Client): Promise<number[]> {
 *   const listing: Pop3ScanListing[] = await client.list();
 *   return listing.filter((m) => m.size > 10_000_000).map((m) => m.id);
 * }
 * ```
 */
export interface Pop3ScanListing {
  /** Message number (1-based, stable for the session). */
  id: number;
  /** Size in octets, as the server counts it. */
  size: number;
}

/**
 * One unique-id listing (`UIDL`): a message number and its unique id.
 *
 * @example (type-checked; needs a server to run)
 * ```ts
 * import type { Pop3Client, Pop3UidListing } from "@mailwire/mailwire/pop3";
 *
 * async function first(client: Pop3Client): Promise<string> {
 *   const { id, uid }: Pop3UidListing = await client.uidl(1);
 *   console.log(id, uid); // 1 "whqtswO00WBw418f9t5JxYwZ"
 *   return uid;
 * }
 * ```
 */
export interface Pop3UidListing {
  /** Message number (1-based, stable for the session). */
  id: number;
  /**
   * The server's unique id for the message, stable across sessions: 1 or
   * more characters of 0x21-0x7E exactly as sent (anything else in a UID is
   * refused as a protocol error, never replaced).
   */
  uid: string;
}

/**
 * A message of {@linkcode Pop3Client.listing}: number, unique id and size.
 *
 * @example Fetch what earlier sessions have not seen (type-checked; needs a server to run)
 * ```ts
 * import type { Pop3Client, Pop3MessageListing } from "@mailwire/mailwire/pop3";
 *
 * async function fetchNew(client: Pop3Client, seen: Set<string>): Promise<void> {
 *   const fresh: Pop3MessageListing[] = (await client.listing()).filter((m) => !seen.has(m.uid));
 *   for (const { id, uid } of fresh) {
 *     await client.retr(id);
 *     seen.add(uid);
 *   }
 * }
 * ```
 */
export interface Pop3MessageListing {
  /** Message number (1-based, stable for the session). */
  id: number;
  /** The server's unique id, stable across sessions (0x21-0x7E, exact). */
  uid: string;
  /** Size in octets. */
  size: number;
}

/**
 * A line (or status text) as the parsers take it: the bytes, or a string
 * with one character per byte. Every parser here reads only ASCII and looks
 * at character codes, so any decoding that maps ASCII to itself gives the
 * same results: latin1 (`String.fromCharCode` per byte), WHATWG `"latin1"`
 * (really windows-1252, which maps some bytes of 0x80-0x9F elsewhere but
 * never into ASCII) and even UTF-8 with replacement (a byte of 0x80 or more
 * becomes a code of 0x80 or more, which no parser accepts in a number or a
 * UID). Bytes are the exact choice, and need no decoding at all.
 */
export type Pop3Text = string | Uint8Array;

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const SP = 0x20;
const HT = 0x09;
const MAX_DIGITS = 15; // below 2^53: every number is exact

/** Character code `i` of a line, or -1 past its end. */
function codeAt(text: Pop3Text, i: number): number {
  if (i >= text.length) return -1;
  return typeof text === "string" ? text.charCodeAt(i) : text[i];
}

/** The first 80 characters, as a safe quoted preview for error messages. */
function preview(text: Pop3Text): string {
  const n = Math.min(text.length, 80);
  let out = "";
  for (let i = 0; i < n; i++) out += String.fromCharCode(codeAt(text, i));
  return JSON.stringify(text.length > 80 ? out + "..." : out);
}

function malformed(what: string, text: Pop3Text): ProtocolError {
  return new ProtocolError(`malformed ${what}: ${preview(text)}`);
}

/**
 * Scan 1 to 15 ASCII digits at `i`: `[value, index after]`, or undefined
 * when there are none or too many.
 */
function digits(text: Pop3Text, i: number): [number, number] | undefined {
  let value = 0;
  const start = i;
  for (let c = codeAt(text, i); c >= 0x30 && c <= 0x39; c = codeAt(text, ++i)) {
    if (i - start === MAX_DIGITS) return undefined;
    value = value * 10 + (c - 0x30);
  }
  return i === start ? undefined : [value, i];
}

/** Index of the first character at or after `i` that is not SP. */
function spaces(text: Pop3Text, i: number): number {
  while (codeAt(text, i) === SP) i++;
  return i;
}

/**
 * `nn mm`, then the end or SP/HT and anything (RFC 1939 allows more
 * information after the two numbers). One or more SP between them.
 */
function numbers(text: Pop3Text, what: string): [number, number] {
  const a = digits(text, 0);
  if (a && codeAt(text, a[1]) === SP) {
    const b = digits(text, spaces(text, a[1]));
    if (b) {
      const c = codeAt(text, b[1]);
      if (c === -1 || c === SP || c === HT) return [a[0], b[0]];
    }
  }
  throw malformed(what, text);
}

/** Parse `STAT`'s `nn mm`. Throws ProtocolError when malformed. */
export function parseStat(text: Pop3Text): Pop3Stat {
  const [count, size] = numbers(text, "stat response");
  return { count, size };
}

/** Parse a scan listing `id size [...]`. Throws ProtocolError when malformed. */
export function parseScanListing(text: Pop3Text): Pop3ScanListing {
  const [id, size] = numbers(text, "scan listing");
  if (id < 1) throw new ProtocolError("scan listing with message number 0");
  return { id, size };
}

/**
 * Parse a unique-id listing `id uid`. The UID is kept exactly: RFC 1939
 * allows only characters 0x21-0x7E in it, so anything else (a byte of 0x80
 * or more, a control character, a replacement character from a lossy
 * decoding) is a ProtocolError, as is text after the UID (a UID cannot hold
 * a space, so cutting it there could make two UIDs equal). Trailing SP/HT
 * is tolerated. The length is not limited to RFC 1939's 70 characters
 * (some servers send longer ones); the line cap bounds it.
 */
export function parseUidListing(text: Pop3Text): Pop3UidListing {
  const a = digits(text, 0);
  if (!a || a[0] < 1 || codeAt(text, a[1]) !== SP) {
    throw malformed("unique-id listing", text);
  }
  const start = spaces(text, a[1]);
  let i = start;
  let c = codeAt(text, i);
  for (; c >= 0x21 && c <= 0x7e; c = codeAt(text, ++i));
  const end = i;
  while (c === SP || c === HT) c = codeAt(text, ++i);
  if (end === start || c !== -1) throw malformed("unique-id listing", text);
  // All ASCII: any ASCII-compatible decoding is exact.
  const uid = typeof text === "string"
    ? text.slice(start, end)
    : utf8.decode(text.subarray(start, end));
  return { id: a[0], uid };
}

function tooMany(what: string, max: number): ProtocolError {
  return new ProtocolError(`${what} has more than ${max} entries`);
}

/**
 * Parse every line of a listing with `parse`: more than `maxEntries` lines
 * (checked before parsing the line past the cap) or a message number
 * listed twice is a ProtocolError; `check` sees each entry too.
 */
function parseEach<T extends { id: number }>(
  lines: Iterable<Pop3Text>,
  maxEntries: number,
  what: string,
  parse: (line: Pop3Text) => T,
  check?: (entry: T) => void,
): T[] {
  const out: T[] = [];
  const ids = new Set<number>();
  for (const line of lines) {
    if (out.length >= maxEntries) throw tooMany(what, maxEntries);
    const entry = parse(line);
    if (ids.has(entry.id)) {
      throw new ProtocolError(`${what} lists message ${entry.id} twice`);
    }
    ids.add(entry.id);
    check?.(entry);
    out.push(entry);
  }
  return out;
}

/**
 * Parse a whole `LIST` response (its lines, terminator excluded) into scan
 * listings. Throws ProtocolError for a malformed line, a message number
 * listed twice, or more than `maxEntries` lines (checked before parsing the
 * line past the cap).
 */
export function parseScanListings(
  lines: Iterable<Pop3Text>,
  maxEntries = Infinity,
): Pop3ScanListing[] {
  return parseEach(lines, maxEntries, "list response", parseScanListing);
}

/**
 * Parse a whole `UIDL` response (its lines, terminator excluded). Throws
 * ProtocolError for a malformed line, more than `maxEntries` lines, a
 * message number listed twice, or one UID given to two messages (a client
 * tracking UIDs would skip or delete the wrong message).
 */
export function parseUidListings(
  lines: Iterable<Pop3Text>,
  maxEntries = Infinity,
): Pop3UidListing[] {
  const uids = new Set<string>();
  return parseEach(lines, maxEntries, "uidl response", parseUidListing, (e) => {
    if (uids.has(e.uid)) {
      throw new ProtocolError(
        `uidl response gives message ${e.id} the unique id of another message`,
      );
    }
    uids.add(e.uid);
  });
}

/** ASCII upper case only (the same on every runtime and locale). */
function asciiUpper(word: string): string {
  let lower = false;
  for (let i = 0; i < word.length && !lower; i++) {
    const c = word.charCodeAt(i);
    lower = c >= 0x61 && c <= 0x7a;
  }
  if (!lower) return word;
  let out = "";
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i);
    out += String.fromCharCode(c >= 0x61 && c <= 0x7a ? c - 32 : c);
  }
  return out;
}

/**
 * Add one CAPA line to `capabilities`: the keyword upper-cased (ASCII
 * letters only), then its arguments split on SP and HT. Blank lines are
 * skipped; a keyword given twice keeps its last arguments. Bytes are
 * decoded as UTF-8 (capability arguments are text, such as an
 * IMPLEMENTATION string).
 */
export function addCapability(
  capabilities: Map<string, string[]>,
  line: Pop3Text,
): void {
  const text = typeof line === "string" ? line : utf8.decode(line);
  const words: string[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    let c = text.charCodeAt(i);
    if (c === SP || c === HT) {
      i++;
      continue;
    }
    const start = i;
    while (i < n && c !== SP && c !== HT) c = text.charCodeAt(++i);
    words.push(text.slice(start, i));
  }
  if (words.length === 0) return;
  capabilities.set(asciiUpper(words[0]), words.slice(1));
}

/**
 * Parse a whole `CAPA` response (its lines, terminator excluded). Throws
 * ProtocolError for more than `maxEntries` lines.
 */
export function parseCapabilities(
  lines: Iterable<Pop3Text>,
  maxEntries = Infinity,
): Map<string, string[]> {
  const capabilities = new Map<string, string[]>();
  let count = 0;
  for (const line of lines) {
    if (++count > maxEntries) throw tooMany("capa response", maxEntries);
    addCapability(capabilities, line);
  }
  return capabilities;
}

/** `+OK 1234 octets` (RETR/TOP): the announced size, if plausible. */
export function announcedSize(text: Pop3Text): number | undefined {
  const a = digits(text, 0);
  if (!a || codeAt(text, a[1]) !== SP) return undefined;
  let i = a[1] + 1;
  for (const letter of [0x6f, 0x63, 0x74, 0x65, 0x74]) { // "octet"
    if ((codeAt(text, i++) | 0x20) !== letter) return undefined;
  }
  let c = codeAt(text, i);
  if ((c | 0x20) === 0x73) c = codeAt(text, ++i); // "s"
  // The regex this replaces ended at a word boundary (\b).
  const word = (c >= 0x30 && c <= 0x39) ||
    ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c === 0x5f;
  return word ? undefined : a[0];
}
