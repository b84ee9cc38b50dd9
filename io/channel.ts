// A connection with its line reader and writer: what both protocol clients talk through.

import type {
  Conn,
  Connector,
  ConnectTarget,
  TlsInfo,
  TlsOptions,
} from "../tls/conn.ts";
import { ConnectionClosedError, ProtocolError } from "../errors.ts";
import type { Deadline } from "./deadline.ts";
import { LineReader } from "./line_reader.ts";
import type { Logger } from "./log.ts";
import { assertSafe } from "./validate.ts";
import { Writer } from "./writer.ts";

const encoder = new TextEncoder();
// ignoreBOM: keep a leading U+FEFF in the text instead of silently dropping it.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** Options of a {@linkcode Channel}. */
export interface ChannelOptions {
  /** Longest line accepted from the server. */
  maxLineLength: number;
  /** Transcript receiver. */
  logger?: Logger;
}

/**
 * A connection with its line reader and writer: what both protocol clients
 * talk through. It owns closing (idempotent, on any failure) and the TLS
 * upgrade with its injection check.
 */
export class Channel {
  #conn: Conn;
  #reader: LineReader;
  #writer: Writer;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #logger: Logger | undefined;
  readonly #maxLine: number;
  /** Bound close callback, used as every wait's failure hook. */
  readonly abort: () => void;

  constructor(conn: Conn, options: ChannelOptions) {
    this.#conn = conn;
    this.#maxLine = options.maxLineLength;
    this.#logger = options.logger;
    this.abort = () => void this.close();
    this.#reader = new LineReader(conn.readable, this.#maxLine, this.abort);
    this.#writer = new Writer(conn.writable, this.abort);
  }

  /**
   * Open a connection with `connector` within `deadline` and wrap it. On
   * expiry or abort the pending connect is aborted, and a connection that
   * still arrives later is closed, so nothing leaks.
   */
  static async open(
    connector: Connector,
    target: ConnectTarget,
    deadline: Deadline,
    options: ChannelOptions,
  ): Promise<Channel> {
    const ac = new AbortController();
    const pending = connector(target, ac.signal);
    const conn = await deadline.race(pending, () => {
      ac.abort();
      pending.then((c) => c.close(), () => {});
    }, "connecting");
    const ch = new Channel(conn, options);
    const where = target.path ?? `${target.hostname}:${target.port}`;
    ch.log("info", `connected to ${where}${conn.secure ? " (tls)" : ""}`);
    return ch;
  }

  /** The line reader. */
  get reader(): LineReader {
    return this.#reader;
  }

  /** Whether TLS is active. */
  get secure(): boolean {
    return this.#conn.secure;
  }

  /** What the TLS handshake negotiated, when the connector tells. */
  get tlsInfo(): TlsInfo | undefined {
    return this.#conn.tlsInfo;
  }

  /** Whether the connection was closed (by us, after a failure or a QUIT). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether a transcript is being kept. */
  get logging(): boolean {
    return this.#logger !== undefined;
  }

  /** Log a line (already redacted by the caller when needed). */
  log(direction: "client" | "server" | "info", text: string): void {
    this.#logger?.({ time: new Date(), direction, text });
  }

  /** Log a received line (decoded only when a logger is set). */
  logReceived(line: Uint8Array): void {
    if (this.#logger) this.log("server", decoder.decode(line));
  }

  /** Encode a command line with its CRLF. */
  static line(text: string): Uint8Array {
    return encoder.encode(text + "\r\n");
  }

  /** Write parts as one batch. */
  send(
    parts: readonly Uint8Array[],
    deadline: Deadline,
    what?: string,
  ): Promise<void> {
    return this.#writer.write(parts, deadline, what);
  }

  /**
   * Send command lines (then `extra` bytes, e.g. a BDAT chunk) in one
   * write: the path every command of both clients takes. A line holding
   * CR, LF or NUL is refused before anything is sent. Unless `midBatch`,
   * every earlier reply has been read, so bytes still buffered are
   * unsolicited (a server out of step or answering more than asked): the
   * connection is closed rather than desynchronised. The transcript shows
   * `log` instead of the lines when given (redaction).
   */
  async sendCommands(
    lines: readonly string[],
    deadline: Deadline,
    options: {
      extra?: readonly Uint8Array[];
      log?: readonly string[];
      midBatch?: boolean;
    } = {},
  ): Promise<void> {
    for (const line of lines) assertSafe(line, "command line");
    if (!options.midBatch && this.#reader.buffered > 0) {
      this.log("info", "server sent data nobody asked for; closing");
      await this.close();
      throw new ProtocolError(
        "server sent data nobody asked for (an unexpected reply); connection closed",
      );
    }
    if (this.#logger) {
      for (const line of options.log ?? lines) this.log("client", line);
    }
    const parts = lines.map((line) => Channel.line(line));
    const extra = options.extra;
    await this.send(extra?.length ? parts.concat(extra) : parts, deadline);
  }

  /**
   * Upgrade to TLS. Refuses (closes, throws ProtocolError) when the server
   * already sent bytes we haven't read: they were sent in clear and would be
   * taken as TLS-protected replies (STARTTLS command injection).
   */
  async startTls(options: TlsOptions): Promise<void> {
    if (this.#reader.buffered > 0) {
      this.log("info", "server sent data before the tls handshake; closing");
      await this.close();
      throw new ProtocolError(
        "server sent data before the tls handshake (possible injection attack)",
      );
    }
    this.#reader.release();
    this.#writer.release();
    let next: Conn;
    try {
      next = await this.#conn.startTls(options);
    } catch (err) {
      await this.close();
      throw err;
    }
    if (this.#closing) {
      // Closed during the handshake (a deadline or abort fired): the new
      // connection would otherwise stay open with nobody to close it.
      await next.close().catch(() => {});
      throw new ConnectionClosedError(
        "connection closed during the tls handshake",
      );
    }
    this.#conn = next;
    this.#reader = new LineReader(next.readable, this.#maxLine, this.abort);
    this.#writer = new Writer(next.writable, this.abort);
  }

  /** Close the connection (idempotent, bounded by the connector). */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true;
      this.#reader.release();
      this.#writer.release();
      this.#closing = this.#conn.close().catch(() => {});
    }
    return this.#closing;
  }
}
