/**
 * The SASL mechanism interface shared by the SMTP and POP3 clients.
 *
 * @module
 */

/**
 * What a user authenticates with. Which fields a mechanism needs depends on
 * the mechanism: PLAIN, LOGIN and CRAM-MD5 need `password`; XOAUTH2 and
 * OAUTHBEARER need `accessToken`.
 *
 * @example
 * ```ts
 * import type { Credentials } from "@mailwire/mailwire/auth";
 *
 * const credentials: Credentials = { username: "tim", password: "secret" };
 * console.log(credentials.username); // "tim"
 * ```
 */
export interface Credentials {
  /** The authentication identity (login name or email address). */
  username: string;
  /** The password, for PLAIN, LOGIN and CRAM-MD5. */
  password?: string;
  /** An OAuth 2.0 bearer token, for XOAUTH2 and OAUTHBEARER. */
  accessToken?: string;
  /** The identity to act as, when it differs from `username` (PLAIN, OAUTHBEARER). */
  authzid?: string;
}

/**
 * One SASL exchange on the client side, over bytes (base64 is the
 * transport's business, see {@linkcode authenticate}). An instance is used
 * for one exchange only.
 *
 * @example A custom mechanism: ANONYMOUS (RFC 4505)
 * ```ts
 * import type { SaslMechanism } from "@mailwire/mailwire/auth";
 *
 * class Anonymous implements SaslMechanism {
 *   readonly name = "ANONYMOUS";
 *   #finished = false;
 *   get finished(): boolean {
 *     return this.#finished;
 *   }
 *   start(): Uint8Array {
 *     this.#finished = true;
 *     return new TextEncoder().encode("guest");
 *   }
 *   next(_challenge: Uint8Array): Uint8Array {
 *     throw new Error("unexpected challenge");
 *   }
 * }
 *
 * const mechanism: SaslMechanism = new Anonymous();
 * console.log(mechanism.start()); // Uint8Array(5) [ 103, 117, 101, 115, 116 ]
 * ```
 */
export interface SaslMechanism {
  /** The upper-case SASL name, e.g. `"PLAIN"`. */
  readonly name: string;
  /** Initial response, or null when the mechanism must wait for a first challenge. */
  start(): Uint8Array | null;
  /** Answer a server challenge (already base64-decoded). */
  next(challenge: Uint8Array): Uint8Array;
  /** True once the mechanism has produced its last response (so a server "success" earlier is suspicious). */
  readonly finished: boolean;
  /**
   * True when the answers don't depend on what the challenges say (LOGIN:
   * its prompts only give the order). A challenge that is not valid base64
   * is then answered anyway (`next` gets empty bytes) instead of
   * cancelling the exchange. Default false: strict, as a mechanism that
   * reads its challenges (CRAM-MD5) must be.
   */
  readonly ignoresChallenges?: boolean;
}

/**
 * Creates a mechanism for the given credentials. Throws (an
 * {@linkcode AuthError} for the built-ins) when the credentials are unusable.
 *
 * @example
 * ```ts
 * import { type MechanismFactory, PlainMechanism } from "@mailwire/mailwire/auth";
 *
 * const plain: MechanismFactory = (credentials) => new PlainMechanism(credentials);
 * console.log(plain({ username: "tim", password: "secret" }).name); // "PLAIN"
 * ```
 */
export type MechanismFactory = (credentials: Credentials) => SaslMechanism;
