// Test-only: the cases every connector passes, each a server half and a client half.
//
// The server half runs in the test process (node:net/node:tls servers from
// tests/fakes/tls_servers.ts, handed in as `kit`). The client half uses Web
// APIs and the connector only, so it runs in-process (tests/fakes/
// connector_suite.ts, for denoConnector and nodeConnector) and inside workerd
// (tests/workerd/, for cloudflareConnector), where it asks the server half
// for what only the server can see through `observe`. The frame is in
// _test_case_kit.ts, the TLS cases in _test_tls_cases.ts.

import assert from "node:assert/strict";
import type { ConnectTarget } from "./conn.ts";
import {
  AbortedError,
  ConnectError,
  ConnectionClosedError,
  InvalidInputError,
} from "../errors.ts";
import { delay, receive, receiveAll, send } from "../tests/fakes/conn_io.ts";
import {
  beforeUpgrade,
  type ConnectorCase,
  served,
  starttlsServer,
  tcp,
  trusted,
  within,
} from "./_test_case_kit.ts";
import { tlsCases } from "./_test_tls_cases.ts";

export {
  type CaseClient,
  type CaseOptions,
  type ConnectorCase,
  type Kit,
  runInProcess,
  type Served,
  withTimeout,
} from "./_test_case_kit.ts";

const big = 4 * 1024 * 1024;

