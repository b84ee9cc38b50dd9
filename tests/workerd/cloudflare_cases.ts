// Test-only: cases only the Cloudflare connector needs (what workerd cannot do is refused, never ignored), and its options for the shared cases.

import assert from "node:assert/strict";
import type {
  CaseOptions,
  ConnectorCase,
  Served,
} from "../../tls/_test_cases.ts";
import { ProtocolError, TimeoutError, TlsError } from "../../errors.ts";
import { SmtpClient } from "../../smtp/mod.ts";
import { receive, send } from "../fakes/conn_io.ts";

/** How cloudflareConnector differs, with the reason for each case it cannot run. */
export const cloudflareOptions: CaseOptions = {
  skip: false,
  quirks: {
    "starttls: options override the connect options":
      "workers take no caCerts per connection: trust comes from the runtime (trustedCertificates); servername on startTls is covered by its own case",
    // workerd 1.20261117: close() of a socket whose TLS handshake never
    // completes never settles, and the TCP connection stays open until the
    // worker's request ends (measured: the server saw the close only when
    // `workerd test` finished; closing the old socket, aborting the
    // writable or cancelling the readable doesn't close it either). The
    // caller still gets its error in time: close() is bounded.
    "starttls: an abandoned handshake closes the socket":
      "workerd keeps the socket of an unfinished tls handshake open (close() never settles)",
    "implicit tls: an aborted handshake closes the socket":
      "workerd keeps the socket of an unfinished tls handshake open (close() never settles)",
    "unix socket: starttls":
      "workers have no unix sockets (the echo case asserts the ConnectError)",
  },
  // Workers cannot peek at the socket: the injected bytes reach the TLS
  // handshake, which fails ("received corrupt message of type
  // InvalidContentType" in workerd's log).
  injection: TlsError,
  insecure: false,
  unix: false,
  unixTls: false,
  caCerts: false,
  // The JS error is only "internal error; reference = ...".
  reasons: false,
  tlsInfo: "verified",
  bind: /cloudflare workers cannot bind a local address or port/,
};

const echoServer = async (
  kit: Parameters<ConnectorCase["serve"]>[0],
  tls: boolean,
): Promise<Served> => {
  const server = await kit.listen(
    kit.echo,
    tls ? { tls: kit.certs.localhost } : {},
  );
  return {
    port: server.port,
    observe: { accepted: () => Promise.resolve(server.accepted) },
    close: () => server.close(),
  };
};

/** Cases only the Cloudflare connector runs. */
export const cloudflareCases: ConnectorCase[] = [
  {
    name: "cloudflare: caCerts are refused before connecting, never ignored",
    serve: (kit) => echoServer(kit, true),
    async run(client) {
      for (const tls of ["implicit", "starttls-capable"] as const) {
        await assert.rejects(
          client.connector({
            hostname: "127.0.0.1",
            port: client.port,
            tls,
            caCerts: ["-----BEGIN CERTIFICATE-----"],
          }),
          (error: unknown) => {
            assert.ok(error instanceof TlsError, String(error));
            assert.match(error.message, /caCerts cannot be set per connection/);
            assert.match(error.message, /trustedCertificates/);
            return true;
          },
        );
      }
      assert.equal(await client.observe("accepted"), 0);
    },
  },
  {
    name: "cloudflare: a plain socket (tls: none) cannot start tls",
    serve: (kit) => echoServer(kit, false),
    async run(client) {
      const conn = await client.connector({
        hostname: "127.0.0.1",
        port: client.port,
        tls: "none",
      });
      await send(conn, "hi\r\n");
      assert.equal(await receive(conn), "hi\r\n");
      await assert.rejects(conn.startTls({}), (error: unknown) => {
        assert.ok(error instanceof TlsError, String(error));
        assert.match(error.message, /starttls/);
        return true;
      });
    },
  },
  {
    name: "cloudflare: a client deadline fires on a server that goes silent",
    async serve(kit) {
      const server = await kit.listen((socket) => {
        const lines = kit.lineReader(socket);
        socket.write("220 fake ESMTP\r\n");
        lines.next().then(() => socket.write("250 fake\r\n"));
        // Anything after EHLO goes unanswered.
      });
      return {
        port: server.port,
        close: () => server.close(),
      };
    },
    async run(client) {
      const smtp = await SmtpClient.connect({
        hostname: "127.0.0.1",
        port: client.port,
        tls: "none",
        connector: client.connector,
        timeout: 300,
      });
      const start = Date.now();
      await assert.rejects(smtp.noop(), TimeoutError);
      const elapsed = Date.now() - start;
      assert.ok(elapsed >= 250 && elapsed < 3000, `took ${elapsed} ms`);
      await smtp.close();
    },
  },
  {
    name:
      "cloudflare: bytes injected with the STARTTLS go-ahead are refused by the client (ProtocolError), nothing more sent",
    async serve(kit) {
      let received = "";
      const server = await kit.listen((socket) => {
        socket.on("data", (d) => (received += d));
        socket.write("220 fake ESMTP\r\n");
        const lines = kit.lineReader(socket);
        lines.next().then(() => {
          socket.write("250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n");
          return lines.next();
        }).then(() =>
          socket.write(
            "220 Ready to start TLS\r\n250-fake\r\n250 AUTH PLAIN\r\n",
          )
        );
      });
      return {
        port: server.port,
        observe: {
          received: async () => {
            await new Promise((r) => setTimeout(r, 100));
            return received;
          },
        },
        close: () => server.close(),
      };
    },
    async run(client) {
      await assert.rejects(
        SmtpClient.connect({
          hostname: "127.0.0.1",
          port: client.port,
          tls: "starttls",
          auth: { username: "tim", password: "secret" },
          connector: client.connector,
          timeout: 3000,
        }),
        (error: unknown) => {
          assert.ok(error instanceof ProtocolError, String(error));
          assert.match(error.message, /before the tls handshake/);
          return true;
        },
      );
      assert.equal(
        await client.observe("received"),
        "EHLO localhost\r\nSTARTTLS\r\n",
      );
    },
  },
];
