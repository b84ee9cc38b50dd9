// The transcript: its entries, the Logger type and a console logger.

/**
 * One transcript entry.
 *
 * @example
 * ```ts
 * import type { LogEntry } from "@mailwire/mailwire/smtp";
 * function format(entry: LogEntry): string {
 *   return `${entry.direction === "client" ? ">" : "<"} ${entry.text}`;
 * }
 * console.log(format({ time: new Date(), direction: "client", text: "NOOP" })); // "> NOOP"
 * ```
 */
export interface LogEntry {
  /** When it happened. */
  readonly time: Date;
  /** `client`: sent; `server`: received; `info`: a note from mailwire (TLS started, closed...). */
  readonly direction: "client" | "server" | "info";
  /** The line without its line end; credentials are already redacted. */
  readonly text: string;
}

/**
 * Receives the transcript. Called synchronously; keep it cheap.
 *
 * @example Keep the transcript in memory
 * ```ts
 * import { type LogEntry, type Logger, SmtpClient } from "@mailwire/mailwire/smtp";
 * const transcript: LogEntry[] = [];
 * const logger: Logger = (entry) => transcript.push(entry);
 * const client = new SmtpClient({ hostname: "smtp.example.com", logger });
 * console.log(transcript.length); // 0 until the client connects
 * ```
 */
export type Logger = (entry: LogEntry) => void;

/**
 * A logger that prints `<ISO 8601 time> C: line` to the console: a
 * transcript worth pasting into a bug report. It starts with the library
 * version, the runtime and the server; TLS version, cipher and the
 * server's certificate follow the handshake; failures and timeouts are
 * logged as `--` events. Credentials are always redacted.
 *
 * @example
 * ```ts
 * import { consoleLogger } from "@mailwire/mailwire/smtp";
 * const time = new Date("2024-05-01T09:30:00.123Z");
 * consoleLogger({ time, direction: "client", text: "EHLO localhost" });
 * // prints "2024-05-01T09:30:00.123Z C: EHLO localhost"
 * ```
 */
export const consoleLogger: Logger = (entry) => {
  const tag = entry.direction === "client"
    ? "C:"
    : entry.direction === "server"
    ? "S:"
    : "--";
  console.log(`${entry.time.toISOString()} ${tag} ${entry.text}`);
};
