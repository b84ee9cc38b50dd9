/** One transcript entry. */
export interface LogEntry {
  /** When it happened. */
  readonly time: Date;
  /** `client`: sent; `server`: received; `info`: a note from mailwire (TLS started, closed...). */
  readonly direction: "client" | "server" | "info";
  /** The line without its line end; credentials are already redacted. */
  readonly text: string;
}

/** Receives the transcript. Called synchronously; keep it cheap. */
export type Logger = (entry: LogEntry) => void;

/** A logger that prints `HH:MM:SS.mmm C: line` to the console. */
export const consoleLogger: Logger = (entry) => {
  const tag = entry.direction === "client"
    ? "C:"
    : entry.direction === "server"
    ? "S:"
    : "--";
  console.log(`${entry.time.toISOString().slice(11, 23)} ${tag} ${entry.text}`);
};
