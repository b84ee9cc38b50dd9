// OAuth 2 for both clients: an access-token provider, the server's JSON error decoded, one retry with a fresh token.

import type { Credentials } from "../auth/mechanism.ts";
import type { Deadline } from "./deadline.ts";
import { assertCredentials, assertSafe } from "./validate.ts";

/**
 * Gives a current OAuth 2 access token (e.g. refreshed from a refresh
 * token). Asked when a login starts, and once more after a failed
 * XOAUTH2/OAUTHBEARER attempt.
 */
export type TokenProvider = () => Promise<string>;

/**
 * What a server said about a failed XOAUTH2/OAUTHBEARER login (RFC 7628
 * §3.2.2: a JSON object such as
 * `{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`).
 */
export interface OAuthErrorInfo {
  /** The HTTP-style status, e.g. `"401"` (token expired or invalid), `"400"`. */
  readonly status?: string;
  /** The scope the server wants. */
  readonly scope?: string;
  /** The schemes it accepts, e.g. `"bearer"`. */
  readonly schemes?: string;
  /** An OpenID configuration URL, when given. */
  readonly openidConfiguration?: string;
  /** The error text as the server sent it (at most 4 KiB kept). */
  readonly raw: string;
}

/** Decode a server's OAuth error (JSON; anything else keeps only `raw`). */
export function parseOAuthError(text: string): OAuthErrorInfo {
  const raw = text.length > 4096 ? text.slice(0, 4096) : text;
  let json: unknown;
  try {
    json = text.length <= 65536 ? JSON.parse(text) : undefined;
  } catch {
    return { raw };
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return { raw };
  }
  const o = json as Record<string, unknown>;
  const str = (v: unknown) =>
    typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
  return {
    status: str(o.status),
    scope: str(o.scope),
    schemes: str(o.schemes),
    openidConfiguration: str(o["openid-configuration"]),
    raw,
  };
}

/** Credentials whose token may come from a provider. */
export type TokenCredentials = Omit<Credentials, "accessToken"> & {
  accessToken?: string | TokenProvider;
};

/** Ask `provider` for a token within `d`; refuse a token that isn't a safe string. */
export async function fetchToken(
  provider: TokenProvider,
  d: Deadline,
): Promise<string> {
  const token = await d.race(
    Promise.resolve().then(provider),
    () => {},
    "getting an access token",
  );
  if (typeof token !== "string" || token === "") {
    throw new TypeError("the access-token provider must resolve to a string");
  }
  assertSafe(token, "accessToken");
  return token;
}

/**
 * Log in with `login`, asking `credentials.accessToken` for the token when
 * it is a provider: after a failed attempt (`retryable`), the provider is
 * asked once more and the login tried once more. A plain token is used as
 * is, once. Every credential is checked first (throws before any await).
 */
export async function loginWithProvider<T>(
  credentials: TokenCredentials,
  d: Deadline,
  login: (credentials: Credentials) => Promise<T>,
  retryable: (err: unknown) => boolean,
): Promise<T> {
  // Every credential checked before a byte is sent (a provided token when
  // it comes).
  const { accessToken: provider, ...rest } = credentials;
  assertCredentials(
    typeof provider === "function" ? rest : credentials as Credentials,
  );
  if (typeof provider !== "function") {
    return await login(credentials as Credentials);
  }
  const first = await fetchToken(provider, d);
  try {
    return await login({ ...credentials, accessToken: first });
  } catch (err) {
    if (!retryable(err)) throw err;
  }
  const fresh = await fetchToken(provider, d);
  return await login({ ...credentials, accessToken: fresh });
}
