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

// RFC 1939: the timestamp has the syntax of an RFC 822 msg-id, so it holds
// an "@"; printable ASCII without angle brackets or spaces on each side.
const TIMESTAMP = /<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>/;

/** The APOP timestamp of a greeting's text (`<...@...>`), if it has one. */
export function findApopTimestamp(greeting: string): string | undefined {
  return TIMESTAMP.exec(greeting)?.[0];
}
