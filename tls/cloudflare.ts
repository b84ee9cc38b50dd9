/**
 * The Cloudflare Workers connector: the `connect` of `cloudflare:sockets`
 * (workerd), wrapped in a pull-based {@linkcode Conn}.
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
  CLOSE_GRACE_MS,
  describe,
  handshakeError,
  mergeTlsOptions,
  type ResolvedTlsOptions,
  tlsDefaults,
  upgradeRefusal,
  where,
} from "./_util.ts";
import { validateTarget } from "./validate_target.ts";

/**
 * The part of a `cloudflare:sockets` `Socket` this connector uses (declared
 * here so that mailwire needs no Workers type package).
 *
 * @example The shape, as a type
 * ```ts
 * import type { CloudflareSocket } from "@mailwire/mailwire/tls";
 * function remote(socket: CloudflareSocket): Promise<unknown> {
 *   return socket.opened; // resolves at connect (or after the handshake)
 * }
 * console.log(typeof remote); // "function"
 * ```
 */
export interface CloudflareSocket {
  /** Bytes from the peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
  /** Resolves once connected (TCP; after the handshake for TLS). */
  readonly opened: Promise<unknown>;
  /** Resolves when the socket is closed. */
  readonly closed: Promise<void>;
  /** Closes the socket. */
  close(): Promise<void>;
  /** Upgrades a socket opened with `secureTransport: "starttls"`. */
  startTls(options?: { expectedServerHostname?: string }): CloudflareSocket;
}

/**
 * The `connect` function of `cloudflare:sockets`, as this connector calls
 * it. The `connect` of `@cloudflare/workers-types` fits it as is.
 *
 * @example
 * ```ts
 * import type { CloudflareConnect } from "@mailwire/mailwire/tls";
 * const options: Parameters<CloudflareConnect>[1] = {
 *   secureTransport: "starttls",
 *   allowHalfOpen: false,
 * };
 * console.log(options?.secureTransport); // "starttls"
 * ```
 */
export type CloudflareConnect = (
  address: { hostname: string; port: number },
  options?: {
    secureTransport?: "off" | "on" | "starttls";
    allowHalfOpen: boolean;
  },
) => CloudflareSocket;

/** What workerd puts in every TLS failure it lets JavaScript see. */
const OPAQUE = /^internal error; reference = /;
/** What workerd says for a refused, unreachable or disallowed address. */
const PROXY_FAILED = /proxy request failed/;

/** An error of `connect()` or of a plain socket's `opened`. */
function connectError(target: ConnectTarget, cause: unknown): ConnectError {
  const text = describe(cause);
  const detail = PROXY_FAILED.test(text)
    ? `refused, unreachable, or not allowed by the worker's outbound network (workerd says: ${text})`
    : text;
  return new ConnectError(`cannot connect to ${where(target)}: ${detail}`, {
    cause,
  });
}

/** The `TlsError` for a failed handshake (workerd hides the cause). */
function workerdHandshakeError(
  place: string,
  phase: "connect" | "upgrade",
  servername: string,
  cause: unknown,
): TlsError {
  const text = describe(cause);
  if (!OPAQUE.test(text)) {
    return handshakeError(place, phase, servername, cause);
  }
  return handshakeError(place, phase, servername, cause, {
    reason: "other",
    detail:
      `workerd reports only ${
        JSON.stringify(text)
      }; the cause is in workerd's log under that reference (an untrusted certificate, ` +
      `a certificate not valid for ${
        JSON.stringify(servername)
      }, or a peer that does not speak tls; ` +
      `a private ca must be trusted by the runtime: workerd's tlsOptions.trustedCertificates)`,
  });
}

