// Command-line parsing for the CLI: node:util parseArgs with usage errors and hints, host:port, durations, counts.

import { parseArgs } from "node:util";
import { UsageError } from "./exit.ts";

/** One option of a command (node:util parseArgs' shape). */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
}

/** What {@linkcode parseCommand} returns. */
export interface Parsed {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

/** Edit distance (bounded inputs: option names). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(
        row[j] + 1,
        row[j - 1] + 1,
        prev + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      prev = tmp;
    }
  }
  return row[b.length];
}

/** The known name closest to `name`, if close enough to be a typo. */
export function suggest(
  name: string,
  known: readonly string[],
): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/**
 * Parse `args` against `spec` (strict: unknown options and missing values
 * are {@linkcode UsageError}s naming the option, with a "did you mean"
 * when one is close). `--` ends the options.
 */
export function parseCommand(
  command: string,
  args: string[],
  spec: Record<string, OptionSpec>,
): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: spec,
      strict: true,
      allowPositionals: true,
    });
    return { values: values as Parsed["values"], positionals };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const unknown = /Unknown option '(-{1,2})([^'=]+)'/.exec(message);
    const hint = `run "mailwire ${command} --help"`;
    if (unknown) {
      const near = suggest(unknown[2], Object.keys(spec));
      throw new UsageError(
        `${command}: unknown option ${unknown[1]}${unknown[2]}` +
          (near ? `; did you mean --${near}?` : `; ${hint}`),
      );
    }
    const missing = /Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/
      .exec(message);
    if (missing) {
      throw new UsageError(`${command}: ${missing[1]} needs a value; ${hint}`);
    }
    const flag = /Option '(?:-\w, )?(--[\w-]+)' does not take an argument/
      .exec(message);
    if (flag) {
      throw new UsageError(`${command}: ${flag[1]} takes no value; ${hint}`);
    }
    throw new UsageError(`${command}: ${message.toLowerCase()}; ${hint}`);
  }
}

/**
 * Whether `text` holds a control character (C0, DEL), or with
 * `spaces` also whitespace: refused in names, hosts and secrets.
 */
export function hasControl(text: string, spaces = false): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || (spaces && (c === 0x20 || c === 0xa0))) {
      return true;
    }
  }
  return false;
}

/** A server given as `host`, `host:port`, `[v6]` or `[v6]:port`. */
export interface ServerArg {
  hostname: string;
  port?: number;
}

/** Parse a port number (1–65535). */
export function parsePort(text: string, what = "port"): number {
  if (!/^\d{1,5}$/.test(text)) {
    throw new UsageError(`${what} must be a number from 1 to 65535: ${text}`);
  }
  const port = Number(text);
  if (port < 1 || port > 65535) {
    throw new UsageError(`${what} must be a number from 1 to 65535: ${text}`);
  }
  return port;
}

/**
 * Parse `host[:port]`. An IPv6 address takes brackets when a port
 * follows (`[::1]:25`); a bare IPv6 address (two colons or more) is a host.
 */
export function parseServer(text: string): ServerArg {
  if (text.length === 0) throw new UsageError("server must not be empty");
  if (hasControl(text, true)) {
    throw new UsageError(
      `server must not contain spaces or control characters: ${
        JSON.stringify(text)
      }`,
    );
  }
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end < 0) throw new UsageError(`missing "]" in server: ${text}`);
    const hostname = text.slice(1, end);
    const rest = text.slice(end + 1);
    if (rest === "") return { hostname };
    if (!rest.startsWith(":")) {
      throw new UsageError(`expected ":port" after "]" in server: ${text}`);
    }
    return { hostname, port: parsePort(rest.slice(1)) };
  }
  const first = text.indexOf(":");
  if (first < 0) return { hostname: text };
  if (text.indexOf(":", first + 1) >= 0) return { hostname: text }; // IPv6
  const hostname = text.slice(0, first);
  if (hostname === "") throw new UsageError(`no host name in server: ${text}`);
  return { hostname, port: parsePort(text.slice(first + 1)) };
}

/**
 * Parse a duration: seconds (`30`, `2.5`, `30s`), milliseconds (`500ms`)
 * or minutes (`2m`). Returns milliseconds.
 */
export function parseDuration(text: string, what = "--timeout"): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (!m) {
    throw new UsageError(
      `${what} must be a duration such as 30, 30s, 500ms or 2m: ${text}`,
    );
  }
  const n = Number(m[1]);
  const ms = m[2] === "ms" ? n : m[2] === "m" ? n * 60_000 : n * 1000;
  if (!(ms > 0) || ms > 86_400_000) {
    throw new UsageError(
      `${what} must be more than 0 and at most 24h: ${text}`,
    );
  }
  return Math.ceil(ms);
}

/** Parse a positive integer count (1 to `max`). */
export function parseCount(
  text: string,
  what: string,
  max = 10_000_000,
): number {
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new UsageError(
      `${what} must be a whole number from 1 to ${max}: ${text}`,
    );
  }
  return Number(text);
}

/** One of `choices`, or a usage error listing them. */
export function parseChoice<T extends string>(
  text: string,
  what: string,
  choices: readonly T[],
): T {
  if ((choices as readonly string[]).includes(text)) return text as T;
  const near = suggest(text, choices);
  throw new UsageError(
    `${what} must be one of ${choices.join(", ")}: ${text}` +
      (near ? `; did you mean ${near}?` : ""),
  );
}

/** A string option's value (the last one when given twice). */
export function str(
  values: Parsed["values"],
  name: string,
): string | undefined {
  const v = values[name];
  if (Array.isArray(v)) return v.length ? String(v[v.length - 1]) : undefined;
  return typeof v === "string" ? v : undefined;
}

/** A multiple string option's values. */
export function list(values: Parsed["values"], name: string): string[] {
  const v = values[name];
  if (Array.isArray(v)) return v.map(String);
  return typeof v === "string" ? [v] : [];
}

/** A boolean option. */
export function flag(values: Parsed["values"], name: string): boolean {
  return values[name] === true;
}
