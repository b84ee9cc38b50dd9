/**
 * The registry of built-in mechanisms, and creation by name.
 *
 * @module
 */

import { CramMd5Mechanism } from "./cram_md5.ts";
import { AuthError } from "../errors.ts";
import { LoginMechanism } from "./login.ts";
import type {
  Credentials,
  MechanismFactory,
  SaslMechanism,
} from "./mechanism.ts";
import { OAuthBearerMechanism } from "./oauthbearer.ts";
import { PlainMechanism } from "./plain.ts";
import { XOAuth2Mechanism } from "./xoauth2.ts";

// The copy the library itself uses: not reachable from outside, so nothing
// can swap a built-in for everyone by mutating the exported map.
const BUILTINS: ReadonlyMap<string, MechanismFactory> = new Map<
  string,
  MechanismFactory
>([
  ["CRAM-MD5", (credentials) => new CramMd5Mechanism(credentials)],
  ["LOGIN", (credentials) => new LoginMechanism(credentials)],
  ["OAUTHBEARER", (credentials) => new OAuthBearerMechanism(credentials)],
  ["PLAIN", (credentials) => new PlainMechanism(credentials)],
  ["XOAUTH2", (credentials) => new XOAuth2Mechanism(credentials)],
]);

/**
 * The built-in mechanisms by upper-case SASL name: `CRAM-MD5`, `LOGIN`,
 * `OAUTHBEARER`, `PLAIN` and `XOAUTH2`.
 *
 * @example
 * ```ts
 * import { mechanisms } from "@mailwire/mailwire/auth";
 *
 * console.log([...mechanisms.keys()]);
 * // [ "CRAM-MD5", "LOGIN", "OAUTHBEARER", "PLAIN", "XOAUTH2" ]
 * const plain = mechanisms.get("PLAIN")!({ username: "tim", password: "secret" });
 * console.log(plain.name); // "PLAIN"
 * ```
 */
export const mechanisms: ReadonlyMap<string, MechanismFactory> = new Map(
  BUILTINS,
);

/**
 * Find the factory for `name` (case-insensitive): in `custom` first, then
 * among the built-ins. Returns `undefined` when there is none.
 */
export function findFactory(
  name: string,
  custom?: ReadonlyMap<string, MechanismFactory>,
): MechanismFactory | undefined {
  const upper = name.toUpperCase();
  if (custom) {
    for (const [key, factory] of custom) {
      if (key.toUpperCase() === upper) return factory;
    }
  }
  return BUILTINS.get(upper);
}

/**
 * Create a mechanism by SASL name (case-insensitive), looking in `custom`
 * first, then among the built-ins. The credentials are checked at once.
 *
 * @param name The SASL mechanism name, e.g. `"plain"` or `"CRAM-MD5"`.
 * @param credentials What to authenticate with.
 * @param custom Extra (or replacement) mechanisms by name.
 * @returns A fresh mechanism, ready for {@linkcode authenticate}.
 * @throws {AuthError} When no mechanism has that name, a custom factory
 * returns a mechanism with another name, or the credentials don't suit it.
 *
 * @example
 * ```ts
 * import { createMechanism } from "@mailwire/mailwire/auth";
 *
 * const mechanism = createMechanism("cram-md5", { username: "tim", password: "secret" });
 * console.log(mechanism.name); // "CRAM-MD5"
 * ```
 */
export function createMechanism(
  name: string,
  credentials: Credentials,
  custom?: ReadonlyMap<string, MechanismFactory>,
): SaslMechanism {
  const factory = findFactory(name, custom);
  if (factory === undefined) {
    throw new AuthError(`unknown sasl mechanism ${JSON.stringify(name)}`);
  }
  const mechanism = factory(credentials);
  if (mechanism.name.toUpperCase() !== name.toUpperCase()) {
    throw new AuthError(
      `factory for ${JSON.stringify(name)} created mechanism ${
        JSON.stringify(mechanism.name)
      }`,
    );
  }
  return mechanism;
}