/**
 * Makes a {@linkcode Connector} for Cloudflare Workers from the `connect`
 * of `cloudflare:sockets`. Import `connect` in your Worker and pass it in:
 * mailwire itself never imports `cloudflare:*`, so the same package runs
 * everywhere.
 *
 * How it uses workerd's sockets (and what workerd cannot do):
 * - Every socket that may carry TLS is opened with
 *   `secureTransport: "starttls"`; implicit TLS (465, 995) is an upgrade
 *   right after the TCP connect, before any byte is read. (`"on"` would
 *   report a refused port and a failed handshake with the same
 *   `proxy request failed` error, and cannot verify another name than the
 *   address.) `tls: "none"` opens with `"off"`.
 * - The name verified is `servername` (default: `hostname`), sent as
 *   `expectedServerHostname`. workerd logs "startTls called with
 *   unsupported expectedServerHostname option" and honours it anyway.
 * - Certificates are always verified. `caCerts` and
 *   `allowInvalidCertificates: true` cannot be set per connection on
 *   Workers: both throw a `TlsError` (nothing is silently ignored). A
 *   private CA is trusted by the runtime: in workerd, the network service
 *   the worker uses as `globalOutbound`, with
 *   `tlsOptions = (trustedCertificates = [ embed "ca.pem" ])`.
 * - A failed handshake reaches JavaScript only as
 *   `internal error; reference = …`: the `TlsError` says so (its `reason` is
 *   `"other"`) and the cause is in workerd's log under that reference.
 * - STARTTLS injection: a Worker cannot see bytes the server sent before
 *   the handshake (no way to peek at the socket). They reach the TLS
 *   handshake instead, which fails with a `TlsError`: the injection never
 *   succeeds, but it is reported as a failed handshake, not a
 *   `ProtocolError`.
 * - `startTls` runs with no read in flight and both locks released (else
 *   workerd returns a socket that never opens); the old socket's `closed`
 *   resolving after the upgrade is not a disconnect.
 * - `close()` gives up after a bounded wait: workerd's `close()` can hang
 *   after a `startTls` whose handshake never completed.
 * - No Unix sockets (`path`) and no local binding (`localAddress`,
 *   `localPort`): both throw a `ConnectError` naming Workers.
 * - {@linkcode Conn.tlsInfo} says only `verified: true` (workerd exposes no
 *   protocol, cipher or certificate).
 *
 * @example A Worker that sends a message
 * ```ts
 * import { cloudflareConnector, type CloudflareConnect } from "@mailwire/mailwire/tls";
 * import { SmtpClient } from "@mailwire/mailwire/smtp";
 *
 * // In a Worker: import { connect } from "cloudflare:sockets";
 * async function send(connect: CloudflareConnect, password: string) {
 *   const smtp = await SmtpClient.connect({
 *     hostname: "smtp.example.com",
 *     port: 587,
 *     auth: { username: "me@example.com", password },
 *     connector: cloudflareConnector(connect),
 *   });
 *   try {
 *     await smtp.sendMail({
 *       from: "me@example.com",
 *       to: ["you@example.com"],
 *       data: "Subject: hi\r\n\r\nfrom a worker\r\n",
 *     });
 *   } finally {
 *     await smtp.quit();
 *   }
 * }
 * console.log(typeof send); // "function"
 * ```
 */
export function cloudflareConnector(connect: CloudflareConnect): Connector {
  if (typeof connect !== "function") {
    throw new TypeError(
      'cloudflareConnector expects the connect function of "cloudflare:sockets"',
    );
  }
  return async (
    target: ConnectTarget,
    signal?: AbortSignal,
  ): Promise<Conn> => {
    validateTarget(target);
    if (signal?.aborted) throw abortedError(signal, "connect");
    if (target.path !== undefined) {
      throw new ConnectError(
        `cannot connect to ${target.path}: cloudflare workers have no unix sockets`,
      );
    }
    if (target.localAddress !== undefined || target.localPort !== undefined) {
      throw new ConnectError(
        `cannot connect to ${
          where(target)
        }: cloudflare workers cannot bind a local address or port (cloudflare:sockets has no such option)`,
      );
    }
    if (target.tls !== "none") unsupportedTls(target);
    let socket: CloudflareSocket;
    try {
      socket = connect({ hostname: target.hostname, port: target.port }, {
        secureTransport: target.tls === "none" ? "off" : "starttls",
        // A peer's end of stream ends the connection (mail protocols
        // never half-close).
        allowHalfOpen: false,
      });
    } catch (cause) {
      throw connectError(target, cause);
    }
    try {
      await settle(socket.opened, signal, () => closeBounded(socket));
    } catch (error) {
      if (error instanceof MailwireError) {
        throw error instanceof AbortedByCaller
          ? abortedError(signal!, "connect")
          : error;
      }
      void closeBounded(socket);
      throw connectError(target, error);
    }
    const conn = new CloudflareConn(socket, where(target), tlsDefaults(target));
    if (target.tls !== "implicit") return conn;
    return await conn.upgrade({}, signal, "connect");
  };
}

