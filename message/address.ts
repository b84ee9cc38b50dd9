/**
 * Mailboxes both ways: parse an address list (display names with encoded
 * words, quoted strings, comments, groups) into `{ name, address }`, check an
 * addr-spec, and format a mailbox for a header (atoms, a quoted string or
 * encoded words, as the name needs). Single pass; no regular expressions.
 */
import { InvalidInputError } from "../errors.ts";
import {
  assertHeaderSafe,
  decodeWords,
  encodeWords,
  quoteString,
} from "./header.ts";

/**
 * A mailbox: a display name (empty when there is none) and an addr-spec.
 *
 * @example
 * ```ts
 * import type { Address } from "@mailwire/mailwire/message";
 * const ann: Address = { name: "Ann Lee", address: "ann@example.com" };
 * console.log(ann.address);
 * ```
 */
export interface Address {
  /** Display name, decoded; `""` when there is none. */
  name: string;
  /** The addr-spec, e.g. `ann@example.com`. */
  address: string;
}

/**
 * An address as callers give it: `"ann@example.com"`,
 * `"Ann Lee <ann@example.com>"`, or `{ name, address }`.
 *
 * @example
 * ```ts
 * import type { AddressInput } from "@mailwire/mailwire/message";
 * const to: AddressInput[] = ["bob@example.com", { name: "Jörg", address: "j@example.com" }];
 * console.log(to.length);
 * ```
 */
export type AddressInput = string | { name?: string; address: string };

/**
 * Parse an RFC 5322 address list into mailboxes, tolerantly: groups are
 * flattened, comments dropped (or used as the name of a bare address,
 * `ann@x.test (Ann)`), encoded words in names decoded. Entries without an
 * address are skipped.
 */
export function parseAddresses(input: string): Address[] {
  const out: Address[] = [];
  let display = ""; // phrase text, quotes removed
  let raw = ""; // the same with quotes kept (a bare quoted local part)
  let comment = "";
  let angle: string | null = null;
  let inAngle = false;
  let space = false;
  const add = (text: string, rawText: string) => {
    if (space && display) display += " ";
    if (space && raw) raw += " ";
    space = false;
    display += text;
    raw += rawText;
  };
  const finish = () => {
    let address: string;
    let name: string;
    if (angle !== null) {
      address = angle.trim();
      // Source route: <@a,@b:ann@x.test>
      if (address.startsWith("@") && address.includes(":")) {
        address = address.slice(address.indexOf(":") + 1);
      }
      name = display;
    } else {
      address = raw.replaceAll(" ", "");
      name = comment;
    }
    name = decodeWords(name.trim());
    if (address) out.push({ name, address });
    display = raw = comment = "";
    angle = null;
    inAngle = false;
    space = false;
  };
  const n = input.length;
  for (let i = 0; i < n; i++) {
    const c = input[i];
    if (c === '"') {
      // Runs between escapes are sliced, never built a character at a
      // time (a long unclosed quote would make a string of a node per
      // character).
      let q = "";
      let j = i + 1;
      let from = j;
      for (; j < n && input[j] !== '"'; j++) {
        if (input[j] === "\\" && j + 1 < n) {
          q += input.slice(from, j);
          from = ++j; // the escaped character starts the next run
        }
      }
      q += input.slice(from, j);
      const rawQ = input.slice(i, Math.min(j + 1, n));
      i = j;
      if (inAngle) angle += rawQ;
      else add(q, rawQ);
    } else if (c === "(") {
      let depth = 1;
      let text = "";
      let j = i + 1;
      let from = j;
      for (; j < n; j++) {
        const d = input[j];
        if (d === "\\" && j + 1 < n) {
          text += input.slice(from, j);
          from = ++j;
          continue;
        }
        if (d === "(") depth++;
        else if (d === ")" && --depth === 0) break;
      }
      text += input.slice(from, j);
      i = j;
      if (!inAngle && !comment) comment = text;
      space = true;
    } else if (inAngle) {
      if (c === ">") inAngle = false;
      else {
        let j = i + 1;
        while (
          j < n && input[j] !== ">" && input[j] !== '"' && input[j] !== "("
        ) j++;
        angle += input.slice(i, j);
        i = j - 1;
      }
    } else if (c === "<") {
      inAngle = true;
      angle = "";
    } else if (c === ",") {
      finish();
    } else if (c === ";") {
      finish();
    } else if (c === ":") {
      display = raw = comment = ""; // a group's name
      space = false;
    } else if (c === ">") {
      finish(); // a stray ">" (no "<" before it) ends the entry, as in Python's getaddresses
    } else if (c === " " || c === "\t" || c === "\r" || c === "\n") {
      space = true;
    } else {
      // c is none of the specials above: the word has at least it, so the
      // scan always moves on.
      let j = i + 1;
      while (j < n && !' \t\r\n"(<>,;:'.includes(input[j])) j++;
      const word = input.slice(i, j);
      add(word, word);
      i = j - 1;
    }
  }
  finish();
  return out;
}

