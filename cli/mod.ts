/**
 * `mailwire` on the command line: **send** a test message, a composed
 * message, a raw `.eml` or a bulk batch with a progress bar; **fetch** a
 * POP3 mailbox into a Maildir or `.eml` files (every write verified,
 * resumable, nothing deleted unless asked); **probe** what an SMTP,
 * submission, SMTPS, LMTP, POP3 or POP3S server offers before and after
 * TLS, with its certificate chain and a verdict. What swaks, `openssl
 * s_client` and a POP3 dump script do, with mailwire's safe defaults and
 * its redacted transcript (`--transcript`).
 *
 * ```sh
 * deno run -A jsr:@mailwire/mailwire/cli send --server smtp.example.com:587 \
 *   --user me@example.com --from me@example.com --to you@example.com --subject hi
 * deno run -A jsr:@mailwire/mailwire/cli fetch --server pop.example.com:995 \
 *   --user me@example.com --maildir ./inbox
 * deno run -A jsr:@mailwire/mailwire/cli probe smtp.example.com:587
 * ```
 *
 * The password comes from `MAILWIRE_PASSWORD` (or `--password-env NAME`),
 * else a prompt without echo on a terminal; never from the command line
 * unless you pass `--password-insecure-argv`, which warns.
 *
 * Exit codes ({@linkcode EXIT}): 0 ok, 1 internal error, 2 usage,
 * 3 connect, 4 TLS, 5 auth, 6 refused, 7 outcome unknown, 8 protocol or
 * timeout, 9 local I/O, 130 interrupted.
 *
 * This entry uses `node:` modules (files, environment, terminal) that
 * Deno, Bun and Node.js all provide; the library entries never import it.
 *
 * @example Run a command in-process
 * ```ts
 * import { EXIT, main } from "@mailwire/mailwire/cli";
 * const out: string[] = [];
 * const writer = { write: (s: string | Uint8Array) => void out.push(String(s)), isTTY: false };
 * const code = await main(
 *   ["send", "--dry-run", "--from", "me@example.com", "--to", "you@example.com"],
 *   { stdout: writer, stderr: writer, stdin: { isTTY: false, read: () => new Blob([]).stream() }, env: {} },
 * );
 * console.log(code === EXIT.ok, out[0]); // true "# envelope from: <me@example.com>\n"
 * ```
 *
 * @module
 */
export { main } from "./run.ts";
export { EXIT, type ExitCode, exitCodeOf, worstExit } from "./exit.ts";
export type { CliIO, CliReader, CliWriter } from "./io.ts";
import { isMainModule, runProcess } from "./process_io.ts";

if (isMainModule(import.meta)) await runProcess();
