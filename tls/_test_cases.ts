// Test-only: the cases every connector passes, run by deno_test.ts and
// node_test.ts (and, later, by the Workers connector's tests).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Conn, Connector, ConnectTarget } from "./conn.ts";
import {
  AbortedError,
  ConnectError,
  ConnectionClosedError,
  MailwireError,
  type ProtocolError,
  TlsError,
} from "../errors.ts";
import {
  certs,
  closedPort,
  delay,
  echo,
  lineReader,
  listen,
  type ListenOptions,
  receive,
  receiveAll,
  send,
  type TestServer,
} from "./_test_servers.ts";

/** How a connector is expected to differ, and what to skip where. */
export interface CaseOptions {
  /** Why every case is skipped on this runtime, or `false`. */
  skip: string | false;
  /** Cases skipped on this runtime (case name → reason). */
  quirks?: Record<string, string | false>;
  /** What `startTls` throws when the peer sent bytes before the handshake. */
  injection: typeof ProtocolError | typeof TlsError;
  /** Whether `allowInvalidCertificates: true` is honoured. */
  insecure: boolean;
  /** Whether TLS can run over a Unix socket. */
  unixTls: boolean;
  /** Bytes received but not yet read, when the connector can tell. */
  buffered?: (conn: Conn) => number;
}

const ca = [certs.ca];

