/**
 * The Deno connector: `Deno.connect` + `Deno.startTls`, wrapped in a
 * pull-based {@linkcode Conn}.
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
  MailwireError,
  TlsError,
} from "../errors.ts";
import {
  abortedError,
  attempt,
  describe,
  handshakeError,
  mergeTlsOptions,
  type ResolvedTlsOptions,
  tlsDefaults,
  tlsFailure,
  upgradeRefusal,
  where,
} from "./_util.ts";
import { validateTarget } from "./validate_target.ts";

/** Bytes asked of the socket per read when the consumer brings no buffer. */
const READ_SIZE = 16 * 1024;

/**
 * Opens connections with Deno's own socket API: `Deno.connect` (with
 * `TCP_NODELAY`), `Deno.startTls` for implicit TLS and for upgrades, and
 * `Deno.connect({ transport: "unix" })` when `path` is set.
 *
 * - The TLS handshake completes (and the certificate is verified) before the
 *   promise resolves, so a bad certificate is a `TlsError` here, not on the
 *   first read. `caCerts` are trusted in addition to the built-in roots.
 * - `allowInvalidCertificates: true` cannot be honoured per connection on
 *   Deno (only the process-wide `--unsafely-ignore-certificate-errors` flag
 *   exists): the connector throws a `TlsError` instead of silently
 *   verifying. Trust the server's CA with `caCerts`, or use
 *   {@linkcode nodeConnector} under Deno's Node compatibility.
 * - Reads are made only while a consumer waits for one, never ahead, so
 *   `startTls` never races a pending read (`Deno.errors.Busy`).
 * - TLS over a Unix socket is refused with a `TlsError` (`Deno.startTls`
 *   accepts TCP connections only).
 * - Known Deno limitation (2.9): a TLS handshake the server never answers
 *   cannot be cancelled at the socket level. An abort or `close()` makes
 *   the connect or `startTls` call fail at once, but the TCP socket stays
 *   open until the server closes it.
 * - A TLS peer closing without `close_notify` ends the readable like a
 *   clean close (as on Node and Bun) instead of erroring it.
 * - A bytes-level injection before a STARTTLS upgrade cannot be seen on Deno
 *   (there is no way to peek at the socket); the injected bytes reach the
 *   TLS handshake instead, which then fails with a `TlsError` (`reason`
 *   `"not-tls"`).
 * - `Deno.connect` cannot bind a local address or port: `localAddress` /
 *   `localPort` throw a `ConnectError` ({@linkcode defaultConnector} sends
 *   such targets to {@linkcode nodeConnector}, which binds them on Deno too).
 * - After a handshake, {@linkcode Conn.tlsInfo} holds what Deno tells:
 *   `verified` and `alpnProtocol` (no protocol version, cipher or peer
 *   certificate: `Deno.TlsConn` does not expose them).
 *
 * @example Send a line over a plain connection
 * ```ts
 * import { denoConnector } from "@mailwire/mailwire/tls";
 *
 * async function quit(port: number) {
 *   const conn = await denoConnector({ hostname: "localhost", port, tls: "none" });
 *   const writer = conn.writable.getWriter();
 *   await writer.write(new TextEncoder().encode("QUIT\r\n"));
 *   writer.releaseLock();
 *   await conn.close();
 * }
 * console.log(typeof quit); // "function"
 * ```
 */