/** Refuses the TLS options workerd cannot apply per connection. */
function unsupportedTls(options: TlsOptions): void {
  if (options.allowInvalidCertificates) {
    throw new TlsError(
      "allowInvalidCertificates is not supported on cloudflare workers: certificates are always verified",
    );
  }
  if (options.caCerts !== undefined) {
    throw new TlsError(
      "caCerts cannot be set per connection on cloudflare workers: the runtime decides which cas are trusted (workerd: the network service's tlsOptions.trustedCertificates)",
    );
  }
}

/** Marks the rejection `settle` makes when the signal fires. */
class AbortedByCaller extends MailwireError {}

/**
 * Waits for `promise`, or for `signal` (then calls `onAbort` and rejects
 * with {@linkcode AbortedByCaller}).
 */
function settle<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort: () => void,
  stop?: (reject: (error: MailwireError) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort();
      reject(new AbortedByCaller("aborted"));
    };
    signal?.addEventListener("abort", abort, { once: true });
    stop?.((error) => {
      signal?.removeEventListener("abort", abort);
      reject(error);
    });
    promise.then(
      (value) => {
        signal?.removeEventListener("abort", abort);
        resolve(value);
      },
      (error) => {
        signal?.removeEventListener("abort", abort);
        reject(error);
      },
    );
  });
}

/** `socket.close()`, given up on after {@linkcode CLOSE_GRACE_MS}. */
function closeBounded(socket: CloudflareSocket): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, CLOSE_GRACE_MS);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    try {
      socket.close().then(done, done);
    } catch {
      done();
    }
  });
}

type State = "open" | "upgrading" | "upgraded" | "closed";

