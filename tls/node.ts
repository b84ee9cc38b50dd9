/**
 * The Node.js and Bun connector: `node:net` + `node:tls`, wrapped in a
 * pull-based {@linkcode Conn}.
 *
 * @module
 */

import type * as Net from "node:net";
import type * as Tls from "node:tls";
import type {
  Conn,
  Connector,
  ConnectTarget,
  TlsInfo,
  TlsOptions,
} from "./conn.ts";
import {
  ConnectError,
  ConnectionClosedError,
  type MailwireError,
  ProtocolError,
} from "../errors.ts";
import {
  abortedError,
  attempt,
  CLOSE_GRACE_MS,
  describeWithCode,
  handshakeError,
  mergeTlsOptions,
  type ResolvedTlsOptions,
  tlsDefaults,
  upgradeRefusal,
  where,
} from "./_util.ts";
import { validateTarget } from "./validate_target.ts";
import { ioError, type OpenSslSocket, tlsInfoOf } from "./_openssl.ts";
import { PullReader } from "./_pull_reader.ts";

interface Modules {
  net: typeof Net;
  tls: typeof Tls;
}

/** `process.getBuiltinModule`, where the runtime has it. */
type GetBuiltinModule = (id: string) => unknown;

let modules: Modules | undefined;

/**
 * `node:net` and `node:tls`, taken from `process.getBuiltinModule` (Node.js
 * 20.16 and later, Bun, Deno) on first use. There is deliberately no
 * `import` of them, static or dynamic: a bundle for Cloudflare Workers of
 * anything that imports this module then names no `node:` module at all,
 * and loads without the `nodejs_compat` flag.
 */
function load(target: ConnectTarget): Modules {
  if (modules) return modules;
  const proc = (globalThis as {
    process?: { getBuiltinModule?: GetBuiltinModule };
  }).process;
  if (typeof proc?.getBuiltinModule !== "function") {
    throw new ConnectError(
      `cannot connect to ${
        where(target)
      }: the node connector needs process.getBuiltinModule (node.js 20.16 or later, bun, deno); on other runtimes pass a connector made for them`,
    );
  }
  modules = {
    net: proc.getBuiltinModule("node:net") as typeof Net,
    tls: proc.getBuiltinModule("node:tls") as typeof Tls,
  };
  return modules;
}

/**
 * Opens connections with `node:net` and `node:tls`: the connector for Node.js
 * and Bun (it also runs on Deno's Node compatibility layer).
 *
 * - TCP sockets get `TCP_NODELAY`; `path` opens a Unix socket.
 * - Implicit TLS is a TCP connect followed by the same upgrade as
 *   {@linkcode Conn.startTls}. The promise resolves after a completed,
 *   verified handshake; the verdict is checked again on the socket
 *   (`authorized`), whatever the runtime's `rejectUnauthorized` did.
 * - `caCerts`, when given, replace the default root certificates (Node's
 *   `ca` option). An IP address is verified against the certificate's IP
 *   entries and is never sent as SNI.
 * - `allowInvalidCertificates: true` turns verification off
 *   (`rejectUnauthorized: false`). For tests only.
 * - Reads are made only while a consumer waits for one: the socket is
 *   paused otherwise, and at most one `data` chunk is held. `startTls`
 *   refuses to upgrade (`ProtocolError`, connection closed) when the peer
 *   already sent bytes nobody read: a STARTTLS injection.
 *
 * @example Send a line over a plain connection
 * ```ts
 * import { nodeConnector } from "@mailwire/mailwire/tls";
 *
 * async function quit(port: number) {
 *   const conn = await nodeConnector({ hostname: "localhost", port, tls: "none" });
 *   const writer = conn.writable.getWriter();
 *   await writer.write(new TextEncoder().encode("QUIT\r\n"));
 *   writer.releaseLock();
 *   await conn.close();
 * }
 * console.log(typeof quit); // "function"
 * ```
 */
export const nodeConnector: Connector = async (
  target: ConnectTarget,
  signal?: AbortSignal,
): Promise<Conn> => {
  validateTarget(target);
  if (signal?.aborted) throw abortedError(signal, "connect");
  const mods = load(target);
  let socket: Net.Socket;
  try {
    socket = target.path !== undefined
      ? mods.net.connect({ path: target.path })
      : mods.net.connect({
        host: target.hostname,
        port: target.port,
        localAddress: target.localAddress,
        localPort: target.localPort,
      });
  } catch (cause) {
    // Node 20 and Bun throw some invalid options synchronously; the target
    // was validated, so this is unexpected, but it stays a typed error.
    throw new ConnectError(
      `cannot connect to ${where(target)}: ${describeWithCode(cause)}`,
      { cause },
    );
  }
  let onError: ((cause: Error) => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        socket.destroy();
        reject(abortedError(signal!, "connect"));
      };
      onError = (cause) => {
        signal?.removeEventListener("abort", onAbort);
        socket.destroy();
        reject(
          new ConnectError(
            `cannot connect to ${where(target)}: ${describeWithCode(cause)}`,
            { cause },
          ),
        );
      };
      socket.once("error", onError);
      socket.once("connect", () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    if (target.path === undefined) socket.setNoDelay(true);
    const conn = new NodeConn(mods, socket, where(target), tlsDefaults(target));
    if (target.tls !== "implicit") return conn;
    return await conn.upgrade({}, signal, "connect");
  } finally {
    // The connection (if any) listens for errors itself by now; a failed
    // socket must not crash the process with a late error.
    if (onError) socket.removeListener("error", onError);
    if (socket.destroyed) socket.on("error", ignore);
  }
};

