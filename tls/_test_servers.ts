// Test-only: in-process servers (node:net, node:tls) and Conn helpers.

import * as net from "node:net";
import * as tls from "node:tls";
import { readFileSync } from "node:fs";
import type { Conn } from "./conn.ts";
import { repoFile } from "../tests/repo.ts";

/** A file of `tests/fixtures/`, as text. */
export function fixture(name: string): string {
  return readFileSync(repoFile(`tests/fixtures/${name}`), {
    encoding: "utf8",
  });
}

/** The test CA and the server certificates it signed (or not). */
export const certs = {
  ca: fixture("ca.pem"),
  localhost: {
    key: fixture("localhost-key.pem"),
    cert: fixture("localhost.pem"),
  },
  wronghost: {
    key: fixture("wronghost-key.pem"),
    cert: fixture("wronghost.pem"),
  },
  untrusted: {
    key: fixture("untrusted-key.pem"),
    cert: fixture("untrusted.pem"),
  },
};

/** A server certificate and key. */
export interface KeyPair {
  key: string;
  cert: string;
}

/** A listening test server that can close itself and every connection it accepted. */
export interface TestServer {
  /** The TCP port (0 for a Unix socket server). */
  port: number;
  /** Sockets accepted so far (plain, and TLS ones made by `upgrade`). */
  sockets: Set<net.Socket>;
  /** Wraps an accepted socket in server-side TLS; the result is tracked too. */
  upgrade(socket: net.Socket, pair?: KeyPair): tls.TLSSocket;
  close(): Promise<void>;
}

/** Options of {@linkcode listen}. */
export interface ListenOptions {
  /** Serve implicit TLS with this certificate. */
  tls?: KeyPair;
  /** Listen on this Unix socket path instead of 127.0.0.1:0. */
  path?: string;
}

/** Starts a server calling `handler` for each accepted (TLS: secured) socket. */
export async function listen(
  handler: (socket: net.Socket, server: TestServer) => void,
  options: ListenOptions = {},
): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  };
  const server: net.Server = options.tls
    ? tls.createServer({ ...options.tls }, (socket) => {
      track(socket);
      handler(socket, api);
    })
    : net.createServer((socket) => {
      handler(socket, api);
    });
  server.on("connection", track);
  // A failed handshake on the implicit-TLS server is the test's point.
  server.on("tlsClientError", () => {});
  const api: TestServer = {
    port: 0,
    sockets,
    upgrade(socket, pair = certs.localhost) {
      const secure = new tls.TLSSocket(socket, { isServer: true, ...pair });
      track(secure);
      return secure;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if (options.path !== undefined) server.listen(options.path, resolve);
    else server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  api.port = typeof address === "object" && address !== null ? address.port : 0;
  return api;
}

/** Echoes everything back. */
export function echo(socket: net.Socket): void {
  socket.on("data", (data) => socket.write(data));
}

/** A port nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return address.port;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Writes `text` and releases the lock. */
export async function send(conn: Conn, text: string): Promise<void> {
  const writer = conn.writable.getWriter();
  try {
    await writer.write(encoder.encode(text));
  } finally {
    writer.releaseLock();
  }
}

/**
 * Reads until the text read ends with `end` (default CRLF), then releases
 * the lock. Throws if the stream ends first.
 */
export async function receive(conn: Conn, end = "\r\n"): Promise<string> {
  const reader = conn.readable.getReader();
  let text = "";
  try {
    while (!text.endsWith(end)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended after ${JSON.stringify(text)}`);
      text += decoder.decode(value, { stream: true });
    }
    return text;
  } finally {
    reader.releaseLock();
  }
}

/** Reads until the stream ends; returns the text read. */
export async function receiveAll(conn: Conn): Promise<string> {
  let text = "";
  for await (const chunk of conn.readable) {
    text += decoder.decode(chunk, { stream: true });
  }
  return text;
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads CRLF-terminated lines from a server-side socket. */
export interface LineReader {
  /** The next line, without its CRLF. */
  next(): Promise<string>;
  /** Stops listening (before a TLS upgrade of the socket). */
  stop(): void;
}

/** Reads `socket` line by line. */
export function lineReader(socket: net.Socket): LineReader {
  let buffer = "";
  let waiting: ((line: string) => void) | null = null;
  const lines: string[] = [];
  const onData = (data: Uint8Array) => {
    buffer += decoder.decode(data);
    let end: number;
    while ((end = buffer.indexOf("\r\n")) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (waiting) {
        const resolve = waiting;
        waiting = null;
        resolve(line);
      } else {
        lines.push(line);
      }
    }
  };
  socket.on("data", onData);
  return {
    next: () =>
      lines.length > 0
        ? Promise.resolve(lines.shift()!)
        : new Promise((resolve) => (waiting = resolve)),
    stop: () => {
      socket.removeListener("data", onData);
      socket.pause();
    },
  };
}