class CloudflareConn implements Conn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly secure: boolean;
  readonly tlsInfo: TlsInfo | undefined;
  #socket: CloudflareSocket;
  #where: string;
  #tls: ResolvedTlsOptions;
  #state: State = "open";
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #reading = false;
  #writing = 0;
  #readController!: ReadableStreamDefaultController<Uint8Array>;
  #writeController!: WritableStreamDefaultController;
  #closing: Promise<void> | undefined;
  /** Set while an upgrade runs: stops it (from `close`). */
  #stopUpgrade: (() => void) | undefined;

  constructor(
    socket: CloudflareSocket,
    place: string,
    tls: ResolvedTlsOptions,
    info?: TlsInfo,
  ) {
    this.#socket = socket;
    this.#where = place;
    this.#tls = tls;
    this.secure = info !== undefined;
    this.tlsInfo = info;
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#readController = controller;
      },
      pull: (controller) => this.#pull(controller),
      cancel: () => {
        // The reader gave up. A read already made on the socket stays in
        // flight (and startTls refuses); the writable stays usable.
      },
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

  async #pull(
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    if (this.#state !== "open") {
      attempt(() => controller.close());
      return;
    }
    this.#reader ??= this.#socket.readable.getReader();
    this.#reading = true;
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await this.#reader.read();
    } catch (cause) {
      this.#reading = false;
      if (this.#state === "open") {
        attempt(() => controller.error(this.#ioError(cause)));
      } else {
        attempt(() => controller.close());
      }
      return;
    } finally {
      this.#reading = false;
    }
    if (result.done || this.#state !== "open") {
      // Bytes read as the connection was closed: dropped.
      attempt(() => controller.close());
      return;
    }
    const value: unknown = result.value;
    const chunk = value instanceof Uint8Array
      ? value
      : new Uint8Array(value as ArrayBuffer);
    // Throws if the reader cancelled meanwhile: the bytes are dropped.
    attempt(() => controller.enqueue(chunk));
  }

  #ioError(cause: unknown): MailwireError {
    if (cause instanceof MailwireError) return cause;
    return new ConnectionClosedError(
      `connection to ${this.#where} lost: ${describe(cause)}`,
      { cause },
    );
  }

  async #write(chunk: Uint8Array): Promise<void> {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError("chunk must be a Uint8Array");
    }
    if (this.#state !== "open") {
      throw new ConnectionClosedError("connection closed");
    }
    this.#writer ??= this.#socket.writable.getWriter();
    this.#writing++;
    try {
      await this.#writer.write(chunk);
    } catch (cause) {
      if (this.#state !== "open") {
        throw new ConnectionClosedError("connection closed", { cause });
      }
      throw this.#ioError(cause);
    } finally {
      this.#writing--;
    }
  }

  async #closeWrite(): Promise<void> {
    if (this.#state !== "open") return;
    this.#writer ??= this.#socket.writable.getWriter();
    try {
      await this.#writer.close();
    } catch (cause) {
      throw this.#ioError(cause);
    }
  }

  /** Ends both streams after a close or an upgrade. */
  #endStreams(reason: string): void {
    attempt(() => this.#readController.close());
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
      writing: this.#writing > 0,
    });
    if (refusal) {
      throw refusal.close ? this.#fail(refusal.error) : refusal.error;
    }
    const tls = mergeTlsOptions(this.#tls, options);
    try {
      unsupportedTls(tls);
    } catch (error) {
      throw this.#fail(error as TlsError);
    }
    if (signal?.aborted) {
      throw this.#fail(abortedError(signal, "tls handshake"));
    }
    // workerd: no lock may be held at startTls (else the new socket never
    // opens), and no read may be in flight (checked above).
    this.#reader?.releaseLock();
    this.#writer?.releaseLock();
    this.#reader = undefined;
    this.#writer = undefined;
    this.#state = "upgrading";
    this.#endStreams("connection upgraded to tls");
    let secure: CloudflareSocket;
    try {
      secure = this.#socket.startTls({
        expectedServerHostname: tls.servername,
      });
    } catch (cause) {
      // e.g. a socket opened with tls: "none" ("secureTransport ... must be
      // set to 'starttls'")
      this.#state = "closed";
      void closeBounded(this.#socket);
      throw handshakeError(this.#where, phase, tls.servername, cause);
    }
    try {
      // The upgraded socket opens once the handshake is verified.
      await settle(
        secure.opened,
        signal,
        () => void closeBounded(secure),
        (reject) => {
          this.#stopUpgrade = () => {
            void closeBounded(secure);
            reject(
              new ConnectionClosedError(
                "connection closed during the tls handshake",
              ),
            );
          };
        },
      );
    } catch (error) {
      this.#state = "closed";
      void closeBounded(secure);
      if (error instanceof AbortedByCaller) {
        throw abortedError(signal!, "tls handshake");
      }
      if (error instanceof MailwireError) throw error;
      throw workerdHandshakeError(this.#where, phase, tls.servername, error);
    } finally {
      this.#stopUpgrade = undefined;
    }
    this.#state = "upgraded";
    return new CloudflareConn(secure, this.#where, tls, { verified: true });
  }

  close(): Promise<void> {
    if (this.#state === "upgrading") {
      this.#stopUpgrade?.();
      return Promise.resolve();
    }
    if (this.#state === "upgraded") return Promise.resolve();
    if (this.#closing) return this.#closing;
    this.#state = "closed";
    this.#endStreams("connection closed");
    this.#closing = closeBounded(this.#socket);
    return this.#closing;
  }
}
