// How Pop3Client.login chooses between SASL, APOP and USER/PASS (pure).

import { chooseMechanism } from "../auth/choose_mechanism.ts";
import { createMechanism } from "../auth/create_mechanism.ts";
import type {
  Credentials,
  MechanismFactory,
  SaslMechanism,
} from "../auth/mechanism.ts";
import { AuthError, InvalidInputError } from "../errors.ts";
import { Pop3NotSupportedError } from "./errors.ts";

/** What login will send. @internal */
export type LoginMethod =
  | { kind: "sasl"; mechanism: SaslMechanism }
  | { kind: "apop"; password: string }
  | { kind: "user"; password: string };

/** What the choice depends on. @internal */
export interface LoginSituation {
  credentials: Credentials;
  /** A method the caller forced: a SASL name, "APOP" or "USER". */
  forced?: string;
  /** The SASL mechanisms CAPA listed. */
  sasl: readonly string[];
  /** The greeting's APOP timestamp, if any. */
  timestamp?: string;
  secure: boolean;
  allowInsecureAuth: boolean;
  /** `true`: prefer APOP; `false`: never. */
  apop?: boolean;
  preference?: string[];
  custom?: ReadonlyMap<string, MechanismFactory>;
}

/**
 * Choose how to log in:
 * 1. a forced method;
 * 2. SASL, with the strongest mechanism CAPA lists that fits the
 *    credentials (a token needs XOAUTH2/OAUTHBEARER);
 * 3. APOP, only when asked for (`apop: true`) and the greeting has a
 *    timestamp;
 * 4. USER/PASS.
 *
 * APOP is never chosen unasked: under TLS it gains nothing, and many
 * servers (GNU Mailutils, Cyrus, qpopper) put a timestamp in every greeting
 * but keep APOP secrets apart from passwords, so APOP would just fail (and
 * a failed login is final: no second method is tried with the secret).
 * @internal
 */
export function chooseLogin(s: LoginSituation): LoginMethod {
  const { credentials, forced } = s;
  const password = credentials.password;
  const needPassword = (what: string): string => {
    if (password === undefined) {
      throw new InvalidInputError(`${what} needs a password`);
    }
    return password;
  };
  if (forced === "USER") {
    return { kind: "user", password: needPassword("user") };
  }
  if (forced === "APOP") {
    return { kind: "apop", password: needPassword("apop") };
  }
  if (forced) {
    return {
      kind: "sasl",
      mechanism: createMechanism(forced, credentials, s.custom),
    };
  }
  let refusal: unknown;
  if (s.sasl.length > 0) {
    try {
      return {
        kind: "sasl",
        mechanism: chooseMechanism(s.sasl, credentials, {
          secure: s.secure,
          allowInsecureAuth: s.allowInsecureAuth,
          preference: s.preference,
          custom: s.custom,
        }),
      };
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      refusal = err; // nothing usable offered: APOP or USER/PASS
    }
  }
  if (password === undefined) {
    throw refusal ??
      new Pop3NotSupportedError(
        "server does not offer sasl, needed for a token",
      );
  }
  if (s.apop === true && s.timestamp !== undefined) {
    return { kind: "apop", password };
  }
  return { kind: "user", password };
}
