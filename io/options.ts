// Strict option checking shared by every client: unknown keys, wrong types and out-of-range values are refused.

import { InvalidInputError } from "../errors.ts";

/** Checks one option's value; throws a TypeError or RangeError naming `name`. */
export type Check = (value: unknown, name: string) => void;

/** A spec: every key the options object may hold, with its check. */
export type Spec = Readonly<Record<string, Check>>;

/**
 * Hints for option names users bring from other libraries (nodemailer,
 * smtplib, poplib), shown when such a key is refused.
 */
export const FOREIGN_HINTS: Readonly<Record<string, string>> = {
  host: 'use "hostname"',
  server: 'use "hostname"',
  secure:
    'use tls: "implicit" for tls from the first byte (ports 465/995), or the default tls: "starttls"',
  ignoreTLS: 'use tls: "none" (explicit opt-in to clear text)',
  requireTLS: 'tls: "starttls" (the default) already requires tls',
  user: "use auth: { username, password }",
  username: "use auth: { username, password }",
  pass: "use auth: { username, password }",
  password: "use auth: { username, password }",
  ca: 'use caCerts: ["-----BEGIN CERTIFICATE-----..."]',
  rejectUnauthorized:
    "certificates are always verified; pass a private ca in caCerts (allowInvalidCertificates: true is for tests only)",
  servername: 'use "servername" (lowercase n)',
  serverName: 'use "servername"',
  name: 'use "localName"',
  localHostname: 'use "localName"',
  local_hostname: 'use "localName"',
  clientName: 'use "localName"',
  source_address: 'use "localAddress" and "localPort"',
  connectionTimeout: 'use "connectTimeout" (ms)',
  greetingTimeout: 'use "connectTimeout" (ms): connect() is bounded as a whole',
  socketTimeout: 'use "timeout" (ms per call)',
  debug: "use logger: consoleLogger (credentials are redacted)",
  pool: "use SmtpPool",
  authMethod: "use auth: { mechanism }",
  unixSocket: 'use "path"',
  socketPath: 'use "path"',
};

/**
 * Refuse an options object that is not a plain object, has a key `spec`
 * doesn't list, or a value its check refuses. `owner` names the options in
 * messages (e.g. `"SmtpClient options"`).
 */
export function checkOptions(
  options: unknown,
  spec: Spec,
  owner: string,
  hints: Readonly<Record<string, string>> = FOREIGN_HINTS,
): void {
  if (options === undefined) return;
  if (
    options === null || typeof options !== "object" || Array.isArray(options)
  ) {
    throw new TypeError(`${owner} must be an object`);
  }
  for (const key of Object.keys(options)) {
    const check = spec[key];
    if (!check) {
      const hint = hints[key];
      throw new TypeError(
        `unknown option "${key}" in ${owner}${hint ? `: ${hint}` : ""}`,
      );
    }
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined) check(value, `${owner}: ${key}`);
  }
}

/** Any string (use {@linkcode safeString} for what goes on the wire). */
export const string: Check = (value, name) => {
  if (typeof value !== "string") {
    throw new TypeError(`${name} must be a string`);
  }
};

/** A string without CR, LF or NUL (else an InvalidInputError, as for any argument). */
export const safeString: Check = (value, name) => {
  string(value, name);
  if (/[\r\n\0]/.test(value as string)) {
    // The injection refusal every argument gets, options included.
    throw new InvalidInputError(`${name} contains a cr, lf or nul character`);
  }
};

/** A non-empty host name or address without white space or control characters. */
export const hostname: Check = (value, name) => {
  string(value, name);
  const v = value as string;
  if (/[\r\n\0]/.test(v)) safeString(v, name);
  if (v === "" || /\s/.test(v)) {
    throw new TypeError(
      `${name} must be a non-empty host name without white space`,
    );
  }
};

