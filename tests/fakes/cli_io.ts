/**
 * Test-only: run the `mailwire` CLI in-process (`main` with a captured
 * CliIO) or as a child process of the current runtime (`deno run -A`,
 * `bun`, or `node` on the compiled build), and collect every output so a
 * test can assert that no secret was ever printed.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { main } from "../../cli/mod.ts";
import type { CliIO } from "../../cli/mod.ts";
import { runCommand } from "../../cli/process_io.ts";

/** What one run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Every output of every run in this process (for the no-secret check). */
export const allOutput: string[] = [];

/** Options of an in-process run. */
export interface InProcess {
  env?: Record<string, string | undefined>;
  stdin?: string | Uint8Array<ArrayBuffer>;
  stdinTTY?: boolean;
  stderrTTY?: boolean;
  /** Answer to a password prompt (a TTY stdin). */
  secret?: string;
  signal?: AbortSignal;
  /** Called with each stderr write (e.g. to abort after some progress). */
  onStderr?: (text: string) => void;
}

/** Run `main(args)` in this process with captured output. */
export async function cli(args: string[], o: InProcess = {}): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const dec = new TextDecoder();
  const text = (c: string | Uint8Array) =>
    typeof c === "string" ? c : dec.decode(c);
  const io: CliIO = {
    stdout: { write: (c) => void (stdout += text(c)), isTTY: false },
    stderr: {
      write: (c) => {
        stderr += text(c);
        o.onStderr?.(text(c));
      },
      isTTY: o.stderrTTY ?? false,
      columns: 100,
    },
    stdin: {
      isTTY: o.stdinTTY ?? false,
      read: () => new Blob([o.stdin ?? ""]).stream(),
      readSecret: o.secret === undefined
        ? undefined
        : () => Promise.resolve(o.secret!),
    },
    env: o.env ?? {},
    signal: o.signal,
    runCommand,
  };
  const code = await main(args, io);
  allOutput.push(stdout, stderr);
  return { code, stdout, stderr };
}

const here = import.meta.url;
const compiled = here.endsWith(".js");
const onDeno = typeof (globalThis as { Deno?: unknown }).Deno === "object";
const onBun = typeof (globalThis as { Bun?: unknown }).Bun === "object";

/** The command line that runs the CLI as a child of this runtime. */
export function cliCommand(): [string, string[]] {
  const entry = fileURLToPath(
    new URL(`../../cli/mod.${compiled ? "js" : "ts"}`, here),
  );
  if (onDeno) return [process.execPath, ["run", "-A", entry]];
  if (onBun) return [process.execPath, [entry]];
  return [process.execPath, [entry]];
}

/** Options of a child-process run. */
export interface Child {
  env?: Record<string, string | undefined>;
  stdin?: string;
  /** Kill with SIGKILL once stderr matches. */
  killWhen?: RegExp;
  timeoutMs?: number;
}

/** Run the CLI as a child process; resolves when it exits (code 128+n when killed by a signal). */
export function cliChild(
  args: string[],
  o: Child = {},
  command: [string, string[]] = cliCommand(),
): Promise<CliRun & { killed: boolean }> {
  return new Promise((resolve, reject) => {
    const [exe, pre] = command;
    const child = spawn(exe, [...pre, ...args], {
      env: { ...process.env, NO_COLOR: "1", ...o.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, o.timeoutMs ?? 120_000);
    child.stdout!.on(
      "data",
      (c: Uint8Array) => (stdout += new TextDecoder().decode(c)),
    );
    child.stderr!.on("data", (c: Uint8Array) => {
      stderr += new TextDecoder().decode(c);
      if (o.killWhen && !killed && o.killWhen.test(stderr)) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      allOutput.push(stdout, stderr);
      resolve({
        code: code ?? (signal === "SIGKILL" ? 137 : 128),
        stdout,
        stderr,
        killed,
      });
    });
    child.stdin!.end(o.stdin ?? "");
  });
}
