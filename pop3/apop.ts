// APOP (RFC 1939 §7): the digest, and the timestamp found in a greeting.
import { md5 } from "../auth/md5.ts";
import { toHex } from "../auth/hex.ts";

const encoder = new TextEncoder();

/**
 * The APOP digest of RFC 1939 §7: the lowercase hex MD5 of the greeting's
 * timestamp (with its angle brackets) followed by the shared secret.
 *
 * MD5 is broken (CVE-2007-1558 recovers APOP passwords from a few forged
 * challenges): {@linkcode Pop3Client} uses APOP only under TLS or when asked.
 *
 * @param timestamp The `<...>` part of the server greeting, brackets included.
 * @param secret The shared secret (encoded as UTF-8).
 * @returns 32 lowercase hex digits.
 *
 * @example The example of RFC 1939
 * ```ts
 * import { apopDigest } from "@mailwire/mailwire/pop3";
 * const digest = apopDigest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf");
 * console.log(digest); // "c4c9334bac560ecc979e58001b3e22fb"
 * ```
 */
export function apopDigest(timestamp: string, secret: string): string {
  return toHex(md5(encoder.encode(timestamp + secret)));
}

/** A character allowed inside the timestamp: printable ASCII but `<`, `>`. */
function stampChar(c: number): boolean {
  return c >= 0x21 && c <= 0x7e && c !== 0x3c && c !== 0x3e;
}

/**
 * The APOP timestamp of a greeting's text (`<...@...>`), if it has one: the
 * leftmost `<`, one or more printable ASCII characters other than `<`, `>`
 * (and space) with an `@` that is neither first nor last, then `>` (RFC
 * 1939: the syntax of an RFC 822 msg-id).
 *
 * One pass over the text, whatever it holds: a regex for this backtracks
 * (`<` then 100 000 `@` took seconds).
 */
export function findApopTimestamp(greeting: string): string | undefined {
  const n = greeting.length;
  let i = greeting.indexOf("<");
  while (i !== -1) {
    // Every character from i + 1 to j - 1 is a stamp character, so none is
    // a `<`: no start inside the run can match, and the search goes on at j.
    let j = i + 1;
    let at = -1; // the first "@" after the first character
    for (; j < n; j++) {
      const c = greeting.charCodeAt(j);
      if (!stampChar(c)) break;
      if (c === 0x40 && at === -1 && j > i + 1) at = j;
    }
    if (j < n && greeting.charCodeAt(j) === 0x3e && at !== -1 && at < j - 1) {
      return greeting.slice(i, j + 1);
    }
    i = greeting.indexOf("<", j);
  }
  return undefined;
}
