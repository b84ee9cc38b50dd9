// The CLI's view of its process (streams, environment, TTYs, signal), the secret scrubber and the transcript logger.

import type { LogEntry, Logger } from "../smtp/mod.ts";

/**
 * What a command may use of its process. `main` takes one, so the
 * commands run the same way in a process and in a test.
 *
 * @example Capture what a command prints
 * ```ts
 * import type { CliIO } from "@mailwire/mailwire/cli";
 * const out: string[] = [];
 * const io: CliIO = {
 *   stdout: { write: (s) => void out.push(String(s)), isTTY: false },
 *   stderr: { write: (s) => void out.push(String(s)), isTTY: false },
 *   stdin: { isTTY: false, read: () => new Blob([]).stream() },
 *   env: {},
 * };
 * console.log(typeof io.stdout.write); // "function"
 * ```
 */
export interface CliIO {
  /** Results (a message in `--dry-run`, listings, `--json`). */
  stdout: CliWriter;
  /** Progress, the transcript, warnings and errors. */
  stderr: CliWriter;
  /** Standard input (a body or message from `-`), and a prompt when a TTY. */
  stdin: CliReader;
  /** The environment (passwords come from here). */
  env: Readonly<Record<string, string | undefined>>;
  /** Stop gracefully: fetch finishes the message under way, a bulk send stops queueing. */
  signal?: AbortSignal;
  /** Run a shell command and return its standard output (`--xoauth2-token-cmd`). */
  runCommand?: (command: string) => Promise<string>;
}

/**
 * An output stream of the CLI.
 *
 * @example
 * ```ts
 * import type { CliWriter } from "@mailwire/mailwire/cli";
 * const lines: string[] = [];
 * const writer: CliWriter = { write: (s) => void lines.push(String(s)), isTTY: false };
 * writer.write("hello\n");
 * console.log(lines); // ["hello\n"]
 * ```
 */
export interface CliWriter {
  /** Write text or bytes. */
  write(chunk: string | Uint8Array): void;
  /** Whether it is a terminal (progress bars, colours). */
  readonly isTTY: boolean;
  /** Terminal width, when known. */
  readonly columns?: number;
}

/**
 * The CLI's standard input.
 *
 * @example
 * ```ts
 * import type { CliReader } from "@mailwire/mailwire/cli";
 * const stdin: CliReader = { isTTY: false, read: () => new Blob(["hi"]).stream() };
 * console.log(stdin.isTTY); // false
 * ```
 */
export interface CliReader {
  /** Whether it is a terminal (a password may then be prompted for). */
  readonly isTTY: boolean;
  /** The whole input as a stream (read once). */
  read(): ReadableStream<Uint8Array>;
  /** Prompt on the terminal and read a line without echo (TTY only). */
  readSecret?(prompt: string): Promise<string>;
}

/**
 * Wraps the CLI's writers so that no secret it knows of is ever printed:
 * every text written has each registered secret replaced by `***`.
 * (The clients' transcripts are redacted already; this also covers the
 * CLI's own messages and anything a server echoes back.)
 */
export class Scrubber {
  #secrets: string[] = [];

  /** Register a secret (ignored when shorter than 3 characters: too many false hits). */
  add(secret: string | undefined): void {
    if (secret === undefined || secret.length < 3) return;
    if (!this.#secrets.includes(secret)) this.#secrets.push(secret);
    // Longest first, so that a secret containing another is replaced whole.
    this.#secrets.sort((a, b) => b.length - a.length);
  }

  /** `text` with every secret replaced. */
  clean(text: string): string {
    let out = text;
    for (const s of this.#secrets) {
      if (out.includes(s)) out = out.split(s).join("***");
    }
    return out;
  }

  /** A writer that scrubs text before passing it on (bytes pass unchanged). */
  wrap(writer: CliWriter): CliWriter {
    return {
      write: (chunk) =>
        writer.write(typeof chunk === "string" ? this.clean(chunk) : chunk),
      isTTY: writer.isTTY,
      columns: writer.columns,
    };
  }
}

/** A transcript logger writing `S: …` / `C: …` / `-- …` lines to `out`. */
export function transcriptLogger(
  out: CliWriter,
  before?: () => void,
): Logger {
  return (entry: LogEntry) => {
    before?.();
    const tag = entry.direction === "client"
      ? "C:"
      : entry.direction === "server"
      ? "S:"
      : "--";
    out.write(
      `${entry.time.toISOString().slice(11, 23)} ${tag} ${entry.text}\n`,
    );
  };
}
