import { test } from "node:test";
import assert from "node:assert/strict";
import { bunConnector } from "./bun.ts";
import { nodeConnector } from "./node.ts";
import { TlsError } from "../errors.ts";
import { connectorSuite } from "../tests/fakes/connector_suite.ts";
import { certs, listen } from "../tests/fakes/tls_servers.ts";
import { delay, receive } from "../tests/fakes/conn_io.ts";

const onBun = typeof (globalThis as { Bun?: { connect?: unknown } }).Bun
  ?.connect === "function";

connectorSuite("bunConnector", bunConnector, {
  skip: onBun ? false : "the Bun connector needs Bun",
  // A paused Bun socket reads nothing: bytes the peer sent unasked are
  // still in the kernel at the upgrade, and reach the handshake (which
  // fails: they are never taken as protected).
  injection: TlsError,
  insecure: true,
  unix: true,
  caCerts: true,
  reasons: true,
  tlsInfo: "full",
  bind: /bun\.connect cannot bind a local address or port/,
  unixTls: true,
});

// Found in review; each against nodeConnector too, which always did this.
const connectors = { bunConnector, nodeConnector };

for (const [name, connector] of Object.entries(connectors)) {
  test(`${name}: a tls socket reads only when asked (no read-ahead)`, {
    skip: !onBun && "bun only",
  }, async () => {
    // 8 MiB offered at once: a connector that reads ahead would hand them
    // over as one chunk at the first read.
    const big = new Uint8Array(8 * 1024 * 1024).fill(120);
    const server = await listen((socket) => {
      socket.write(big);
    }, { tls: certs.localhost });
    try {
      const conn = await connector({
        hostname: "localhost",
        port: server.port,
        tls: "implicit",
        caCerts: [certs.ca],
      });
      await delay(300);
      const reader = conn.readable.getReader();
      const first = await reader.read();
      assert.ok(first.value !== undefined);
      assert.ok(
        first.value.byteLength <= 1024 * 1024,
        `first read: ${first.value.byteLength} bytes`,
      );
      reader.releaseLock();
      await conn.close();
    } finally {
      await server.close();
    }
  });

  test(
    `${name}: allowInvalidCertificates to a clear-text server: TlsError not-tls`,
    {
      skip: !onBun && "bun only",
    },
    async () => {
      const server = await listen((socket) => {
        socket.write("220 plain smtp here\r\n");
      });
      try {
        await assert.rejects(
          connector({
            hostname: "127.0.0.1",
            port: server.port,
            tls: "implicit",
            allowInvalidCertificates: true,
          }, AbortSignal.timeout(3000)),
          (err: unknown) =>
            err instanceof TlsError && err.reason === "not-tls" &&
            err.message.includes(`127.0.0.1:${server.port}`),
        );
      } finally {
        await server.close();
      }
    },
  );

  test(
    `${name}: an ip servername the certificate does not cover: TlsError name-mismatch`,
    {
      skip: !onBun && "bun only",
    },
    async () => {
      const server = await listen((socket) => {
        socket.write("hi\r\n");
      }, { tls: certs.localhost });
      try {
        for (const servername of ["127.0.0.2", "::2"]) {
          await assert.rejects(
            connector({
              hostname: "localhost",
              port: server.port,
              tls: "implicit",
              caCerts: [certs.ca],
              servername,
            }, AbortSignal.timeout(3000)),
            (err: unknown) =>
              err instanceof TlsError && err.reason === "name-mismatch",
          );
        }
        // The address it covers is verified.
        const conn = await connector({
          hostname: "localhost",
          port: server.port,
          tls: "implicit",
          caCerts: [certs.ca],
          servername: "127.0.0.1",
        });
        assert.equal(conn.tlsInfo?.verified, true);
        assert.equal(await receive(conn), "hi\r\n");
        await conn.close();
      } finally {
        await server.close();
      }
    },
  );
}