export const denoConnector: Connector = async (
  target: ConnectTarget,
  signal?: AbortSignal,
): Promise<Conn> => {
  validateTarget(target);
  if (signal?.aborted) throw abortedError(signal, "connect");
  if (target.tls !== "none" && target.allowInvalidCertificates) {
    throw unsupportedInsecure();
  }
  if (target.localAddress !== undefined || target.localPort !== undefined) {
    throw new ConnectError(
      `cannot connect to ${
        where(target)
      }: the deno connector cannot bind a local address or port (Deno.connect has no such option); defaultConnector uses node:net for localAddress/localPort on deno`,
    );
  }
  let socket: Deno.TcpConn | Deno.UnixConn;
  try {
    socket = target.path !== undefined
      ? await Deno.connect({ transport: "unix", path: target.path })
      : await Deno.connect({
        hostname: target.hostname,
        port: target.port,
        signal,
      });
  } catch (cause) {
    if (signal?.aborted) throw abortedError(signal, "connect");
    throw new ConnectError(
      `cannot connect to ${where(target)}: ${describe(cause)}`,
      { cause },
    );
  }
  if (signal?.aborted) {
    attempt(() => socket.close());
    throw abortedError(signal, "connect");
  }
  if ("setNoDelay" in socket) socket.setNoDelay(true);
  const conn = new DenoConn(socket, where(target), tlsDefaults(target));
  if (target.tls !== "implicit") return conn;
  return await conn.upgrade({}, signal, "connect");
};

function unsupportedInsecure(): TlsError {
  return new TlsError(
    "allowInvalidCertificates is not supported by the deno connector; trust the server's ca with caCerts instead",
  );
}

/** Maps an error of the read or write of an established connection to `place`. */
function ioError(cause: unknown, place: string): MailwireError {
  if (cause instanceof MailwireError) return cause;
  if (cause instanceof Deno.errors.InvalidData) {
    return new TlsError(`tls error on ${place}: ${describe(cause)}`, {
      cause,
      reason: tlsFailure(cause),
    });
  }
  return new ConnectionClosedError(
    `connection to ${place} lost: ${describe(cause)}`,
    { cause },
  );
}

type State = "open" | "upgrading" | "upgraded" | "closed";