/** Fails a case that hangs instead of hanging the run. */
async function withTimeout(label: string, run: Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${label}: still running after 10 s`)),
      10_000,
    );
  });
  try {
    await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Registers the shared connector cases under `describe(name)`. */
export function connectorCases(
  name: string,
  connector: Connector,
  options: CaseOptions,
): void {
  const skip = (label: string) =>
    options.skip || (options.quirks?.[label] ?? false);
  const it = (label: string, fn: () => Promise<void>) =>
    test(label, { skip: skip(label) }, () => withTimeout(label, fn()));

  /** Runs `fn` against a server, closing it (and its sockets) afterwards. */
  const withServer = async (
    listening: Promise<TestServer>,
    fn: (server: TestServer) => Promise<void>,
  ) => {
    const server = await listening;
    try {
      await fn(server);
    } finally {
      await server.close();
    }
  };
  const tcp = (
    server: TestServer,
    extra: Partial<ConnectTarget> = {},
  ): ConnectTarget => ({
    hostname: "127.0.0.1",
    port: server.port,
    tls: "none",
    ...extra,
  });

  /** A STARTTLS-style server: greeting, STARTTLS, go ahead, then `after`. */
  const starttlsServer = (
    after: (socket: Socket, server: TestServer) => void,
    listenOptions?: ListenOptions,
  ) =>
    listen((socket, server) => {
      const lines = lineReader(socket);
      socket.write("220 ready\r\n");
      lines.next().then((line) => {
        if (line !== "STARTTLS") {
          socket.end("500 expected STARTTLS\r\n");
          return;
        }
        lines.stop();
        socket.write("220 go ahead\r\n");
        after(socket, server);
      });
    }, listenOptions);

  /** Connects and goes through the plaintext STARTTLS exchange. */
  const beforeUpgrade = async (
    server: TestServer,
    extra: Partial<ConnectTarget> = {},
  ): Promise<Conn> => {
    const conn = await connector(
      tcp(server, { tls: "starttls-capable", caCerts: ca, ...extra }),
    );
    assert.equal(await receive(conn), "220 ready\r\n");
    await send(conn, "STARTTLS\r\n");
    assert.equal(await receive(conn), "220 go ahead\r\n");
    return conn;
  };

  describe(name, () => {
    it("plain connection: echo round trip", () =>
      withServer(listen(echo), async (server) => {
        const conn = await connector(tcp(server));
        assert.equal(conn.secure, false);
        await send(conn, "hello\r\n");
        assert.equal(await receive(conn), "hello\r\n");
        await conn.close();
      }));

    it("plain connection: 4 MiB both ways (backpressure)", () =>
      withServer(listen(echo), async (server) => {
        const conn = await connector(tcp(server));
        const size = 4 * 1024 * 1024;
        const chunk = new Uint8Array(64 * 1024).map((_, i) => i % 251);
        const writing = (async () => {
          const writer = conn.writable.getWriter();
          for (let sent = 0; sent < size; sent += chunk.byteLength) {
            await writer.write(chunk);
          }
          writer.releaseLock();
        })();
        let received = 0;
        let sum = 0;
        const reader = conn.readable.getReader();
        while (received < size) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const byte of value) sum = (sum + byte) % 1_000_003;
          received += value.byteLength;
        }
        reader.releaseLock();
        await writing;
        assert.equal(received, size);
        let expected = 0;
        for (let i = 0; i < size; i++) {
          expected = (expected + (i % (64 * 1024)) % 251) % 1_000_003;
        }
        assert.equal(sum, expected);
        await conn.close();
      }));

    for (const mode of ["none", "implicit"] as const) {
      it(`small writes are not delayed (TCP_NODELAY), tls: ${mode}`, () =>
        withServer(
          listen((socket) => {
            const lines = lineReader(socket);
            const loop = (): Promise<void> =>
              lines.next().then((line) => {
                socket.write(`250 ${line}\r\n`);
                return loop();
              });
            loop();
          }, mode === "implicit" ? { tls: certs.localhost } : {}),
          async (server) => {
            const conn = await connector(
              tcp(server, { tls: mode, caCerts: ca }),
            );
            // Two writes per round trip: with Nagle's algorithm the second
            // waits for the delayed ACK of the first (40 ms on Linux).
            const start = Date.now();
            for (let i = 0; i < 20; i++) {
              await send(conn, "RCPT TO:<a@example.com>");
              await send(conn, "\r\n");
              assert.equal(
                await receive(conn),
                "250 RCPT TO:<a@example.com>\r\n",
              );
            }
            const elapsed = Date.now() - start;
            assert.ok(elapsed < 400, `20 round trips took ${elapsed} ms`);
            await conn.close();
          },
        ));
    }

    it("peer closing ends the readable", () =>
      withServer(listen((socket) => socket.end("bye\r\n")), async (server) => {
        const conn = await connector(tcp(server));
        assert.equal(await receiveAll(conn), "bye\r\n");
        await conn.close();
      }));

    it("a reset by the peer errors the readable: ConnectionClosedError", () =>
      withServer(
        listen((socket) =>
          socket.write(
            "bye\r\n",
            () => setTimeout(() => socket.resetAndDestroy(), 20),
          )
        ),
        async (server) => {
          const conn = await connector(tcp(server));
          assert.equal(await receive(conn), "bye\r\n");
          await assert.rejects(receiveAll(conn), ConnectionClosedError);
          await conn.close();
        },
      ));

    it("writing to a peer that closed fails: ConnectionClosedError", () =>
      withServer(listen((socket) => socket.destroy()), async (server) => {
        const conn = await connector(tcp(server));
        await delay(50);
        await assert.rejects(async () => {
          for (let i = 0; i < 100; i++) await send(conn, "x".repeat(1000));
        }, ConnectionClosedError);
        await conn.close();
      }));

    it("implicit tls with the test ca: verified, secure", () =>
      withServer(listen(echo, { tls: certs.localhost }), async (server) => {
        const conn = await connector(
          tcp(server, { tls: "implicit", caCerts: ca }),
        );
        assert.equal(conn.secure, true);
        await send(conn, "hello over tls\r\n");
        assert.equal(await receive(conn), "hello over tls\r\n");
        await conn.close();
      }));

    it("implicit tls: 8 MiB from the server, then the end", () =>
      withServer(
        listen((socket) => {
          const chunk = new Uint8Array(64 * 1024).fill(120);
          let left = 128;
          const pump = () => {
            while (left > 0) {
              left--;
              if (!socket.write(chunk)) return void socket.once("drain", pump);
            }
            socket.end();
          };
          pump();
        }, { tls: certs.localhost }),
        async (server) => {
          const conn = await connector(
            tcp(server, { tls: "implicit", caCerts: ca }),
          );
          let received = 0;
          for await (const chunk of conn.readable) received += chunk.byteLength;
          assert.equal(received, 8 * 1024 * 1024);
          await conn.close();
        },
      ));

    it("implicit tls: servername is verified instead of the address", () =>
      withServer(listen(echo, { tls: certs.localhost }), async (server) => {
        const conn = await connector(
          tcp(server, {
            tls: "implicit",
            caCerts: ca,
            servername: "mail.test",
          }),
        );
        assert.equal(conn.secure, true);
        await conn.close();
        await assert.rejects(
          connector(
            tcp(server, {
              tls: "implicit",
              caCerts: ca,
              servername: "wrong.test",
            }),
          ),
          TlsError,
        );
      }));

    it("implicit tls: certificates are verified by default", () =>
      withServer(listen(echo, { tls: certs.localhost }), async (server) => {
        const error = await connector(tcp(server, { tls: "implicit" })).then(
          () => assert.fail("connected to a server signed by an unknown ca"),
          (error: unknown) => error,
        );
        assert.ok(error instanceof TlsError, String(error));
        assert.match(error.message, /^tls handshake failed: /);
      }));

    it("implicit tls: a peer closing without close_notify ends the readable", () =>
      withServer(
        listen(
          (socket) =>
            socket.write(
              "bye\r\n",
              () => setTimeout(() => socket.destroy(), 20),
            ),
          { tls: certs.localhost },
        ),
        async (server) => {
          const conn = await connector(
            tcp(server, { tls: "implicit", caCerts: ca }),
          );
          assert.equal(await receiveAll(conn), "bye\r\n");
          await conn.close();
        },
      ));

    it("implicit tls: a certificate for another host fails", () =>
      withServer(listen(echo, { tls: certs.wronghost }), async (server) => {
        await assert.rejects(
          connector(tcp(server, { tls: "implicit", caCerts: ca })),
          TlsError,
        );
      }));

    it("implicit tls: a certificate from an untrusted ca fails", () =>
      withServer(listen(echo, { tls: certs.untrusted }), async (server) => {
        await assert.rejects(
          connector(tcp(server, { tls: "implicit", caCerts: ca })),
          TlsError,
        );
      }));

    it("implicit tls: allowInvalidCertificates", () =>
      withServer(listen(echo, { tls: certs.untrusted }), async (server) => {
        const target = tcp(server, {
          tls: "implicit",
          allowInvalidCertificates: true,
        });
        if (!options.insecure) {
          await assert.rejects(connector(target), (error: unknown) => {
            assert.ok(error instanceof TlsError);
            assert.match(error.message, /not supported/);
            return true;
          });
          return;
        }
        const conn = await connector(target);
        assert.equal(conn.secure, true);
        await send(conn, "insecure\r\n");
        assert.equal(await receive(conn), "insecure\r\n");
        await conn.close();
      }));

    it("implicit tls: the server closing during the handshake fails", () =>
      withServer(listen((socket) => socket.destroy()), async (server) => {
        await assert.rejects(
          connector(tcp(server, { tls: "implicit", caCerts: ca })),
          TlsError,
        );
      }));

    it("starttls: upgrade after a plaintext exchange, data both ways", () =>
      withServer(
        starttlsServer((socket, server) => echo(server.upgrade(socket))),
        async (server) => {
          const plain = await beforeUpgrade(server);
          assert.equal(plain.secure, false);
          const conn = await plain.startTls({});
          assert.equal(conn.secure, true);
          await send(conn, "EHLO over tls\r\n");
          assert.equal(await receive(conn), "EHLO over tls\r\n");
          // The plain connection is spent: ended, unwritable, close is a no-op.
          const old = await plain.readable.getReader().read();
          assert.equal(old.done, true);
          await assert.rejects(send(plain, "x"), ConnectionClosedError);
          await plain.close();
          await assert.rejects(plain.startTls({}), MailwireError);
          await send(conn, "still here\r\n");
          assert.equal(await receive(conn), "still here\r\n");
          await assert.rejects(conn.startTls({}), TlsError);
          await conn.close();
        },
      ));

    it("starttls: certificates are verified by default", () =>
      withServer(
        starttlsServer((socket, server) => echo(server.upgrade(socket))),
        async (server) => {
          const plain = await beforeUpgrade(server, { caCerts: undefined });
          await assert.rejects(plain.startTls({}), TlsError);
          await plain.close();
        },
      ));

    it("starttls: a certificate for another host fails", () =>
      withServer(
        starttlsServer((socket, server) =>
          echo(server.upgrade(socket, certs.wronghost))
        ),
        async (server) => {
          const plain = await beforeUpgrade(server);
          await assert.rejects(plain.startTls({}), TlsError);
          await plain.close();
        },
      ));

    it("starttls: options override the connect options", () =>
      withServer(
        starttlsServer((socket, server) => echo(server.upgrade(socket))),
        async (server) => {
          const plain = await beforeUpgrade(server, { caCerts: undefined });
          const conn = await plain.startTls({
            caCerts: ca,
            servername: "mail.test",
          });
          await send(conn, "ok\r\n");
          assert.equal(await receive(conn), "ok\r\n");
          await conn.close();
        },
      ));

    it("starttls: bytes sent before the handshake are refused", async () => {
      let injected!: () => void;
      const written = new Promise<void>((resolve) => (injected = resolve));
      await withServer(
        starttlsServer((socket, server) => {
          setTimeout(() => {
            socket.write("250 INJECTED\r\n", () => {
              injected();
              echo(server.upgrade(socket));
            });
          }, 20);
        }),
        async (server) => {
          const plain = await beforeUpgrade(server);
          await written;
          // Let the bytes reach the client (bounded): no read is made.
          const buffered = options.buffered;
          if (buffered) {
            const until = Date.now() + 1000;
            while (buffered(plain) === 0 && Date.now() < until) await delay(5);
            assert.ok(buffered(plain) > 0, "the injected bytes never arrived");
          } else {
            await delay(100);
          }
          await assert.rejects(plain.startTls({}), options.injection);
          // The connection was closed.
          await assert.rejects(send(plain, "x"), ConnectionClosedError);
          await plain.close();
        },
      );
    });

    it("starttls: refused while a read is pending", () =>
      withServer(starttlsServer(() => {}), async (server) => {
        const plain = await connector(tcp(server, { tls: "starttls-capable" }));
        assert.equal(await receive(plain), "220 ready\r\n");
        const reader = plain.readable.getReader();
        const pending = reader.read();
        pending.catch(() => {});
        await delay(20); // the connector is reading from the socket now
        let released = true;
        try {
          reader.releaseLock();
        } catch {
          released = false; // older streams: releaseLock throws with a pending read
        }
        await assert.rejects(plain.startTls({}), (error: unknown) => {
          assert.ok(error instanceof MailwireError, String(error));
          assert.match(
            error.message,
            released
              ? /^cannot start tls while a read is pending$/
              : /^cannot start tls while the streams are locked$/,
          );
          return true;
        });
        await plain.close();
        await pending.then(() => {}, () => {});
      }));

    it("starttls: refused while a stream is locked", () =>
      withServer(starttlsServer(() => {}), async (server) => {
        const plain = await connector(tcp(server, { tls: "starttls-capable" }));
        const writer = plain.writable.getWriter();
        await assert.rejects(
          plain.startTls({}),
          /^MailwireError: cannot start tls while the streams are locked$/,
        );
        writer.releaseLock();
        await plain.close();
      }));

    it("starttls: abort during the handshake", () =>
      withServer(starttlsServer(() => {}), async (server) => {
        const plain = await beforeUpgrade(server);
        const controller = new AbortController();
        setTimeout(() => controller.abort("stop"), 50);
        const start = Date.now();
        await assert.rejects(
          plain.startTls({}, controller.signal),
          (error: unknown) => {
            assert.ok(error instanceof AbortedError, String(error));
            assert.equal(error.cause, "stop");
            return true;
          },
        );
        assert.ok(Date.now() - start < 1000, "abort took too long");
        await plain.close();
      }));

    it("starttls: close during the handshake", () =>
      withServer(starttlsServer(() => {}), async (server) => {
        const plain = await beforeUpgrade(server);
        const start = Date.now();
        const upgrading = plain.startTls({});
        await delay(50);
        await plain.close();
        await assert.rejects(upgrading, ConnectionClosedError);
        assert.ok(Date.now() - start < 1000, "close took too long");
      }));

    it("starttls: an abandoned handshake closes the socket", async () => {
      let peerClosed!: Promise<void>;
      await withServer(
        starttlsServer((socket) => {
          peerClosed = new Promise((resolve) => socket.once("close", resolve));
          socket.resume(); // swallow the ClientHello, see the FIN
        }),
        async (server) => {
          for (const how of ["abort", "close"]) {
            const plain = await beforeUpgrade(server);
            const controller = new AbortController();
            const upgrading = plain.startTls({}, controller.signal);
            upgrading.catch(() => {});
            await delay(50);
            if (how === "abort") controller.abort();
            else await plain.close();
            await upgrading.catch(() => {});
            const start = Date.now();
            const closed = await Promise.race([
              peerClosed.then(() => true),
              delay(1000).then(() => false),
            ]);
            assert.ok(closed, `${how}: the server never saw the socket close`);
            assert.ok(Date.now() - start < 1000);
          }
        },
      );
    });

    it("implicit tls: an aborted handshake closes the socket", async () => {
      let peerClosed!: Promise<void>;
      await withServer(
        listen((socket) => {
          peerClosed = new Promise((resolve) => socket.once("close", resolve));
          socket.resume();
        }),
        async (server) => {
          await assert.rejects(
            connector(
              tcp(server, { tls: "implicit", caCerts: ca }),
              AbortSignal.timeout(50),
            ),
            AbortedError,
          );
          const closed = await Promise.race([
            peerClosed.then(() => true),
            delay(1000).then(() => false),
          ]);
          assert.ok(closed, "the server never saw the socket close");
        },
      );
    });

    it("refused port: ConnectError", async () => {
      const port = await closedPort();
      const start = Date.now();
      await assert.rejects(
        connector({ hostname: "127.0.0.1", port, tls: "none" }),
        (error: unknown) => {
          assert.ok(error instanceof ConnectError, String(error));
          assert.match(error.message, /^cannot connect to 127\.0\.0\.1:\d+: /);
          return true;
        },
      );
      assert.ok(Date.now() - start < 1000);
    });

    it("abort during an implicit tls handshake: AbortedError", () =>
      withServer(listen(() => {}), async (server) => {
        const controller = new AbortController();
        const reason = new Error("user gave up");
        setTimeout(() => controller.abort(reason), 100);
        const start = Date.now();
        await assert.rejects(
          connector(
            tcp(server, { tls: "implicit", caCerts: ca }),
            controller.signal,
          ),
          (error: unknown) => {
            assert.ok(error instanceof AbortedError, String(error));
            assert.equal(error.cause, reason);
            return true;
          },
        );
        const elapsed = Date.now() - start;
        assert.ok(elapsed >= 90 && elapsed < 1000, `took ${elapsed} ms`);
      }));

    it("an already aborted signal: AbortedError, no connection", () =>
      withServer(listen(() => {}), async (server) => {
        const signal = AbortSignal.abort("early");
        await assert.rejects(connector(tcp(server), signal), AbortedError);
        await delay(20);
        assert.equal(server.sockets.size, 0);
      }));

    it("close on a peer that never reads nor closes resolves within 2 s", () =>
      withServer(listen((socket) => socket.pause()), async (server) => {
        const conn = await connector(tcp(server));
        const writer = conn.writable.getWriter();
        const chunk = new Uint8Array(1024 * 1024);
        const writes: Promise<void>[] = [];
        for (let i = 0; i < 32; i++) writes.push(writer.write(chunk));
        for (const write of writes) write.catch(() => {});
        writer.releaseLock();
        await delay(50);
        const start = Date.now();
        await conn.close();
        const elapsed = Date.now() - start;
        assert.ok(elapsed < 2000, `close took ${elapsed} ms`);
        const results = await Promise.allSettled(writes);
        assert.ok(results.some((result) => result.status === "rejected"));
      }));

    it("close is idempotent; the streams end; the peer sees it", async () => {
      let peerClosed!: Promise<void>;
      await withServer(
        listen((socket) => {
          peerClosed = new Promise((resolve) => socket.once("close", resolve));
          echo(socket);
        }),
        async (server) => {
          const conn = await connector(tcp(server));
          await send(conn, "x");
          await Promise.all([conn.close(), conn.close()]);
          await conn.close();
          const { done } = await conn.readable.getReader().read();
          assert.equal(done, true);
          await assert.rejects(send(conn, "x"), ConnectionClosedError);
          await assert.rejects(conn.startTls({}), ConnectionClosedError);
          const closed = await Promise.race([
            peerClosed.then(() => true),
            delay(1000).then(() => false),
          ]);
          assert.ok(closed, "the server never saw the socket close");
        },
      );
    });

    it("cancelling the readable leaves the writable usable", async () => {
      let got!: Promise<string>;
      await withServer(
        listen((socket) => {
          got = lineReader(socket).next();
          got.then((line) => socket.end(`got ${line}\r\n`));
        }),
        async (server) => {
          const conn = await connector(tcp(server));
          const reader = conn.readable.getReader();
          const pending = reader.read();
          await delay(20); // the connector is reading from the socket now
          await reader.cancel("done reading");
          assert.equal((await pending).done, true);
          await send(conn, "QUIT\r\n");
          assert.equal(await got, "QUIT");
          await delay(20); // the reply arrives with nobody reading
          await conn.close();
        },
      );
    });

    it("close ends a pending read", () =>
      withServer(listen(() => {}), async (server) => {
        const conn = await connector(tcp(server));
        const reader = conn.readable.getReader();
        const pending = reader.read();
        await delay(20);
        await conn.close();
        assert.equal((await pending).done, true);
      }));

    it("unix socket: echo round trip", async () => {
      const dir = mkdtempSync(join(tmpdir(), "mailwire-"));
      const path = join(dir, "lmtp.sock");
      try {
        await withServer(listen(echo, { path }), async () => {
          const conn = await connector({
            hostname: "localhost",
            port: 0,
            tls: "none",
            path,
          });
          await send(conn, "LHLO test\r\n");
          assert.equal(await receive(conn), "LHLO test\r\n");
          await conn.close();
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("unix socket: starttls", async () => {
      const dir = mkdtempSync(join(tmpdir(), "mailwire-"));
      const path = join(dir, "lmtp.sock");
      try {
        await withServer(
          starttlsServer(
            (socket, server) => echo(server.upgrade(socket)),
            { path },
          ),
          async (server) => {
            const plain = await beforeUpgrade(server, {
              hostname: "localhost",
              path,
            });
            if (!options.unixTls) {
              await assert.rejects(plain.startTls({}), /unix socket/);
              return;
            }
            const conn = await plain.startTls({});
            await send(conn, "LHLO over tls\r\n");
            assert.equal(await receive(conn), "LHLO over tls\r\n");
            await conn.close();
          },
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
