// The CliIO of the running process (Deno, Bun, Node): stdout/stderr, stdin, a no-echo prompt, SIGINT, the token command.

import process from "node:process";
import { spawn } from "node:child_process";
import { Readable } from "node:stream";
import { Buffer } from "node:buffer";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { AbortedError } from "../tls/mod.ts";
import type { CliIO } from "./io.ts";
import { main } from "./run.ts";

/** Read a line from the terminal without echoing it. */
function readSecret(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    let value = "";
    const raw = stdin.isRaw;
    stdin.setRawMode?.(true);
    stdin.resume();
    const done = (err?: Error) => {
      stdin.off("data", onData);
      stdin.setRawMode?.(raw ?? false);
      stdin.pause();
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Uint8Array | string) => {
      for (
        const ch of typeof chunk === "string"
          ? chunk
          : new TextDecoder().decode(chunk)
      ) {
        if (ch === "\r" || ch === "\n" || ch === "\x04") return done();
        if (ch === "\x03") {
          return done(new AbortedError("password prompt interrupted"));
        }
        if (ch === "\x7f" || ch === "\b") value = value.slice(0, -1);
        else if (ch >= " ") value += ch;
      }
    };
    stdin.on("data", onData);
  });
}

/** Run `command` in the shell; its stdout (at most 64 KiB) is the result, its stderr passes through. */
export function runCommand(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, {
      shell: true,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const chunks: Uint8Array[] = [];
    let size = 0;
    child.stdout!.on("data", (c: Uint8Array) => {
      size += c.length;
      if (size <= 65536) chunks.push(c);
    });
    child.on("error", (err) => reject(err));
    child.on("close", (code, signal) => {
      if (code !== 0) {
        reject(
          new Error(signal ? `killed by ${signal}` : `exit status ${code}`),
        );
      } else if (size > 65536) reject(new Error("more than 64 KiB of output"));
      else {
        resolve(new TextDecoder().decode(Buffer.concat(chunks)));
      }
    });
  });
}

/** This process as a CliIO; the first SIGINT aborts `signal` (graceful stop), the second exits 130. */
export function processIO(): CliIO {
  const controller = new AbortController();
  let interrupts = 0;
  process.on("SIGINT", () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write(
      "\ninterrupted: finishing the current step (Ctrl-C again to quit now)\n",
    );
    controller.abort(new Error("interrupted"));
  });
  return {
    stdout: {
      write: (chunk) => void process.stdout.write(chunk),
      get isTTY() {
        return process.stdout.isTTY === true;
      },
      get columns() {
        return process.stdout.columns;
      },
    },
    stderr: {
      write: (chunk) => void process.stderr.write(chunk),
      get isTTY() {
        return process.stderr.isTTY === true;
      },
      get columns() {
        return process.stderr.columns;
      },
    },
    stdin: {
      isTTY: process.stdin.isTTY === true,
      read: () =>
        Readable.toWeb(process.stdin) as unknown as ReadableStream<Uint8Array>,
      readSecret,
    },
    env: process.env,
    signal: controller.signal,
    runCommand,
  };
}

/** Run the CLI on this process's argv and exit with its code once the output is flushed. */
export async function runProcess(): Promise<void> {
  const code = await main(process.argv.slice(2), processIO());
  // Exit even if a socket or timer lingers; after stdout and stderr drain.
  await new Promise<void>((resolve) =>
    process.stdout.write("", () => resolve())
  );
  await new Promise<void>((resolve) =>
    process.stderr.write("", () => resolve())
  );
  process.exit(code);
}

/**
 * Whether the module of `meta` is the program being run: `import.meta.main`
 * where the runtime has it (Deno, Bun, Node.js 24.2+), else whether
 * `argv[1]` is that module's file (npm's bin links resolved).
 */
export function isMainModule(meta: ImportMeta): boolean {
  if (typeof meta.main === "boolean") return meta.main;
  const script = process.argv[1];
  if (!script || !meta.url.startsWith("file:")) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(meta.url));
  } catch {
    return false;
  }
}
