// What every command shares: connection flags (server, port, tls, ca, timeout, transcript) and credentials.

import { readFile } from "node:fs/promises";
import {
  flag,
  hasControl,
  list,
  type OptionSpec,
  parseChoice,
  parseCommand,
  type Parsed,
  parseDuration,
  parsePort,
  parseServer,
  str,
} from "./args.ts";
import { CredentialError, UsageError } from "./exit.ts";
import {
  type CliIO,
  type CliWriter,
  type Scrubber,
  transcriptLogger,
} from "./io.ts";
import type { Logger } from "../smtp/mod.ts";

/** Flags every command takes. */
export const COMMON_SPEC: Record<string, OptionSpec> = {
  help: { type: "boolean", short: "h" },
  server: { type: "string", short: "s" },
  port: { type: "string", short: "p" },
  tls: { type: "string" },
  ca: { type: "string", multiple: true },
  servername: { type: "string" },
  timeout: { type: "string" },
  transcript: { type: "boolean" },
};

/** Flags of the commands that log in. */
export const CREDENTIAL_SPEC: Record<string, OptionSpec> = {
  user: { type: "string", short: "u" },
  auth: { type: "string" },
  "password-env": { type: "string" },
  "password-insecure-argv": { type: "string" },
  "xoauth2-token-cmd": { type: "string" },
  "allow-insecure-auth": { type: "boolean" },
};

/** The environment variable read for the password by default. */
export const PASSWORD_ENV = "MAILWIRE_PASSWORD";

/** What a command needs to run: its writers (scrubbed), the scrubber, the IO. */
export interface Context {
  io: CliIO;
  out: CliWriter;
  err: CliWriter;
  /** stderr without the {@linkcode Context.beforeErr} hook: for the progress display itself. */
  status: CliWriter;
  scrubber: Scrubber;
  /** Print a warning line on stderr. */
  warn(text: string): void;
  /** Called before anything is written to stderr (a progress bar clears its line). */
  beforeErr?: () => void;
}

/** The connection options common to the clients, from the flags. */
export interface Connection {
  hostname: string;
  port?: number;
  tls?: "starttls" | "implicit" | "none";
  caCerts?: string[];
  servername?: string;
  timeout: number;
  connectTimeout: number;
  logger?: Logger;
  /** Ctrl-C (the CLI's signal). */
  signal?: AbortSignal;
}

/** Default deadline of each call, in ms (`--timeout`). */
export const DEFAULT_TIMEOUT = 30_000;

/** Read a file given on the command line; a failure is a usage error naming the flag. */
export async function readArgFile(
  path: string,
  what: string,
): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UsageError(
      `cannot read ${what} ${path}: ${
        code === "ENOENT" ? "no such file" : code ?? String(err)
      }`,
    );
  }
}

/** Resolve `--server`/`--port`/`--tls`/`--ca`/`--timeout`/`--transcript`. */
export async function connection(
  command: string,
  values: Parsed["values"],
  ctx: Context,
  server: string | undefined = str(values, "server"),
): Promise<Connection> {
  if (server === undefined) {
    throw new UsageError(
      `${command} needs --server HOST[:PORT]; run "mailwire ${command} --help"`,
    );
  }
  const target = parseServer(server);
  const portFlag = str(values, "port");
  const port = portFlag !== undefined ? parsePort(portFlag) : target.port;
  const tlsFlag = str(values, "tls");
  const tls = tlsFlag === undefined
    ? undefined
    : parseChoice(tlsFlag, "--tls", ["starttls", "implicit", "none"] as const);
  const caCerts: string[] = [];
  for (const file of list(values, "ca")) {
    const pem = new TextDecoder().decode(await readArgFile(file, "--ca"));
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new UsageError(`--ca ${file} holds no PEM certificate`);
    }
    caCerts.push(pem);
  }
  const timeoutFlag = str(values, "timeout");
  const timeout = timeoutFlag === undefined
    ? DEFAULT_TIMEOUT
    : parseDuration(timeoutFlag);
  const servername = str(values, "servername");
  return {
    hostname: target.hostname,
    port,
    tls,
    caCerts: caCerts.length ? caCerts : undefined,
    servername,
    timeout,
    connectTimeout: timeout,
    logger: flag(values, "transcript")
      ? transcriptLogger(ctx.err, ctx.beforeErr)
      : undefined,
  };
}

/** Credentials for a login, as the clients' `auth` option takes them. */
export interface CliCredentials {
  username: string;
  password?: string;
  accessToken?: string;
  mechanism?: string;
}

/** Run the `--xoauth2-token-cmd` command and take its output as the token. */
async function tokenFromCommand(
  command: string,
  ctx: Context,
): Promise<string> {
  if (!ctx.io.runCommand) {
    throw new CredentialError("--xoauth2-token-cmd is not available here");
  }
  let output: string;
  try {
    output = await ctx.io.runCommand(command);
  } catch (err) {
    throw new CredentialError(
      `the token command failed: ${(err as Error).message ?? err}`,
    );
  }
  const token = output.trim();
  if (token.length === 0) {
    throw new CredentialError("the token command printed no token");
  }
  if (hasControl(token, true)) {
    throw new CredentialError(
      "the token command printed more than one line or control characters; it must print the access token only",
    );
  }
  return token;
}

