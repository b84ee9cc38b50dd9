/**
 * The Bun connector: Bun's own sockets (`Bun.connect`, `upgradeTLS`),
 * wrapped in a pull-based {@linkcode Conn}.
 *
 * @module
 */

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
import { isIpLiteral, validateTarget } from "./validate_target.ts";
import { ioError, type OpenSslSocket, tlsInfoOf } from "./_openssl.ts";
import { PullReader } from "./_pull_reader.ts";

/** The handlers of one Bun socket (`Bun.connect`'s `socket` option). */
interface Handlers {
  open(socket: BunSocket): void;
  data(socket: BunSocket, data: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: unknown): void;
  error(socket: BunSocket, error: unknown): void;
  handshake(
    socket: BunSocket,
    success: boolean,
    authorizationError: unknown,
  ): void;
}

/** TLS options of `Bun.connect` and `upgradeTLS`. */
interface BunTlsOptions {
  serverName?: string;
  ca?: string[];
  rejectUnauthorized: boolean;
}

/** The part of a Bun socket used here. */
interface BunSocket extends OpenSslSocket {
  /** The `data` option of `connect`/`upgradeTLS`: the socket's link. */
  readonly data?: Link;
  /** Bytes taken (the rest must be written again at `drain`); -1 when closed. */
  write(data: Uint8Array): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
  upgradeTLS(
    options: { tls: BunTlsOptions; socket: Handlers; data: Link },
  ): [BunSocket, BunSocket];
}

interface BunGlobal {
  connect(options: {
    hostname?: string;
    port?: number;
    unix?: string;
    socket: Handlers;
    data: Link;
  }): Promise<BunSocket>;
}

/**
 * Where a socket's events go: the connection that owns it, or nowhere (a
 * socket under TLS, whose handlers still see the encrypted bytes).
 */
class Link {
  conn: BunConn | undefined;
  /** A TLS socket (made by `upgradeTLS`): not paused at `open`. */
  tls = false;
  /** The socket went under TLS: its events are no longer ours. */
  detached = false;
  /** Bytes that arrived before the connection took the socket. */
  early: Uint8Array[] = [];
  ended = false;
  error: unknown;
  /** Waiting for the TLS handshake, if it runs. */
  handshake: ((ok: boolean, error: unknown) => void) | undefined;
  /** Called once when the socket closed. */
  closed: (() => void) | undefined;
  isClosed = false;
}

/** One set of handlers for every socket; `socket.data` is its link. */
const handlers: Handlers = {
  open(socket) {
    // Not a TLS socket: pausing one before its handshake makes every later
    // pause() a no-op (Bun 1.4), and the whole stream would be read ahead.
    // Its first `data` pauses it.
    if (socket.data?.tls !== true) socket.pause();
  },
  data(socket, data) {
    const link = linkOf(socket);
    if (link === undefined) return;
    if (link.conn) link.conn.received(data);
    else {
      socket.pause();
      link.early.push(data);
    }
  },
  drain(socket) {
    linkOf(socket)?.conn?.drained();
  },
  end(socket) {
    const link = linkOf(socket);
    if (link === undefined) return;
    link.ended = true;
    link.conn?.ended();
  },
  close(socket, error) {
    const link = linkOf(socket);
    if (link === undefined) return;
    if (error !== undefined && error !== null) {
      // e.g. ECONNRESET: the readable errors, it does not just end.
      link.error ??= error;
      link.conn?.failed(error);
    }
    link.ended = true;
    link.isClosed = true;
    link.handshake?.(false, error);
    link.conn?.ended();
    link.closed?.();
  },
  error(socket, error) {
    const link = linkOf(socket);
    if (link === undefined) return;
    link.error ??= error;
    link.handshake?.(false, error);
    link.conn?.failed(error);
  },
  handshake(socket, success, authorizationError) {
    linkOf(socket)?.handshake?.(success, authorizationError);
  },
};

function linkOf(socket: BunSocket): Link | undefined {
  const link = socket.data;
  return link === undefined || link.detached ? undefined : link;
}

/** `Bun`, when this runs on Bun. */
function bunGlobal(): BunGlobal | undefined {
  const bun = (globalThis as { Bun?: { connect?: unknown } }).Bun;
  return typeof bun?.connect === "function" ? bun as BunGlobal : undefined;
}

