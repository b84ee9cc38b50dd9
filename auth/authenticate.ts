/**
 * The protocol-independent SASL driver behind SMTP `AUTH` and POP3 `AUTH`.
 *
 * Internal to the package (not exported from the auth entry point): the
 * clients use it; users work with mechanisms over bytes.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "./base64.ts";
import { AuthError } from "../errors.ts";
import type { SaslMechanism } from "./mechanism.ts";
import { MECHANISM_NAME } from "./validate_credentials.ts";

/**
 * The server's answer to one SASL line: finished with success, or one more
 * challenge, where `challenge` is the raw base64 text as the server sent it
 * (may be `""`). Failure replies are not steps: the transport throws them.
 *
 * @example
 * ```ts
 * import type { SaslStep } from "./authenticate.ts";
 *
 * const steps: SaslStep[] = [{ done: false, challenge: "VXNlcm5hbWU6" }, { done: true }];
 * console.log(steps.length); // 2
 * ```
 */
export type SaslStep = { done: true } | { done: false; challenge: string };

/**
 * What a protocol client provides so {@linkcode authenticate} can drive an
 * exchange: SMTP maps it to `AUTH`/`334`/`235`, POP3 to `AUTH`/`+ `/`+OK`.
 *
 * @example A scripted transport
 * ```ts
 * import type { SaslStep, SaslTransport } from "./authenticate.ts";
 *
 * const sent: string[] = [];
 * const transport: SaslTransport = {
 *   begin(mechanism, initialResponse): Promise<SaslStep> {
 *     sent.push(initialResponse === undefined ? `AUTH ${mechanism}` : `AUTH ${mechanism} ${initialResponse}`);
 *     return Promise.resolve({ done: true });
 *   },
 *   respond(line): Promise<SaslStep> {
 *     sent.push(line);
 *     return Promise.resolve({ done: true });
 *   },
 * };
 * await transport.begin("PLAIN", "AHRpbQBzZWNyZXQ=");
 * console.log(sent); // [ "AUTH PLAIN AHRpbQBzZWNyZXQ=" ]
 * ```
 */
export interface SaslTransport {
  /** Send `AUTH <mechanism>` with an optional initial response already encoded (base64, or "=" for an empty one). Resolve with the server's next step; throw the protocol's own error on failure replies (e.g. 535). */
  begin(
    mechanism: string,
    initialResponse: string | undefined,
  ): Promise<SaslStep>;
  /** Send one response line: base64 text, or "*" to cancel. */
  respond(line: string): Promise<SaslStep>;
}

/**
 * Options for {@linkcode authenticate}.
 *
 * @example The POP3 rule (RFC 5034): AUTH lines of at most 255 octets
 * ```ts
 * import type { AuthenticateOptions } from "./authenticate.ts";
 *
 * const pop3: AuthenticateOptions = { maxInitialLine: 255 };
 * console.log(pop3.maxInitialLine); // 255
 * ```
 */
export interface AuthenticateOptions {
  /** Send the initial response on the AUTH line when the mechanism has one (default true). */
  initialResponse?: boolean;
  /** Max length in octets of the whole `AUTH <mech> <ir>` line without CRLF; longer → don't inline, wait for an empty challenge then send it (POP3 RFC 5034: 255). Default: unlimited. */
  maxInitialLine?: number;
}

/** Challenges answered before the exchange is abandoned. */
const MAX_CHALLENGES = 10;

/** Whitespace around a challenge (Haraka sends `334  `; smtplib strips it too). */
function isSpace(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d);
}