/**
 * The credentials from `--user`, `--auth`, the password flags or the
 * token command; undefined without `--user`. The password comes from the
 * environment variable (`--password-env`, default `MAILWIRE_PASSWORD`),
 * else a prompt without echo when stdin is a terminal; from argv only with
 * `--password-insecure-argv`, which warns. Every secret is registered with
 * the scrubber before anything else happens.
 */
export async function credentials(
  command: string,
  values: Parsed["values"],
  ctx: Context,
): Promise<CliCredentials | undefined> {
  const username = str(values, "user");
  const mechanismFlag = str(values, "auth");
  const argvPassword = str(values, "password-insecure-argv");
  const tokenCmd = str(values, "xoauth2-token-cmd");
  const envName = str(values, "password-env");
  ctx.scrubber.add(argvPassword);
  if (username === undefined) {
    for (
      const [name, given] of [
        ["--auth", mechanismFlag],
        ["--password-insecure-argv", argvPassword],
        ["--xoauth2-token-cmd", tokenCmd],
        ["--password-env", envName],
      ] as const
    ) {
      if (given !== undefined) {
        throw new UsageError(`${command}: ${name} needs --user NAME`);
      }
    }
    return undefined;
  }
  if (hasControl(username)) {
    throw new UsageError(
      `${command}: --user must not contain control characters`,
    );
  }
  const mechanism = mechanismFlag === undefined || mechanismFlag === "auto"
    ? undefined
    : mechanismFlag.toUpperCase();
  if (mechanism !== undefined && !/^[A-Z0-9_-]{1,20}$/.test(mechanism)) {
    throw new UsageError(
      `${command}: --auth takes a mechanism name such as PLAIN: ${mechanismFlag}`,
    );
  }
  if (tokenCmd !== undefined) {
    if (argvPassword !== undefined) {
      throw new UsageError(
        `${command}: --xoauth2-token-cmd and --password-insecure-argv exclude each other`,
      );
    }
    const token = await tokenFromCommand(tokenCmd, ctx);
    ctx.scrubber.add(token);
    return {
      username,
      accessToken: token,
      mechanism: mechanism ?? "XOAUTH2",
    };
  }
  if (mechanism === "XOAUTH2" || mechanism === "OAUTHBEARER") {
    throw new UsageError(
      `${command}: --auth ${mechanism} needs --xoauth2-token-cmd "command that prints the token"`,
    );
  }
  let password: string | undefined;
  if (argvPassword !== undefined) {
    ctx.warn(
      "a password on the command line is visible to other users (ps) and kept in shell history; prefer MAILWIRE_PASSWORD or the prompt",
    );
    password = argvPassword;
  } else {
    const name = envName ?? PASSWORD_ENV;
    password = ctx.io.env[name];
    if (password === undefined || password === "") {
      if (ctx.io.stdin.isTTY && ctx.io.stdin.readSecret) {
        password = await ctx.io.stdin.readSecret(`password for ${username}: `);
      } else {
        throw new UsageError(
          `${command}: no password for ${username}: set ${name} (or --password-env NAME), or run on a terminal to be asked`,
        );
      }
    }
  }
  ctx.scrubber.add(password);
  if (/[\r\n]/.test(password) || password.includes("\0")) {
    throw new UsageError(`${command}: the password contains CR, LF or NUL`);
  }
  return { username, password, mechanism };
}

/**
 * Parse a command's flags; `undefined` when `--help` was asked (the help
 * is printed). Positionals beyond `positionals` are a usage error.
 */
export function begin(
  command: string,
  args: string[],
  spec: Record<string, OptionSpec>,
  help: string,
  ctx: Context,
  positionals = 0,
): Parsed | undefined {
  const parsed = parseCommand(command, args, spec);
  if (flag(parsed.values, "help")) {
    ctx.out.write(help);
    return undefined;
  }
  if (parsed.positionals.length > positionals) {
    throw new UsageError(
      `${command}: unexpected argument ${
        JSON.stringify(parsed.positionals[positionals])
      }; run "mailwire ${command} --help"`,
    );
  }
  return parsed;
}

/** `--allow-insecure-auth`, with its warning. */
export function insecureAuth(
  values: Parsed["values"],
  ctx: Context,
): true | undefined {
  if (!flag(values, "allow-insecure-auth")) return undefined;
  ctx.warn(
    "--allow-insecure-auth: credentials may cross the network in clear text",
  );
  return true;
}

/**
 * Run `make` (a client constructor, synchronous): the option errors it
 * throws (TypeError, RangeError) are usage errors.
 */
export function usageOf<T>(command: string, make: () => T): T {
  try {
    return make();
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) {
      throw new UsageError(`${command}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}