/**
 * Opens connections with Bun's own sockets: the connector
 * {@linkcode defaultConnector} uses on Bun. Reads and writes cost less than
 * through Bun's `node:net` ({@linkcode nodeConnector}).
 *
 * - TCP sockets get `TCP_NODELAY`; `path` opens a Unix socket.
 * - Implicit TLS is a TCP connect followed by the same upgrade as
 *   {@linkcode Conn.startTls} (`upgradeTLS`). The promise resolves after a
 *   completed, verified handshake; the verdict is checked again on the
 *   socket (`authorized`).
 * - `caCerts`, when given, replace the default root certificates. An IP
 *   address is verified against the certificate's IP entries and is never
 *   sent as SNI.
 * - `allowInvalidCertificates: true` turns verification off. For tests only.
 * - `localAddress` and `localPort` are not supported (`Bun.connect` cannot
 *   bind): a `ConnectError` says so. {@linkcode defaultConnector} hands
 *   such targets to {@linkcode nodeConnector}.
 * - Reads are made only while a consumer waits for one: the socket is
 *   paused otherwise. `startTls` refuses to upgrade (`ProtocolError`,
 *   connection closed) when the peer already sent bytes nobody read: a
 *   STARTTLS injection. Bytes still unread in the socket (a paused Bun
 *   socket reads nothing) reach the handshake instead, which fails
 *   (`TlsError`): they are never taken as protected.
 *
 * @example Send a line over a plain connection
 * ```ts
 * import { bunConnector } from "@mailwire/mailwire/tls";
 *
 * async function quit(port: number) {
 *   const conn = await bunConnector({ hostname: "localhost", port, tls: "none" });
 *   const writer = conn.writable.getWriter();
 *   await writer.write(new TextEncoder().encode("QUIT\r\n"));
 *   writer.releaseLock();
 *   await conn.close();
 * }
 * console.log(typeof quit); // "function"
 * ```
 */
export const bunConnector: Connector = async (
  target: ConnectTarget,
  signal?: AbortSignal,
): Promise<Conn> => {
  validateTarget(target);
  if (signal?.aborted) throw abortedError(signal, "connect");
  const place = where(target);
  const bun = bunGlobal();
  if (bun === undefined) {
    throw new ConnectError(
      `cannot connect to ${place}: the bun connector needs bun; use the default connector`,
    );
  }
  if (target.localAddress !== undefined || target.localPort !== undefined) {
    throw new ConnectError(
      `cannot connect to ${place}: bun.connect cannot bind a local address or port; use nodeConnector (the default connector does)`,
    );
  }
  const link = new Link();
  const opening = bun.connect(
    target.path !== undefined
      ? { unix: target.path, socket: handlers, data: link }
      : {
        hostname: target.hostname,
        port: target.port,
        socket: handlers,
        data: link,
      },
  );
  const socket = await new Promise<BunSocket>((resolve, reject) => {
    const onAbort = () => {
      reject(abortedError(signal!, "connect"));
      // The socket, if it still opens, is closed at once.
      opening.then((late) => late.terminate(), ignore);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    opening.then(
      (opened) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(opened);
      },
      (cause) => {
        signal?.removeEventListener("abort", onAbort);
        reject(
          new ConnectError(
            `cannot connect to ${place}: ${describeWithCode(cause)}`,
            { cause },
          ),
        );
      },
    );
  });
  if (target.path === undefined) socket.setNoDelay(true);
  const conn = new BunConn(socket, link, place, tlsDefaults(target));
  if (target.tls !== "implicit") return conn;
  return await conn.upgrade({}, signal, "connect");
};

function ignore(): void {}

/** Bun's `node:tls`, for `checkServerIdentity`. */
type NodeTls = {
  checkServerIdentity(host: string, cert: unknown): Error | undefined;
};

/**
 * Why the peer's certificate does not cover the IP address `ip`, or
 * `undefined` when it does.
 */
function checkIpAddress(ip: string, socket: BunSocket): unknown {
  const proc = (globalThis as {
    process?: { getBuiltinModule?(id: string): unknown };
  }).process;
  const nodeTls = proc?.getBuiltinModule?.("node:tls") as NodeTls | undefined;
  if (typeof nodeTls?.checkServerIdentity !== "function") {
    return new Error(
      "cannot check an ip address against the certificate on this runtime",
    );
  }
  return nodeTls.checkServerIdentity(ip, socket.getPeerCertificate(true)) ??
    undefined;
}