const ATEXT_SPECIALS = "!#$%&'*+-/=?^_`{|}~";

function isAtext(c: number, raw8: boolean): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) ||
    (c >= 97 && c <= 122) || ATEXT_SPECIALS.includes(String.fromCharCode(c)) ||
    (raw8 && c > 127);
}

/** Whether `addr` holds a character beyond ASCII. */
function nonAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 127) return true;
  return false;
}

/**
 * Check an addr-spec (`local@domain`, the local part a dot-atom or quoted
 * string, the domain a dot-atom or `[literal]`); return it, with a non-ASCII
 * domain in punycode when `punycode` is set and the local part is ASCII.
 */
export function checkAddress(
  addr: string,
  what: string,
  punycode: boolean,
): { address: string; international: boolean } {
  assertHeaderSafe(addr, what);
  const at = addr.lastIndexOf("@");
  if (at <= 0 || at === addr.length - 1) {
    throw new InvalidInputError(`${what} is not an address (local@domain)`);
  }
  const local = addr.slice(0, at);
  let domain = addr.slice(at + 1);
  const quoted = local.length >= 2 && local.startsWith('"') &&
    local.endsWith('"');
  for (let i = 0; i < local.length; i++) {
    const c = local.charCodeAt(i);
    if (c < 32 || c === 127) {
      throw new InvalidInputError(`${what} has a control character`);
    }
    if (!quoted && !isAtext(c, true) && c !== 46) {
      throw new InvalidInputError(
        `${what} has a character that needs quoting in its local part`,
      );
    }
  }
  if (
    !quoted &&
    (local.startsWith(".") || local.endsWith(".") || local.includes(".."))
  ) {
    throw new InvalidInputError(`${what} has an empty label in its local part`);
  }
  if (domain.startsWith("[")) {
    if (!domain.endsWith("]") || domain.includes(" ")) {
      throw new InvalidInputError(`${what} has a malformed domain literal`);
    }
  } else {
    for (let i = 0; i < domain.length; i++) {
      const c = domain.charCodeAt(i);
      if (!isAtext(c, true) && c !== 46) {
        throw new InvalidInputError(`${what} has an invalid domain`);
      }
    }
    if (
      domain.startsWith(".") || domain.endsWith(".") || domain.includes("..")
    ) {
      throw new InvalidInputError(`${what} has an empty label in its domain`);
    }
    if (punycode && nonAscii(domain) && !nonAscii(local)) {
      try {
        domain = new URL(`http://${domain}/`).hostname;
      } catch {
        throw new InvalidInputError(
          `${what} has a domain that is not a valid idn`,
        );
      }
    }
  }
  const address = `${local}@${domain}`;
  return { address, international: nonAscii(address) };
}

/**
 * Header pieces of one mailbox (see `foldField`): the display name as
 * atoms, a quoted string or encoded words, then `<addr>`; a bare address
 * when there is no name.
 */
export function mailboxPieces(
  name: string,
  address: string,
  raw8: boolean,
): string[] {
  const n = name.trim();
  if (!n) return [address];
  let atoms = !n.includes("=?");
  let printable = true;
  let prevSpace = false;
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (c < 32 || c === 127 || (c > 127 && !raw8)) printable = false;
    if (c === 32) {
      if (prevSpace) atoms = false;
      prevSpace = true;
      continue;
    }
    prevSpace = false;
    if (!isAtext(c, raw8)) atoms = false;
  }
  if (printable && n.length < 900 && !n.includes("=?")) {
    if (atoms) {
      const words = n.split(" ");
      return [...words.map((w, k) => (k ? " " : "") + w), ` <${address}>`];
    }
    return [quoteString(n), ` <${address}>`];
  }
  return [
    ...encodeWords(n).map((w, k) => (k ? " " : "") + w),
    ` <${address}>`,
  ];
}
