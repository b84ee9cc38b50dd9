// The dispatcher: `mailwire send|fetch|probe …` → the command, its errors → one line on stderr and an exit code.

import { EXIT, type ExitCode, exitCodeOf, UsageError } from "./exit.ts";
import { MAIN_HELP } from "./help.ts";
import { type CliIO, Scrubber } from "./io.ts";
import type { Context } from "./common.ts";
import { send } from "./send.ts";
import { fetch } from "./fetch.ts";
import { probe } from "./probe.ts";
import { suggest } from "./args.ts";

import { VERSION } from "../mod.ts";

/** The version `mailwire --version` prints: the library's. */
export const CLI_VERSION: string = VERSION;

const COMMANDS: Record<
  string,
  (args: string[], ctx: Context) => Promise<ExitCode>
> = {
  send,
  fetch,
  probe,
};

/**
 * Run `mailwire` with `args` (without the program name) on `io`; resolves
 * to the exit code. Never throws: errors are printed on `io.stderr` as
 * one line (`mailwire send: …`) and mapped to their {@linkcode EXIT} code.
 *
 * @example Print the usage
 * ```ts
 * import { main } from "@mailwire/mailwire/cli";
 * let printed = "";
 * const writer = { write: (s: string | Uint8Array) => void (printed += String(s)), isTTY: false };
 * const code = await main(["--help"], {
 *   stdout: writer,
 *   stderr: writer,
 *   stdin: { isTTY: false, read: () => new Blob([]).stream() },
 *   env: {},
 * });
 * console.log(code, printed.startsWith("mailwire:")); // 0 true
 * ```
 */
export async function main(args: string[], io: CliIO): Promise<ExitCode> {
  const scrubber = new Scrubber();
  const ctx: Context = {
    io,
    scrubber,
    out: scrubber.wrap(io.stdout),
    status: scrubber.wrap(io.stderr),
    err: scrubber.wrap({
      write: (chunk) => {
        ctx.beforeErr?.();
        io.stderr.write(chunk);
      },
      isTTY: io.stderr.isTTY,
      columns: io.stderr.columns,
    }),
    warn: (text) => ctx.err.write(`warning: ${text}\n`),
  };
  const [command, ...rest] = args;
  if (
    command === undefined || command === "--help" || command === "-h" ||
    command === "help"
  ) {
    if (command === "help" && rest[0] && Object.hasOwn(COMMANDS, rest[0])) {
      return await main([rest[0], "--help"], io);
    }
    ctx.out.write(MAIN_HELP);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === "--version" || command === "-V" || command === "version") {
    ctx.out.write(`mailwire ${CLI_VERSION}\n`);
    return EXIT.ok;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  try {
    if (!run) {
      const near = suggest(command, Object.keys(COMMANDS));
      throw new UsageError(
        `unknown command ${JSON.stringify(command)}` +
          (near ? `; did you mean "${near}"?` : '; run "mailwire --help"'),
      );
    }
    return await run(rest, ctx);
  } catch (err) {
    const code = exitCodeOf(err);
    let message = err instanceof Error ? err.message : String(err);
    if (message.startsWith(`${command}: `)) {
      message = message.slice(command.length + 2);
    }
    const prefix = run ? `mailwire ${command}` : "mailwire";
    ctx.err.write(
      `${prefix}: ${
        code === EXIT.internal ? "internal error: " : ""
      }${message}\n`,
    );
    if (code === EXIT.internal && err instanceof Error && err.stack) {
      ctx.err.write(`${err.stack}\n`);
    }
    return code;
  }
}