/** A boolean. */
export const boolean: Check = (value, name) => {
  if (typeof value !== "boolean") {
    throw new TypeError(`${name} must be true or false`);
  }
};

/** A function. */
export const func: Check = (value, name) => {
  if (typeof value !== "function") {
    throw new TypeError(`${name} must be a function`);
  }
};

/** An AbortSignal. */
export const signal: Check = (value, name) => {
  if (!(value instanceof AbortSignal)) {
    throw new TypeError(`${name} must be an AbortSignal`);
  }
};

/** A TCP port: an integer from 1 to 65535 (`allowZero`: 0 too, "any"). */
export function port(allowZero = false): Check {
  return (value, name) => {
    if (typeof value !== "number" || !Number.isInteger(value)) {
      throw new TypeError(`${name} must be an integer port number`);
    }
    if (value < (allowZero ? 0 : 1) || value > 65535) {
      throw new RangeError(
        `${name} must be from ${allowZero ? 0 : 1} to 65535, not ${value}`,
      );
    }
  };
}

/** A deadline in ms: a positive number, or Infinity for none. */
export const timeout: Check = (value, name) => {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new TypeError(
      `${name} must be a number of milliseconds (Infinity for no deadline)`,
    );
  }
  if (!(value > 0)) {
    throw new RangeError(
      `${name} must be more than 0 ms, not ${value} (Infinity for no deadline)`,
    );
  }
};

/** A positive integer of at most `max`. */
export function positiveInteger(max = Number.MAX_SAFE_INTEGER): Check {
  return (value, name) => {
    if (typeof value !== "number" || !Number.isInteger(value)) {
      throw new TypeError(`${name} must be an integer`);
    }
    if (value < 1 || value > max) {
      throw new RangeError(`${name} must be from 1 to ${max}, not ${value}`);
    }
  };
}

/** One of the given strings. `hints` explains a refused value. */
export function oneOf(
  values: readonly string[],
  hint?: (value: unknown) => string | undefined,
): Check {
  return (value, name) => {
    if (typeof value === "string" && values.includes(value)) return;
    const extra = hint?.(value);
    throw new TypeError(
      `${name} must be ${values.map((v) => `"${v}"`).join(", ")}; got ${
        describe(value)
      }${extra ? `: ${extra}` : ""}`,
    );
  };
}

/** An array whose items pass `item`. */
export function arrayOf(item: Check): Check {
  return (value, name) => {
    if (!Array.isArray(value)) throw new TypeError(`${name} must be an array`);
    value.forEach((v, i) => item(v, `${name}[${i}]`));
  };
}

/** A Map whose values pass `item`, keyed by strings. */
export function mapOf(item: Check): Check {
  return (value, name) => {
    if (!(value instanceof Map)) throw new TypeError(`${name} must be a Map`);
    for (const [k, v] of value) {
      string(k, `${name} key`);
      item(v, `${name}.get(${JSON.stringify(k)})`);
    }
  };
}

/** A nested options object checked against `spec`. */
export function object(
  spec: Spec,
  hints?: Readonly<Record<string, string>>,
): Check {
  return (value, name) => checkOptions(value, spec, name, hints);
}

/** The per-call options every public call takes. */
export const CALL_SPEC: Spec = { signal, timeout };

/**
 * Check the `signal` and `timeout` of a call's options (the options' other
 * keys are the method's to check).
 */
export function checkCallOptions(call: unknown, what: string): void {
  if (call === undefined) return;
  if (call === null || typeof call !== "object") {
    throw new TypeError(`${what} options must be an object`);
  }
  const { signal: s, timeout: t } = call as Record<string, unknown>;
  if (s !== undefined) signal(s, `${what} options: signal`);
  if (t !== undefined) timeout(t, `${what} options: timeout`);
}

/** A value for messages: strings quoted, objects named, never long. */
function describe(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(
      value.length > 40 ? value.slice(0, 40) + "..." : value,
    );
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return String(value);
}