/** The challenge text without surrounding whitespace (one pass, no regex). */
export function trimChallenge(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/**
 * Run one SASL exchange for `mechanism` over `transport`.
 *
 * - The initial response goes on the `AUTH` line (`=` when empty) unless
 *   `initialResponse` is `false` or the line would exceed `maxInitialLine`;
 *   then the first challenge (normally empty) is answered with it,
 *   whatever that challenge says: its content is not even decoded.
 * - Whitespace around a challenge is ignored (Haraka sends `334  `).
 * - A challenge that is not valid base64 (after that trim), a mechanism
 *   that refuses a challenge, or more than 10 challenges: the exchange is
 *   cancelled with `*` (whatever the server answers to that is ignored)
 *   and an {@linkcode AuthError} is thrown. A mechanism whose answers don't
 *   depend on the challenges ({@linkcode SaslMechanism.ignoresChallenges},
 *   LOGIN) gets empty bytes for an undecodable one instead.
 * - Success reported before the mechanism has produced its last response is
 *   an {@linkcode AuthError}: a server must not skip steps.
 * - Failure replies are thrown by the transport as the protocol's errors.
 *
 * @param mechanism A fresh mechanism, e.g. from {@linkcode chooseMechanism}.
 * @param transport The protocol client's `AUTH` plumbing.
 * @param options Initial-response rules of the protocol.
 * @throws {AuthError} When the server breaks the exchange, or the mechanism
 * name is not a valid SASL name.
 *
 * @example LOGIN over a scripted server
 * ```ts
 * import { authenticate, type SaslStep } from "./authenticate.ts";
 * import { LoginMechanism } from "./login.ts";
 *
 * const replies: SaslStep[] = [
 *   { done: false, challenge: "VXNlcm5hbWU6" }, // "Username:"
 *   { done: false, challenge: "UGFzc3dvcmQ6" }, // "Password:"
 *   { done: true },
 * ];
 * const sent: string[] = [];
 * await authenticate(new LoginMechanism({ username: "tim", password: "secret" }), {
 *   begin(mechanism, initialResponse) {
 *     sent.push(`AUTH ${mechanism}${initialResponse === undefined ? "" : ` ${initialResponse}`}`);
 *     return Promise.resolve(replies.shift()!);
 *   },
 *   respond(line) {
 *     sent.push(line);
 *     return Promise.resolve(replies.shift()!);
 *   },
 * });
 * console.log(sent); // [ "AUTH LOGIN", "dGlt", "c2VjcmV0" ]
 * ```
 */
export async function authenticate(
  mechanism: SaslMechanism,
  transport: SaslTransport,
  options: AuthenticateOptions = {},
): Promise<void> {
  const name = mechanism.name;
  if (!MECHANISM_NAME.test(name)) {
    throw new AuthError(`invalid sasl mechanism name ${JSON.stringify(name)}`);
  }
  const { initialResponse = true, maxInitialLine } = options;

  let pending = mechanism.start();
  let step: SaslStep;
  if (pending !== null && initialResponse) {
    const encoded = pending.length === 0 ? "=" : encodeBase64(pending);
    // "AUTH" SP name SP response; all ASCII, so characters are octets.
    const lineLength = 4 + 1 + name.length + 1 + encoded.length;
    if (maxInitialLine === undefined || lineLength <= maxInitialLine) {
      pending = null;
      step = await transport.begin(name, encoded);
    } else {
      step = await transport.begin(name, undefined);
    }
  } else {
    step = await transport.begin(name, undefined);
  }

  let challenges = 0;
  while (!step.done) {
    if (++challenges > MAX_CHALLENGES) {
      await cancel(transport);
      throw new AuthError(`server sent more than ${MAX_CHALLENGES} challenges`);
    }
    let response: Uint8Array;
    if (pending !== null) {
      // The initial response that was not inlined answers the first
      // challenge, whatever it says (RFC 4954 §4, RFC 5034 §4).
      response = pending;
      pending = null;
    } else {
      let challenge: Uint8Array;
      try {
        challenge = decodeBase64(trimChallenge(step.challenge));
      } catch {
        if (mechanism.ignoresChallenges !== true) {
          await cancel(transport);
          throw new AuthError("server sent an invalid base64 challenge");
        }
        challenge = new Uint8Array(0);
      }
      try {
        response = mechanism.next(challenge);
      } catch (error) {
        await cancel(transport);
        throw error;
      }
    }
    step = await transport.respond(encodeBase64(response));
  }

  if (pending !== null || !mechanism.finished) {
    throw new AuthError(
      "server reported success before authentication finished",
    );
  }
}

/** Send `*`; the server's reply (normally a failure) is of no interest. */
async function cancel(transport: SaslTransport): Promise<void> {
  try {
    await transport.respond("*");
  } catch {
    // The cancel was acknowledged with an error reply, or the connection
    // went away: either way the exchange is over.
  }
}
