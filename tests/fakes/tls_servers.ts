// Test-only: in-process TLS and TCP servers (node:net, node:tls) for the connector cases.

import * as net from "node:net";
import * as tls from "node:tls";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixture } from "./fixtures.ts";

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
  expired: {
    key: fixture("expired-key.pem"),
    cert: fixture("expired.pem"),
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
  /** Sockets open now (plain, and TLS ones made by `upgrade`). */
  sockets: Set<net.Socket>;
  /** Connections accepted so far, closed ones included. */
  accepted: number;
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

/** A Unix socket path in a fresh temporary directory, and its removal. */
export function tempSocketPath(): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "mailwire-"));
  return {
    path: join(dir, "test.sock"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
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
  server.on("connection", (socket: net.Socket) => {
    api.accepted++;
    track(socket);
  });
  // A failed handshake on the implicit-TLS server is the test's point.
  server.on("tlsClientError", () => {});
  const api: TestServer = {
    port: 0,
    sockets,
    accepted: 0,
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

const decoder = new TextDecoder();

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