/** Every case, in the order they run. */
export const connectorCases: ConnectorCase[] = [
  {
    name: "plain connection: echo round trip",
    serve: (kit) => kit.listen(kit.echo).then((s) => served(s)),
    async run(client) {
      const conn = await client.connector(tcp(client));
      assert.equal(conn.secure, false);
      assert.equal(conn.tlsInfo, undefined);
      await send(conn, "hello\r\n");
      assert.equal(await receive(conn), "hello\r\n");
      await conn.close();
    },
  },
  {
    name: "plain connection: 4 MiB both ways (backpressure)",
    serve: (kit) => kit.listen(kit.echo).then((s) => served(s)),
    async run(client) {
      const conn = await client.connector(tcp(client));
      const chunk = new Uint8Array(64 * 1024).map((_, i) => i % 251);
      const writing = (async () => {
        const writer = conn.writable.getWriter();
        for (let sent = 0; sent < big; sent += chunk.byteLength) {
          await writer.write(chunk);
        }
        writer.releaseLock();
      })();
      let received = 0;
      let sum = 0;
      const reader = conn.readable.getReader();
      while (received < big) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const byte of value) sum = (sum + byte) % 1_000_003;
        received += value.byteLength;
      }
      reader.releaseLock();
      await writing;
      assert.equal(received, big);
      let expected = 0;
      for (let i = 0; i < big; i++) {
        expected = (expected + (i % (64 * 1024)) % 251) % 1_000_003;
      }
      assert.equal(sum, expected);
      await conn.close();
    },
  },
  ...(["none", "implicit"] as const).map((mode): ConnectorCase => ({
    name: `small writes are not delayed (TCP_NODELAY), tls: ${mode}`,
    serve: (kit) =>
      kit.listen((socket) => {
        const lines = kit.lineReader(socket);
        const loop = (): Promise<void> =>
          lines.next().then((line) => {
            socket.write(`250 ${line}\r\n`);
            return loop();
          });
        loop();
      }, mode === "implicit" ? { tls: kit.certs.localhost } : {}).then((s) =>
        served(s)
      ),
    async run(client) {
      const conn = await client.connector(trusted(client, { tls: mode }));
      // Two writes per round trip: with Nagle's algorithm the second
      // waits for the delayed ACK of the first (40 ms on Linux).
      const start = Date.now();
      for (let i = 0; i < 20; i++) {
        await send(conn, "RCPT TO:<a@example.com>");
        await send(conn, "\r\n");
        assert.equal(await receive(conn), "250 RCPT TO:<a@example.com>\r\n");
      }
      const elapsed = Date.now() - start;
      assert.ok(elapsed < 400, `20 round trips took ${elapsed} ms`);
      await conn.close();
    },
  })),
  {
    name: "peer closing ends the readable",
    serve: (kit) =>
      kit.listen((socket) => socket.end("bye\r\n")).then((s) => served(s)),
    async run(client) {
      const conn = await client.connector(tcp(client));
      assert.equal(await receiveAll(conn), "bye\r\n");
      await conn.close();
    },
  },
  {
    name: "a reset by the peer errors the readable: ConnectionClosedError",
    serve: (kit) =>
      kit.listen((socket) =>
        socket.write(
          "bye\r\n",
          () => setTimeout(() => socket.resetAndDestroy(), 20),
        )
      ).then((s) => served(s)),
    async run(client) {
      const conn = await client.connector(tcp(client));
      assert.equal(await receive(conn), "bye\r\n");
      await assert.rejects(receiveAll(conn), ConnectionClosedError);
      await conn.close();
    },
  },
  {
    name: "writing to a peer that closed fails: ConnectionClosedError",
    serve: (kit) =>
      kit.listen((socket) => socket.destroy()).then((s) => served(s)),
    async run(client) {
      const conn = await client.connector(tcp(client));
      await delay(50);
      await assert.rejects(async () => {
        for (let i = 0; i < 100; i++) await send(conn, "x".repeat(1000));
      }, ConnectionClosedError);
      await conn.close();
    },
  },
  ...tlsCases,
  {
    name: "refused port: ConnectError",
    async serve(kit) {
      const port = await kit.closedPort();
      return { port, close: () => Promise.resolve() };
    },
    async run(client) {
      const start = Date.now();
      await assert.rejects(
        client.connector(tcp(client)),
        (error: unknown) => {
          assert.ok(error instanceof ConnectError, String(error));
          assert.match(
            error.message,
            new RegExp(`^cannot connect to 127\\.0\\.0\\.1:${client.port}: `),
          );
          return true;
        },
      );
      assert.ok(Date.now() - start < 1000);
    },
  },
  {
    name: "abort during an implicit tls handshake: AbortedError",
    serve: (kit) => kit.listen(() => {}).then((s) => served(s)),
    async run(client) {
      const controller = new AbortController();
      const reason = new Error("user gave up");
      setTimeout(() => controller.abort(reason), 100);
      const start = Date.now();
      await assert.rejects(
        client.connector(
          trusted(client, { tls: "implicit" }),
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
    },
  },
  {
    name: "an already aborted signal: AbortedError, no connection",
    serve: (kit) => kit.listen(() => {}).then((s) => served(s)),
    async run(client) {
      const signal = AbortSignal.abort("early");
      await assert.rejects(client.connector(tcp(client), signal), AbortedError);
      await delay(20);
      assert.equal(await client.observe("accepted"), 0);
    },
  },
  {
    name: "an invalid target: InvalidInputError, no connection",
    serve: (kit) => kit.listen(kit.echo).then((s) => served(s)),
    async run(client) {
      const bad: Partial<ConnectTarget>[] = [
        { port: 70000 },
        { port: 0 },
        { port: -1 },
        { port: 25.5 },
        { port: Number.NaN },
        { port: "25" as unknown as number },
        { hostname: "" },
        { hostname: "127.0.0.1\r\nRCPT TO:<x>" },
        { hostname: "127.0.0.1\0.evil" },
        { hostname: "127.0.0.1 " },
        { servername: "mail.test\n" },
        { path: "/tmp/lmtp.sock\0.evil" },
        { path: "/tmp/lmtp.sock\r\n" },
        { path: "" },
        { localPort: 70000 },
        { localPort: 0 },
        { localAddress: "not an address" },
        { localAddress: "999.1.1.1" },
        { path: "/tmp/lmtp.sock", localAddress: "127.0.0.2" },
        { tls: "STARTTLS" as ConnectTarget["tls"] },
        { tls: true as unknown as ConnectTarget["tls"] },
        { caCerts: "pem" as unknown as string[] },
      ];
      for (const extra of bad) {
        await assert.rejects(
          client.connector(tcp(client, extra)),
          (error: unknown) => {
            assert.ok(
              error instanceof InvalidInputError,
              `${JSON.stringify(extra)}: ${error}`,
            );
            assert.match(error.message, /^invalid connect target: /);
            return true;
          },
        );
      }
      await delay(20);
      assert.equal(await client.observe("accepted"), 0);
    },
  },
  {
    name: "localAddress and localPort bind the local end",
    async serve(kit) {
      const peers: { address?: string; port?: number }[] = [];
      const server = await kit.listen((socket) => {
        peers.push({ address: socket.remoteAddress, port: socket.remotePort });
        socket.end("hi\r\n");
      });
      const localPort = await kit.closedPort();
      return served(server, { peers: () => Promise.resolve(peers) }, {
        localPort,
      });
    },
    async run(client) {
      const localPort = client.info.localPort as number;
      const target = tcp(client, { localAddress: "127.0.0.2", localPort });
      if (client.options.bind !== true) {
        const expected = client.options.bind;
        await assert.rejects(client.connector(target), (error: unknown) => {
          assert.ok(error instanceof ConnectError, String(error));
          assert.match(error.message, expected);
          return true;
        });
        assert.deepEqual(await client.observe("peers"), []);
        return;
      }
      const conn = await client.connector(target);
      assert.equal(await receiveAll(conn), "hi\r\n");
      await conn.close();
      const addressOnly = await client.connector(
        tcp(client, { localAddress: "127.0.0.2" }),
      );
      assert.equal(await receiveAll(addressOnly), "hi\r\n");
      await addressOnly.close();
      const peers = await client.observe("peers") as {
        address: string;
        port: number;
      }[];
      assert.equal(peers.length, 2);
      assert.deepEqual(peers[0], { address: "127.0.0.2", port: localPort });
      assert.equal(peers[1].address, "127.0.0.2");
    },
  },
  {
    name: "close on a peer that never reads nor closes resolves within 2 s",
    serve: (kit) =>
      kit.listen((socket) => socket.pause()).then((s) => served(s)),
    async run(client) {
      const conn = await client.connector(tcp(client));
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
    },
  },
  {
    name: "close is idempotent; the streams end; the peer sees it",
    async serve(kit) {
      let peerClosed: Promise<void> | undefined;
      const server = await kit.listen((socket) => {
        peerClosed = new Promise((resolve) => socket.once("close", resolve));
        kit.echo(socket);
      });
      return served(server, { peerClosed: () => within(peerClosed) });
    },
    async run(client) {
      const conn = await client.connector(tcp(client));
      // The echo proves the connection is established (workerd's `opened`
      // can resolve before the TCP connection is, after a busy socket).
      await send(conn, "x\r\n");
      assert.equal(await receive(conn), "x\r\n");
      await Promise.all([conn.close(), conn.close()]);
      await conn.close();
      const { done } = await conn.readable.getReader().read();
      assert.equal(done, true);
      await assert.rejects(send(conn, "x"), ConnectionClosedError);
      await assert.rejects(conn.startTls({}), ConnectionClosedError);
      assert.equal(
        await client.observe("peerClosed"),
        true,
        "the server never saw the socket close",
      );
    },
  },
  {
    name: "cancelling the readable leaves the writable usable",
    async serve(kit) {
      let got: Promise<string> | undefined;
      const server = await kit.listen((socket) => {
        got = kit.lineReader(socket).next();
        got.then((line) => socket.end(`got ${line}\r\n`));
      });
      return served(server, {
        got: () =>
          Promise.race([
            got ?? Promise.resolve(null),
            delay(2000).then(() => null),
          ]),
      });
    },
    async run(client) {
      const conn = await client.connector(tcp(client));
      const reader = conn.readable.getReader();
      const pending = reader.read();
      await delay(20); // the connector is reading from the socket now
      await reader.cancel("done reading");
      assert.equal((await pending).done, true);
      await send(conn, "QUIT\r\n");
      assert.equal(await client.observe("got"), "QUIT");
      await delay(20); // the reply arrives with nobody reading
      await conn.close();
    },
  },
  {
    name: "close ends a pending read",
    serve: (kit) => kit.listen(() => {}).then((s) => served(s)),
    async run(client) {
      const conn = await client.connector(tcp(client));
      const reader = conn.readable.getReader();
      const pending = reader.read();
      await delay(20);
      await conn.close();
      assert.equal((await pending).done, true);
    },
  },
  {
    name: "unix socket: echo round trip",
    async serve(kit) {
      const temp = kit.tempSocketPath();
      const server = await kit.listen(kit.echo, { path: temp.path });
      return {
        port: 0,
        path: temp.path,
        close: () => server.close().finally(temp.remove),
      };
    },
    async run(client) {
      const target: ConnectTarget = {
        hostname: "localhost",
        port: 0,
        tls: "none",
        path: client.path,
      };
      if (!client.options.unix) {
        await assert.rejects(client.connector(target), (error: unknown) => {
          assert.ok(error instanceof ConnectError, String(error));
          assert.match(error.message, /unix sockets/);
          return true;
        });
        return;
      }
      const conn = await client.connector(target);
      await send(conn, "LHLO test\r\n");
      assert.equal(await receive(conn), "LHLO test\r\n");
      await conn.close();
    },
  },
  {
    name: "unix socket: starttls",
    async serve(kit) {
      const temp = kit.tempSocketPath();
      const server = await starttlsServer(
        kit,
        (socket, server) => kit.echo(server.upgrade(socket)),
        { path: temp.path },
      );
      return {
        port: 0,
        path: temp.path,
        close: () => server.close().finally(temp.remove),
      };
    },
    async run(client) {
      const plain = await beforeUpgrade(client, {
        hostname: "localhost",
        path: client.path,
      });
      if (!client.options.unixTls) {
        await assert.rejects(plain.startTls({}), /unix socket/);
        return;
      }
      const conn = await plain.startTls({});
      await send(conn, "LHLO over tls\r\n");
      assert.equal(await receive(conn), "LHLO over tls\r\n");
      await conn.close();
    },
  },
];