class DenoConn implements Conn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly secure: boolean;
  readonly tlsInfo: TlsInfo | undefined;
  #socket: Deno.Conn;
  #where: string;
  #tls: ResolvedTlsOptions;
  #state: State = "open";
  #reading = false;
  #writing = false;
  #readController!: ReadableByteStreamController;
  #writeController!: WritableStreamDefaultController;
  /** Set while an upgrade runs: stops it (from `close`). */
  #stopUpgrade: (() => void) | undefined;

  constructor(
    socket: Deno.Conn,
    place: string,
    tls: ResolvedTlsOptions,
    info?: TlsInfo,
  ) {
    this.#socket = socket;
    this.#where = place;
    this.secure = info !== undefined;
    this.tlsInfo = info;
    this.#tls = tls;
    this.readable = new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: READ_SIZE,
      start: (controller) => {
        this.#readController = controller;
      },
      pull: (controller) => this.#pull(controller),
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writeController = controller;
      },
      write: (chunk) => this.#write(chunk),
      close: () => this.#closeWrite(),
      abort: () => this.close(),
    });
  }

  async #pull(controller: ReadableByteStreamController): Promise<void> {
    const request = controller.byobRequest;
    if (request?.view == null) return;
    const view = request.view;
    const buffer = new Uint8Array(
      view.buffer,
      view.byteOffset,
      view.byteLength,
    );
    this.#reading = true;
    let read: number | null;
    try {
      read = await this.#socket.read(buffer);
    } catch (cause) {
      this.#reading = false;
      if (this.secure && cause instanceof Deno.errors.UnexpectedEof) {
        // The peer closed without a TLS close_notify. Mail servers often do
        // after QUIT; the protocols frame their data, so a truncation shows
        // anyway. Node and Bun report a plain end here too.
        endReadable(controller);
      } else if (this.#state === "open") {
        attempt(() => controller.error(ioError(cause, this.#where)));
      } else {
        endReadable(controller);
      }
      return;
    }
    this.#reading = false;
    if (read === null) {
      endReadable(controller);
    } else if (this.#state !== "open") {
      // Bytes read as the connection was closed or upgraded: dropped.
      endReadable(controller);
    } else {
      // Throws if the reader cancelled meanwhile: the bytes are dropped.
      attempt(() => request.respond(read));
    }
  }

  async #write(chunk: Uint8Array): Promise<void> {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError("chunk must be a Uint8Array");
    }
    if (this.#state !== "open") {
      throw new ConnectionClosedError("connection closed");
    }
    this.#writing = true;
    try {
      let written = 0;
      while (written < chunk.byteLength) {
        written += await this.#socket.write(chunk.subarray(written));
      }
    } catch (cause) {
      if (this.#state !== "open") {
        throw new ConnectionClosedError("connection closed", { cause });
      }
      throw ioError(cause, this.#where);
    } finally {
      this.#writing = false;
    }
  }

  async #closeWrite(): Promise<void> {
    if (this.#state !== "open") return;
    try {
      await this.#socket.closeWrite();
    } catch (cause) {
      throw ioError(cause, this.#where);
    }
  }

  /** Ends both streams after a close or an upgrade. */
  #endStreams(reason: string): void {
    if (!this.#reading) endReadable(this.#readController);
    attempt(() =>
      this.#writeController.error(new ConnectionClosedError(reason))
    );
  }

  /** Closes the connection and returns `error`, for `throw`. */
  #fail(error: MailwireError): MailwireError {
    void this.close();
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
      reading: this.#reading,
      writing: this.#writing,
    });
    if (refusal) {
      throw refusal.close ? this.#fail(refusal.error) : refusal.error;
    }
    if (this.#socket.remoteAddr.transport === "unix") {
      // Deno.startTls takes TCP connections only ("bad resource ID").
      throw this.#fail(
        new TlsError("the deno connector cannot start tls on a unix socket"),
      );
    }
    const tls = mergeTlsOptions(this.#tls, options);
    if (tls.allowInvalidCertificates) throw this.#fail(unsupportedInsecure());
    if (signal?.aborted) {
      throw this.#fail(abortedError(signal, "tls handshake"));
    }

    this.#state = "upgrading";
    this.#endStreams("connection upgraded to tls");
    let stopped: "closed" | "aborted" | undefined;
    let tlsSocket: Deno.TlsConn | undefined;
    let alpnProtocol: string | null = null;
    const stop = (why: "closed" | "aborted") => {
      stopped ??= why;
      if (tlsSocket) attempt(() => tlsSocket!.close());
    };
    const onAbort = () => stop("aborted");
    this.#stopUpgrade = () => stop("closed");
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      tlsSocket = await Deno.startTls(this.#socket as Deno.TcpConn, {
        hostname: tls.servername,
        caCerts: tls.caCerts,
      });
      if (stopped) throw new Error("stopped");
      ({ alpnProtocol } = await tlsSocket.handshake());
      if (stopped) throw new Error("stopped");
    } catch (cause) {
      this.#state = "closed";
      if (tlsSocket) attempt(() => tlsSocket!.close());
      else attempt(() => this.#socket.close());
      if (stopped === "aborted" && signal) {
        throw abortedError(signal, "tls handshake");
      }
      if (stopped === "closed") {
        throw new ConnectionClosedError(
          "connection closed during the tls handshake",
        );
      }
      throw handshakeError(this.#where, phase, tls.servername, cause);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#stopUpgrade = undefined;
    }
    this.#state = "upgraded";
    return new DenoConn(tlsSocket, this.#where, tls, {
      verified: true,
      alpnProtocol: alpnProtocol ?? undefined,
    });
  }

  close(): Promise<void> {
    if (this.#state === "upgrading") {
      this.#stopUpgrade?.();
    } else if (this.#state === "open") {
      this.#state = "closed";
      attempt(() => this.#socket.close());
      this.#endStreams("connection closed");
    }
    return Promise.resolve();
  }
}

/** Closes a byte stream, completing a pending read with `done`. */
function endReadable(controller: ReadableByteStreamController): void {
  attempt(() => controller.close());
  attempt(() => controller.byobRequest?.respond(0));
}
