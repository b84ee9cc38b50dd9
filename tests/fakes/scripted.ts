/**
 * Scripted fake servers for hostile-server tests: an in-process `node:net`
 * server whose behaviour is a small async function per connection. Runs on
 * Deno, Bun and Node. Test-only code.
 */
import { Buffer } from "node:buffer";
import net from "node:net";
import tls from "node:tls";
import { fixture } from "./fixtures.ts";

export { fixture };

/** One accepted connection, seen from the fake server. */
export class FakePeer {
  socket: net.Socket | tls.TLSSocket;
  /** Every byte received in clear or after TLS, in order (decrypted). */
  received: Buffer = Buffer.alloc(0);
  /** Each chunk as it arrived (to check what came in one write). */
  chunks: Buffer[] = [];
  #pending: Buffer = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  #ended = false;

  constructor(socket: net.Socket) {
    this.socket = socket;
    this.#attach(socket);
  }

  #attach(socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.received = Buffer.concat([this.received, chunk]);
      this.#pending = Buffer.concat([this.#pending, chunk]);
      this.#wake();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("error", () => {
      this.#ended = true;
      this.#wake();
    });
  }

  #wake() {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** The received bytes as text. */
  get text(): string {
    return this.received.toString("utf8");
  }

  /** Whether the client closed or reset the connection. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Send text (or bytes) as is. */
  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.write(data, () => resolve());
    });
  }

  /** Wait for the next CRLF-terminated line (without CRLF); null if the client went away. */
  async readLine(timeoutMs = 5000): Promise<string | null> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const at = this.#pending.indexOf("\n");
      if (at >= 0) {
        const line = this.#pending.subarray(0, at).toString("utf8").replace(
          /\r$/,
          "",
        );
        this.#pending = this.#pending.subarray(at + 1);
        return line;
      }
      if (this.#ended || Date.now() > until) return null;
      await this.#wait(until - Date.now());
    }
  }

  /** Wait for the next `n` bytes, as they are; null if the client went away first. */
  async readBytes(n: number, timeoutMs = 5000): Promise<Buffer | null> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (this.#pending.length >= n) {
        const bytes = this.#pending.subarray(0, n);
        this.#pending = this.#pending.subarray(n);
        return bytes;
      }
      if (this.#ended || Date.now() > until) return null;
      await this.#wait(until - Date.now());
    }
  }

  /** Wait until the received bytes contain `marker`; returns whether they do. */
  async waitFor(marker: string, timeoutMs = 5000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const at = this.#pending.indexOf(marker);
      if (at >= 0) {
        this.#pending = this.#pending.subarray(at + marker.length);
        return true;
      }
      if (this.#ended || Date.now() > until) return false;
      await this.#wait(until - Date.now());
    }
  }

  /** Wait until the client closes (bounded); returns whether it did. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.#ended && Date.now() < until) {
      await this.#wait(until - Date.now());
    }
    return this.#ended;
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, Math.max(1, Math.min(ms, 1000)));
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#waiters.push(done);
    });
  }

  /** Upgrade this connection to TLS as the server (after "220 ready"). */
  async startTls(cert = "localhost"): Promise<void> {
    const plain = this.socket as net.Socket;
    if (plain.destroyed) return; // the client already went away
    plain.removeAllListeners("data");
    plain.removeAllListeners("end");
    plain.removeAllListeners("close");
    const secure = new tls.TLSSocket(plain, {
      isServer: true,
      cert: fixture(`${cert}.pem`),
      key: fixture(`${cert}-key.pem`),
    });
    // Deno's node:tls starts a server-side handshake only from its own
    // tls.Server (deno#31759); without this the ClientHello arrives as data.
    const start = (secure as unknown as { _start?: () => void })._start;
    if ("Deno" in globalThis && typeof start === "function") {
      start.call(secure);
    }
    this.socket = secure;
    this.#pending = Buffer.alloc(0);
    this.#attach(secure as unknown as net.Socket);
    await new Promise<void>((resolve) => {
      secure.once("secure", () => resolve());
      secure.once("error", () => resolve());
      secure.once("close", () => resolve());
    });
  }

  /** Close gracefully. */
  end(): void {
    this.socket.end();
  }

  /** Reset the connection. */
  destroy(): void {
    this.socket.destroy();
  }
}

/** A running fake server. */
export interface FakeServer {
  /** The port on 127.0.0.1 (0 when listening on a Unix socket). */
  port: number;
  /** The Unix socket path, when listening on one. */
  path?: string;
  /** Peers accepted so far. */
  peers: FakePeer[];
  /** Resolves with the first peer's script result (or its error). */
  done: Promise<void>;
  /** Stop listening and destroy every connection. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Start a fake server on 127.0.0.1 running `script` for each connection.
 * With `implicitTls`, connections are TLS from the start (fixture cert);
 * with `path`, it listens on that Unix socket instead (LMTP).
 */
export async function fakeServer(
  script: (peer: FakePeer) => Promise<void>,
  options: { implicitTls?: boolean; cert?: string; path?: string } = {},
): Promise<FakeServer> {
  const peers: FakePeer[] = [];
  const results: Promise<void>[] = [];
  let resolveFirst!: (p: Promise<void>) => void;
  const first = new Promise<Promise<void>>((r) => resolveFirst = r);
  const onSocket = (socket: net.Socket) => {
    const peer = new FakePeer(socket);
    peers.push(peer);
    const run = script(peer).catch((err) => {
      peer.destroy();
      throw err;
    });
    results.push(run);
    if (results.length === 1) resolveFirst(run);
  };
  const cert = options.cert ?? "localhost";
  const server = options.implicitTls
    ? tls.createServer({
      cert: fixture(`${cert}.pem`),
      key: fixture(`${cert}-key.pem`),
    }, onSocket)
    : net.createServer(onSocket);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if (options.path !== undefined) server.listen(options.path, resolve);
    else server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const close = async () => {
    for (const p of peers) p.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // Let every script see its connection gone and return, so none of its
    // timers outlives the test (Deno's sanitizers), within a bound.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled(results),
      new Promise((resolve) => timer = setTimeout(resolve, 3000)),
    ]);
    clearTimeout(timer);
  };
  return {
    port,
    path: options.path,
    peers,
    done: first.then((p) => p),
    close,
    [Symbol.asyncDispose]: close,
  };
}
