/**
 * Picking the mechanism to use from what the server offers.
 *
 * @module
 */

import { createMechanism, findFactory } from "./create_mechanism.ts";
import { AuthError } from "../errors.ts";
import type {
  Credentials,
  MechanismFactory,
  SaslMechanism,
} from "./mechanism.ts";

/**
 * Options for {@linkcode chooseMechanism}.
 *
 * @example Prefer LOGIN, on a connection without TLS (tests only)
 * ```ts
 * import { chooseMechanism, type ChooseMechanismOptions } from "@mailwire/mailwire/auth";
 *
 * const options: ChooseMechanismOptions = {
 *   secure: false,
 *   allowInsecureAuth: true,
 *   preference: ["LOGIN", "PLAIN"],
 * };
 * const mechanism = chooseMechanism(["PLAIN", "LOGIN"], { username: "tim", password: "secret" }, options);
 * console.log(mechanism.name); // "LOGIN"
 * ```
 */
export interface ChooseMechanismOptions {
  /** Whether the connection is protected by TLS (implicit or after STARTTLS/STLS). */
  secure: boolean;
  /**
   * Allow sending credentials over a connection without TLS. Default
   * `false`: without TLS nothing is chosen, not even CRAM-MD5 (its exchange
   * allows an offline dictionary attack on the password).
   */
  allowInsecureAuth?: boolean;
  /**
   * Mechanism names in order of preference (case-insensitive). Every name
   * must be a built-in or in `custom`. Default: the `custom` names in
   * insertion order, then, with an access token, `XOAUTH2`, `OAUTHBEARER`,
   * and with a password, `CRAM-MD5`, `PLAIN`, `LOGIN`.
   */
  preference?: string[];
  /** Extra (or replacement) mechanisms by name (case-insensitive). */
  custom?: ReadonlyMap<string, MechanismFactory>;
}

const TOKEN_MECHANISMS = ["XOAUTH2", "OAUTHBEARER"];
const PASSWORD_MECHANISMS = ["CRAM-MD5", "PLAIN", "LOGIN"];

/**
 * Choose the most preferred mechanism the server offers and create it for
 * `credentials`.
 *
 * Refuses outright (before looking at the list) when the connection has no
 * TLS and `allowInsecureAuth` is not `true`.
 *
 * @param offered The mechanism names the server advertised (SMTP `AUTH`
 * keyword, POP3 `SASL` capability), case-insensitive.
 * @param credentials What to authenticate with.
 * @param options TLS state, preference and custom mechanisms.
 * @returns A fresh mechanism, ready for {@linkcode authenticate}.
 * @throws {AuthError} Without TLS (unless allowed), when the server offers
 * none of the preferred mechanisms, or when the credentials don't suit the
 * chosen one.
 *
 * @example
 * ```ts
 * import { chooseMechanism } from "@mailwire/mailwire/auth";
 *
 * const mechanism = chooseMechanism(
 *   ["login", "plain"],
 *   { username: "tim", password: "secret" },
 *   { secure: true },
 * );
 * console.log(mechanism.name); // "PLAIN"
 * ```
 *
 * @example No credentials in clear text by default
 * ```ts
 * import { AuthError, chooseMechanism } from "@mailwire/mailwire/auth";
 *
 * try {
 *   chooseMechanism(["PLAIN"], { username: "tim", password: "secret" }, { secure: false });
 * } catch (err) {
 *   console.log(err instanceof AuthError); // true
 * }
 * ```
 */
export function chooseMechanism(
  offered: Iterable<string>,
  credentials: Credentials,
  options: ChooseMechanismOptions,
): SaslMechanism {
  if (!options.secure && options.allowInsecureAuth !== true) {
    throw new AuthError(
      "refusing to send credentials without tls; set allowInsecureAuth to allow it",
    );
  }
  const { custom } = options;
  let preference: string[];
  if (options.preference !== undefined) {
    preference = options.preference;
  } else {
    preference = custom ? [...custom.keys()] : [];
    if (credentials.accessToken) preference.push(...TOKEN_MECHANISMS);
    if (credentials.password) preference.push(...PASSWORD_MECHANISMS);
    if (preference.length === 0) {
      throw new AuthError("credentials need a password or an access token");
    }
  }
  const candidates = preference.map((name) => {
    if (findFactory(name, custom) === undefined) {
      throw new AuthError(`unknown sasl mechanism ${JSON.stringify(name)}`);
    }
    return name.toUpperCase();
  });

  const available = new Set<string>();
  for (const name of offered) available.add(name.toUpperCase());
  for (const name of candidates) {
    if (available.has(name)) return createMechanism(name, credentials, custom);
  }
  const list = available.size === 0 ? "none" : [...available].join(" ");
  throw new AuthError(
    `no usable sasl mechanism; server offered: ${list}; usable: ${
      candidates.join(" ")
    }`,
  );
}