/**
 * Bytes received on a connection made by {@linkcode nodeConnector} and not
 * yet read (0 for any other connection). For tests.
 *
 * @internal
 */
export function bufferedBytes(conn: Conn): number {
  return conn instanceof NodeConn ? NodeConn.buffered(conn) : 0;
}

type State = "open" | "upgrading" | "upgraded" | "closed";

function ignore(): void {}

class NodeConn implements Conn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly secure: boolean;
  readonly tlsInfo: TlsInfo | undefined;
  #mods: Modules;
  #where: string;
  #socket: Net.Socket;
  /** The TCP socket under a TLS socket made by an upgrade. */
  #plain: Net.Socket | undefined;
  #tls: ResolvedTlsOptions;
  #state: State = "open";
  #reads: PullReader;
  #ended = false;
  #error: MailwireError | null = null;
  #writing = 0;
  #writeController!: WritableStreamDefaultController;
  #closing: Promise<void> | undefined;
  /** Set while an upgrade runs: stops it (from `close`). */
  #stopUpgrade: (() => void) | undefined;

  constructor(
    mods: Modules,
    socket: Net.Socket,
    place: string,
    tls: ResolvedTlsOptions,
    secured?: { plain: Net.Socket; info: TlsInfo },
  ) {
    this.#mods = mods;
    this.#socket = socket;
    this.#where = place;
    this.#plain = secured?.plain;
    this.secure = secured !== undefined;
    this.tlsInfo = secured?.info;
    this.#tls = tls;
    socket.on("data", this.#onData);
    socket.pause();
    socket.on("end", this.#onEnd);
    socket.on("error", this.#onError);
    socket.on("close", this.#onClose);
    this.#reads = new PullReader({
      resume: () => socket.resume(),
      pause: () => socket.pause(),
      error: () => this.#error,
      over: () => this.#ended || this.#state !== "open",
    });
    this.readable = this.#reads.readable;
    this.writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writeController = controller;
      },
      write: (chunk) => this.#write(chunk),
      close: () => this.#closeWrite(),
      abort: () => this.close(),
    });
  }

  static buffered(conn: NodeConn): number {
    return conn.#reads.held + conn.#socket.readableLength;
  }

  #onData = (data: Uint8Array): void => {
    this.#socket.pause();
    // A plain Uint8Array view of the Buffer.
    this.#reads.take(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
  };

  #onEnd = (): void => {
    this.#ended = true;
    this.#reads.settle();
  };

  #onError = (cause: Error): void => {
    if (!this.#ended && this.#state === "open") {
      this.#error ??= ioError(cause, this.#where);
    }
    this.#reads.settle();
  };

  #onClose = (): void => {
    this.#ended = true;
    this.#reads.settle();
  };

  #write(chunk: Uint8Array): Promise<void> {
    if (!(chunk instanceof Uint8Array)) {
      return Promise.reject(new TypeError("chunk must be a Uint8Array"));
    }
    const socket = this.#socket;
    if (this.#state !== "open" || socket.destroyed) {
      return Promise.reject(new ConnectionClosedError("connection closed"));
    }
    this.#writing++;
    return new Promise<void>((resolve, reject) => {
      let written = false;
      let drained = true;
      let settled = false;
      const settle = (error?: MailwireError) => {
        if (error === undefined && !(written && drained)) return;
        socket.removeListener("close", onClose);
        socket.removeListener("drain", onDrain);
        if (settled) return;
        settled = true;
        this.#writing--;
        if (error) reject(error);
        else resolve();
      };
      const onClose = () =>
        settle(
          this.#error ?? new ConnectionClosedError("connection closed"),
        );
      const onDrain = () => {
        drained = true;
        settle();
      };
      socket.once("close", onClose);
      const flushed = socket.write(chunk, (cause) => {
        if (cause) {
          settle(
            this.#state === "open"
              ? ioError(cause, this.#where)
              : new ConnectionClosedError("connection closed", { cause }),
          );
        } else {
          written = true;
          settle();
        }
      });
      if (!flushed && !settled) {
        drained = false;
        socket.once("drain", onDrain);
      }
    });
  }

  #closeWrite(): Promise<void> {
    const socket = this.#socket;
    if (this.#state !== "open" || socket.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => socket.end(resolve));
  }

  /** Detaches from the socket and ends both streams. */
  #detach(reason: string): void {
    const socket = this.#socket;
    socket.removeListener("data", this.#onData);
    socket.removeListener("end", this.#onEnd);
    socket.removeListener("close", this.#onClose);
    this.#reads.end();
    attempt(() =>
      this.#writeController.error(new ConnectionClosedError(reason))
    );
  }

  /** Destroys the socket and returns `error`, for `throw`. */
  #fail(error: MailwireError): MailwireError {
    this.#state = "closed";
    this.#socket.destroy();
    this.#detach("connection closed");
    return error;
  }

  startTls(options: TlsOptions = {}, signal?: AbortSignal): Promise<Conn> {
    return this.upgrade(options, signal, "upgrade");
  }

  /** {@linkcode Conn.startTls}; `phase` is "connect" for implicit TLS. */
  async upgrade(
    options: TlsOptions,
    signal: AbortSignal | undefined,
    phase: "connect" | "upgrade",
  ): Promise<Conn> {
    const refusal = upgradeRefusal({
      state: this.#state,
      secure: this.secure,
      locked: this.readable.locked || this.writable.locked,
      reading: this.#reads.reading,
      writing: this.#writing > 0,
    });
    if (refusal) {
      throw refusal.close ? this.#fail(refusal.error) : refusal.error;
    }
    const socket = this.#socket;
    if (this.#reads.held > 0 || socket.readableLength > 0) {
      throw this.#fail(
        new ProtocolError("server sent data before the tls handshake"),
      );
    }
    if (this.#error !== null) throw this.#fail(this.#error);
    if (this.#ended || socket.destroyed) {
      throw this.#fail(new ConnectionClosedError("connection closed"));
    }
    if (signal?.aborted) {
      throw this.#fail(abortedError(signal, "tls handshake"));
    }

    const tls = mergeTlsOptions(this.#tls, options);
    const verify = tls.allowInvalidCertificates !== true;
    this.#state = "upgrading";
    this.#detach("connection upgraded to tls");
    // The plain socket's own error listener stays until the upgrade is over.
    const name = tls.servername;
    const place = this.#where;
    let tlsSocket: Tls.TLSSocket;
    try {
      tlsSocket = this.#mods.tls.connect({
        socket,
        host: name,
        servername: this.#mods.net.isIP(name) === 0 ? name : undefined,
        ca: tls.caCerts,
        rejectUnauthorized: verify,
      });
    } catch (cause) {
      // e.g. a caCerts entry that is not a certificate
      this.#state = "closed";
      socket.destroy();
      socket.on("error", ignore);
      throw handshakeError(place, phase, name, cause);
    }
    let onError: ((cause: Error) => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const cleanup = () => {
          signal?.removeEventListener("abort", onAbort);
          tlsSocket.removeListener("secureConnect", onSecure);
          tlsSocket.removeListener("close", onClose);
          this.#stopUpgrade = undefined;
        };
        const fail = (error: MailwireError) => {
          cleanup();
          tlsSocket.destroy();
          socket.destroy();
          reject(error);
        };
        const onAbort = () => fail(abortedError(signal!, "tls handshake"));
        onError = (cause) => fail(handshakeError(place, phase, name, cause));
        const onClose = () =>
          fail(
            handshakeError(place, phase, name, undefined, {
              detail: "connection closed by the server",
            }),
          );
        const onSecure = () => {
          cleanup();
          resolve();
        };
        this.#stopUpgrade = () =>
          fail(
            new ConnectionClosedError(
              "connection closed during the tls handshake",
            ),
          );
        tlsSocket.once("secureConnect", onSecure);
        tlsSocket.on("error", onError);
        tlsSocket.once("close", onClose);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
      if (verify && !tlsSocket.authorized) {
        tlsSocket.destroy();
        socket.destroy();
        const reason = tlsSocket.authorizationError as unknown;
        throw handshakeError(place, phase, name, reason, {
          detail: `certificate not verified: ${
            describeWithCode(reason ?? "unknown reason")
          }`,
        });
      }
      this.#state = "upgraded";
      return new NodeConn(this.#mods, tlsSocket, place, tls, {
        plain: socket,
        info: tlsInfoOf(tlsSocket as unknown as OpenSslSocket, verify),
      });
    } catch (error) {
      this.#state = "closed";
      throw error;
    } finally {
      if (onError) tlsSocket.removeListener("error", onError);
      socket.removeListener("error", this.#onError);
      // The TLS socket reports errors from now on; a late one on the plain
      // socket must not crash the process.
      socket.on("error", ignore);
    }
  }

  close(): Promise<void> {
    if (this.#state === "upgrading") {
      this.#stopUpgrade?.();
      return Promise.resolve();
    }
    if (this.#state === "upgraded") return Promise.resolve();
    if (this.#closing) return this.#closing;
    this.#state = "closed";
    const socket = this.#socket;
    const plain = this.#plain;
    this.#closing = new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        plain?.destroy();
        resolve();
      };
      const timer = setTimeout(() => {
        socket.destroy();
        done();
      }, CLOSE_GRACE_MS);
      if (socket.destroyed) {
        done();
        return;
      }
      socket.once("close", done);
      // Flush what was written, send FIN (or close_notify), then let go.
      socket.once("finish", () => socket.destroy());
      socket.end();
    });
    this.#detach("connection closed");
    return this.#closing;
  }
}