type State = "open" | "upgrading" | "upgraded" | "closed";

/** A write the socket took only part of: the rest goes at `drain`. */
interface PendingWrite {
  rest: Uint8Array;
  resolve: () => void;
  reject: (error: unknown) => void;
}

class BunConn implements Conn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly secure: boolean;
  readonly tlsInfo: TlsInfo | undefined;
  #socket: BunSocket;
  #link: Link;
  /** The TCP socket under a TLS socket made by an upgrade. */
  #plain: BunSocket | undefined;
  #where: string;
  #tls: ResolvedTlsOptions;
  #state: State = "open";
  #reads: PullReader;
  #error: MailwireError | null = null;
  #pending: PendingWrite | undefined;
  #writeController!: WritableStreamDefaultController;
  #closing: Promise<void> | undefined;
  /** Set while an upgrade runs: stops it (from `close`). */
  #stopUpgrade: (() => void) | undefined;

  constructor(
    socket: BunSocket,
    link: Link,
    place: string,
    tls: ResolvedTlsOptions,
    secured?: { plain: BunSocket; info: TlsInfo },
  ) {
    this.#socket = socket;
    this.#link = link;
    this.#where = place;
    this.#tls = tls;
    this.#plain = secured?.plain;
    this.secure = secured !== undefined;
    this.tlsInfo = secured?.info;
    this.#reads = new PullReader({
      resume: () => socket.resume(),
      pause: () => socket.pause(),
      error: () => this.#error,
      over: () => link.ended || this.#state !== "open",
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
    socket.pause();
    for (const early of link.early) this.#reads.take(early);
    link.early = [];
    if (link.error !== undefined) this.failed(link.error);
    link.conn = this;
  }

  /** From the socket's `data` handler. */
  received(data: Uint8Array): void {
    this.#socket.pause();
    this.#reads.take(data);
  }

  /** From the socket's `end` and `close` handlers. */
  ended(): void {
    if (this.#link.isClosed) this.#dropPending();
    this.#reads.settle();
  }

  /** From the socket's `error` handler. */
  failed(cause: unknown): void {
    if (this.#state === "open" && !this.#link.ended) {
      this.#error ??= ioError(cause, this.#where);
    }
    this.#dropPending();
    this.#reads.settle();
  }

  /** Fails the write waiting for `drain`, if any. */
  #dropPending(): void {
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(
      this.#error ?? new ConnectionClosedError("connection closed"),
    );
  }

  /** From the socket's `drain` handler: the rest of a partial write. */
  drained(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    const n = this.#socket.write(pending.rest);
    if (n < 0) {
      this.#dropPending();
    } else if (n >= pending.rest.byteLength) {
      this.#pending = undefined;
      pending.resolve();
    } else {
      pending.rest = pending.rest.subarray(n);
    }
  }

  #write(chunk: Uint8Array): Promise<void> | undefined {
    if (!(chunk instanceof Uint8Array)) {
      return Promise.reject(new TypeError("chunk must be a Uint8Array"));
    }
    if (this.#error !== null) return Promise.reject(this.#error);
    if (this.#state !== "open" || this.#link.isClosed) {
      return Promise.reject(new ConnectionClosedError("connection closed"));
    }
    const n = this.#socket.write(chunk);
    // Taken whole: done. A later failure to send shows on the next read or
    // write.
    if (n >= chunk.byteLength) return undefined;
    if (n < 0) {
      return Promise.reject(
        this.#error ?? new ConnectionClosedError("connection closed"),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.#pending = { rest: chunk.subarray(n), resolve, reject };
    });
  }

  #closeWrite(): Promise<void> {
    if (this.#state !== "open" || this.#link.isClosed) {
      return Promise.resolve();
    }
    // Sends FIN (or close_notify) after what was written.
    this.#socket.end();
    return Promise.resolve();
  }

  /** Detaches the streams from the socket and ends both. */
  #detach(reason: string): void {
    this.#link.conn = undefined;
    this.#reads.end();
    attempt(() =>
      this.#writeController.error(new ConnectionClosedError(reason))
    );
  }

  /** Closes the socket at once and returns `error`, for `throw`. */
  #fail(error: MailwireError): MailwireError {
    this.#state = "closed";
    this.#closing ??= Promise.resolve();
    this.#socket.terminate();
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
      writing: this.#pending !== undefined,
    });
    if (refusal) {
      throw refusal.close ? this.#fail(refusal.error) : refusal.error;
    }
    if (this.#reads.held > 0) {
      throw this.#fail(
        new ProtocolError("server sent data before the tls handshake"),
      );
    }
    if (this.#error !== null) throw this.#fail(this.#error);
    if (this.#link.ended) {
      throw this.#fail(new ConnectionClosedError("connection closed"));
    }
    if (signal?.aborted) {
      throw this.#fail(abortedError(signal, "tls handshake"));
    }

    const tls = mergeTlsOptions(this.#tls, options);
    const verify = tls.allowInvalidCertificates !== true;
    const name = tls.servername;
    const place = this.#where;
    const socket = this.#socket;
    this.#state = "upgrading";
    this.#detach("connection upgraded to tls");
    // The plain socket's handlers still see the encrypted bytes: ignored.
    this.#link.detached = true;
    const link = new Link();
    link.tls = true;
    let secure: BunSocket;
    try {
      [, secure] = socket.upgradeTLS({
        tls: {
          serverName: isIpLiteral(name) ? undefined : name,
          ca: tls.caCerts,
          rejectUnauthorized: verify,
        },
        socket: handlers,
        data: link,
      });
    } catch (cause) {
      // e.g. a caCerts entry that is not a certificate
      this.#state = "closed";
      this.#closing ??= Promise.resolve();
      socket.terminate();
      throw handshakeError(place, phase, name, cause);
    }
    try {
      await new Promise<void>((resolve, reject) => {
        const cleanup = () => {
          signal?.removeEventListener("abort", onAbort);
          link.handshake = undefined;
          this.#stopUpgrade = undefined;
        };
        const fail = (error: MailwireError) => {
          cleanup();
          reject(error);
          secure.terminate();
          socket.terminate();
        };
        const onAbort = () => fail(abortedError(signal!, "tls handshake"));
        link.handshake = (ok, cause) => {
          // Unverified but complete (a cipher was agreed): accepted when
          // verification is off. A failed handshake (clear text, a close)
          // reports `ok` false too, with no cipher.
          const complete = !link.isClosed && link.error === undefined &&
            Boolean(secure.getCipher()?.name);
          if (ok || (!verify && complete)) {
            cleanup();
            resolve();
          } else if (link.isClosed && (cause === undefined || cause === null)) {
            fail(
              handshakeError(place, phase, name, undefined, {
                detail: "connection closed by the server",
              }),
            );
          } else {
            fail(handshakeError(place, phase, name, cause));
          }
        };
        this.#stopUpgrade = () =>
          fail(
            new ConnectionClosedError(
              "connection closed during the tls handshake",
            ),
          );
        signal?.addEventListener("abort", onAbort, { once: true });
      });
      // Bun checks an IP address given as servername against nothing (it
      // sends no SNI and verifies the hostname it connected to): node:tls's
      // checkServerIdentity checks the certificate's IP entries.
      const mismatch = verify && isIpLiteral(name)
        ? checkIpAddress(name, secure)
        : undefined;
      if (mismatch !== undefined) {
        secure.terminate();
        socket.terminate();
        throw handshakeError(place, phase, name, mismatch);
      }
      if (verify && secure.authorized !== true) {
        secure.terminate();
        socket.terminate();
        const reason = secure.authorizationError ??
          secure.getAuthorizationError?.();
        throw handshakeError(place, phase, name, reason, {
          detail: `certificate not verified: ${
            describeWithCode(reason ?? "unknown reason")
          }`,
        });
      }
      this.#state = "upgraded";
      return new BunConn(secure, link, place, tls, {
        plain: socket,
        info: tlsInfoOf(secure, verify),
      });
    } catch (error) {
      // Both sockets are closed already: close() has nothing to wait for.
      this.#state = "closed";
      this.#closing ??= Promise.resolve();
      throw error;
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
    const link = this.#link;
    this.#closing = new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        link.closed = undefined;
        plain?.terminate();
        resolve();
      };
      const timer = setTimeout(() => {
        socket.terminate();
        done();
      }, CLOSE_GRACE_MS);
      if (link.isClosed) {
        done();
        return;
      }
      link.closed = done;
      // Flush what was written, send FIN (or close_notify), then let go.
      socket.end();
    });
    this.#dropPending();
    this.#detach("connection closed");
    return this.#closing;
  }
}
