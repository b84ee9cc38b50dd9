// Test-only: the shared connector cases for TLS: implicit TLS and STARTTLS (see _test_case_kit.ts).

import assert from "node:assert/strict";
import {
  AbortedError,
  ConnectionClosedError,
  MailwireError,
  TlsError,
} from "../errors.ts";
import { delay, receive, receiveAll, send } from "../tests/fakes/conn_io.ts";
import {
  assertTlsInfo,
  beforeUpgrade,
  type ConnectorCase,
  served,
  starttlsEcho,
  starttlsServer,
  tcp,
  tlsEcho,
  tlsFailure,
  trusted,
  within,
} from "./_test_case_kit.ts";

/** The TLS cases, in the order they run. */
export const tlsCases: ConnectorCase[] = [
  {
    name: "implicit tls with the test ca: verified, secure, tlsInfo",
    serve: (kit) => tlsEcho(kit),
    async run(client) {
      const conn = await client.connector(
        trusted(client, { tls: "implicit" }),
      );
      assert.equal(conn.secure, true);
      assertTlsInfo(client, conn);
      await send(conn, "hello over tls\r\n");
      assert.equal(await receive(conn), "hello over tls\r\n");
      await conn.close();
    },
  },
  {
    name: "implicit tls: 8 MiB from the server, then the end",
    serve: (kit) =>
      kit.listen((socket) => {
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
      }, { tls: kit.certs.localhost }).then((s) => served(s)),
    async run(client) {
      const conn = await client.connector(
        trusted(client, { tls: "implicit" }),
      );
      let received = 0;
      for await (const chunk of conn.readable) received += chunk.byteLength;
      assert.equal(received, 8 * 1024 * 1024);
      await conn.close();
    },
  },
  {
    name: "implicit tls: servername is verified instead of the address",
    serve: (kit) => tlsEcho(kit),
    async run(client) {
      const conn = await client.connector(
        trusted(client, { tls: "implicit", servername: "mail.test" }),
      );
      assert.equal(conn.secure, true);
      await conn.close();
      await assert.rejects(
        client.connector(
          trusted(client, { tls: "implicit", servername: "wrong.test" }),
        ),
        tlsFailure(client, "name-mismatch", /servername/),
      );
    },
  },
  {
    name: "implicit tls: certificates are verified by default",
    trust: "default",
    serve: (kit) => tlsEcho(kit),
    async run(client) {
      await assert.rejects(
        client.connector(tcp(client, { tls: "implicit" })),
        tlsFailure(client, "untrusted", /caCerts/),
      );
    },
  },
  {
    name: "implicit tls: a peer closing without close_notify ends the readable",
    serve: (kit) =>
      kit.listen(
        (socket) =>
          socket.write(
            "bye\r\n",
            () => setTimeout(() => socket.destroy(), 20),
          ),
        { tls: kit.certs.localhost },
      ).then((s) => served(s)),
    async run(client) {
      const conn = await client.connector(
        trusted(client, { tls: "implicit" }),
      );
      assert.equal(await receiveAll(conn), "bye\r\n");
      await conn.close();
    },
  },
  {
    name: "implicit tls: a certificate for another host fails",
    serve: (kit) => tlsEcho(kit, kit.certs.wronghost),
    async run(client) {
      await assert.rejects(
        client.connector(trusted(client, { tls: "implicit" })),
        tlsFailure(client, "name-mismatch", /"127\.0\.0\.1"/),
      );
    },
  },
  {
    name: "implicit tls: a certificate from an untrusted ca fails",
    serve: (kit) => tlsEcho(kit, kit.certs.untrusted),
    async run(client) {
      await assert.rejects(
        client.connector(trusted(client, { tls: "implicit" })),
        tlsFailure(client, "untrusted", /caCerts/),
      );
    },
  },
  {
    name: "implicit tls: an expired certificate fails",
    serve: (kit) => tlsEcho(kit, kit.certs.expired),
    async run(client) {
      await assert.rejects(
        client.connector(trusted(client, { tls: "implicit" })),
        tlsFailure(client, "expired"),
      );
    },
  },
  {
    name:
      "implicit tls to a server answering in clear text: not-tls, with a hint",
    serve: (kit) =>
      kit.listen((socket) => {
        socket.write("220 mail.test ESMTP\r\n");
        socket.resume();
      }).then((s) => served(s)),
    async run(client) {
      await assert.rejects(
        client.connector(trusted(client, { tls: "implicit" })),
        tlsFailure(client, "not-tls", /starttls or no tls/),
      );
    },
  },
  {
    name: "implicit tls: allowInvalidCertificates",
    serve: (kit) => tlsEcho(kit, kit.certs.untrusted),
    async run(client) {
      const target = tcp(client, {
        tls: "implicit",
        allowInvalidCertificates: true,
      });
      if (!client.options.insecure) {
        await assert.rejects(client.connector(target), (error: unknown) => {
          assert.ok(error instanceof TlsError);
          assert.match(error.message, /not supported/);
          return true;
        });
        return;
      }
      const conn = await client.connector(target);
      assert.equal(conn.secure, true);
      assert.equal(conn.tlsInfo?.verified, false);
      assert.match(conn.tlsInfo?.verificationError ?? "", /verify/i);
      await send(conn, "insecure\r\n");
      assert.equal(await receive(conn), "insecure\r\n");
      await conn.close();
    },
  },
  {
    name: "implicit tls: the server closing during the handshake fails",
    serve: (kit) =>
      kit.listen((socket) => socket.destroy()).then((s) => served(s)),
    async run(client) {
      await assert.rejects(
        client.connector(trusted(client, { tls: "implicit" })),
        TlsError,
      );
    },
  },
  {
    name: "starttls: upgrade after a plaintext exchange, data both ways",
    serve: (kit) => starttlsEcho(kit),
    async run(client) {
      const plain = await beforeUpgrade(client);
      assert.equal(plain.secure, false);
      const conn = await plain.startTls({});
      assert.equal(conn.secure, true);
      assertTlsInfo(client, conn);
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
  },
  {
    name: "starttls: certificates are verified by default",
    trust: "default",
    serve: (kit) => starttlsEcho(kit),
    async run(client) {
      const plain = await beforeUpgrade(client);
      await assert.rejects(
        plain.startTls({}),
        tlsFailure(client, "untrusted", /caCerts/),
      );
      await plain.close();
    },
  },
  {
    name: "starttls: a certificate for another host fails",
    serve: (kit) => starttlsEcho(kit, kit.certs.wronghost),
    async run(client) {
      const plain = await beforeUpgrade(client);
      await assert.rejects(
        plain.startTls({}),
        tlsFailure(client, "name-mismatch"),
      );
      await plain.close();
    },
  },
  {
    name: "starttls: servername given to startTls is verified",
    serve: (kit) => starttlsEcho(kit),
    async run(client) {
      const plain = await beforeUpgrade(client);
      const conn = await plain.startTls({ servername: "mail.test" });
      await send(conn, "ok\r\n");
      assert.equal(await receive(conn), "ok\r\n");
      await conn.close();
    },
  },
  {
    name: "starttls: options override the connect options",
    serve: (kit) => starttlsEcho(kit),
    async run(client) {
      const plain = await beforeUpgrade(client, { caCerts: undefined });
      const conn = await plain.startTls({
        caCerts: client.ca,
        servername: "mail.test",
      });
      await send(conn, "ok\r\n");
      assert.equal(await receive(conn), "ok\r\n");
      await conn.close();
    },
  },
  {
    name: "starttls: bytes sent before the handshake are refused",
    async serve(kit) {
      let injected!: () => void;
      const written = new Promise<void>((resolve) => (injected = resolve));
      const server = await starttlsServer(kit, (socket, server) => {
        setTimeout(() => {
          socket.write("250 INJECTED\r\n", () => {
            injected();
            kit.echo(server.upgrade(socket));
          });
        }, 20);
      });
      return served(server, { injected: () => written.then(() => true) });
    },
    async run(client) {
      const plain = await beforeUpgrade(client);
      await client.observe("injected");
      // Let the bytes reach the client (bounded): no read is made.
      const buffered = client.options.buffered;
      if (buffered) {
        const until = Date.now() + 1000;
        while (buffered(plain) === 0 && Date.now() < until) await delay(5);
        assert.ok(buffered(plain) > 0, "the injected bytes never arrived");
      } else {
        await delay(100);
      }
      await assert.rejects(plain.startTls({}), client.options.injection);
      // The connection was closed.
      await assert.rejects(send(plain, "x"), ConnectionClosedError);
      await plain.close();
    },
  },
  {
    name: "starttls: refused while a read is pending",
    serve: (kit) => starttlsServer(kit, () => {}).then((s) => served(s)),
    async run(client) {
      const plain = await client.connector(
        trusted(client, { tls: "starttls-capable" }),
      );
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
    },
  },
  {
    name: "starttls: refused while a stream is locked",
    serve: (kit) => starttlsServer(kit, () => {}).then((s) => served(s)),
    async run(client) {
      const plain = await client.connector(
        trusted(client, { tls: "starttls-capable" }),
      );
      const writer = plain.writable.getWriter();
      await assert.rejects(
        plain.startTls({}),
        /^MailwireError: cannot start tls while the streams are locked$/,
      );
      writer.releaseLock();
      await plain.close();
    },
  },
  {
    name: "starttls: abort during the handshake",
    serve: (kit) => starttlsServer(kit, () => {}).then((s) => served(s)),
    async run(client) {
      const plain = await beforeUpgrade(client);
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
    },
  },
  {
    name: "starttls: close during the handshake",
    serve: (kit) => starttlsServer(kit, () => {}).then((s) => served(s)),
    async run(client) {
      const plain = await beforeUpgrade(client);
      const start = Date.now();
      const upgrading = plain.startTls({});
      await delay(50);
      await plain.close();
      await assert.rejects(upgrading, ConnectionClosedError);
      assert.ok(Date.now() - start < 1000, "close took too long");
    },
  },
  {
    name: "starttls: an abandoned handshake closes the socket",
    async serve(kit) {
      let peerClosed: Promise<void> | undefined;
      const server = await starttlsServer(kit, (socket) => {
        peerClosed = new Promise((resolve) => socket.once("close", resolve));
        socket.resume(); // swallow the ClientHello, see the FIN
      });
      return served(server, { peerClosed: () => within(peerClosed) });
    },
    async run(client) {
      for (const how of ["abort", "close"]) {
        const plain = await beforeUpgrade(client);
        const controller = new AbortController();
        const upgrading = plain.startTls({}, controller.signal);
        upgrading.catch(() => {});
        await delay(50);
        if (how === "abort") controller.abort();
        else await plain.close();
        await upgrading.catch(() => {});
        const start = Date.now();
        assert.equal(
          await client.observe("peerClosed"),
          true,
          `${how}: the server never saw the socket close`,
        );
        assert.ok(Date.now() - start < 1500);
      }
    },
  },
  {
    name: "implicit tls: an aborted handshake closes the socket",
    async serve(kit) {
      let peerClosed: Promise<void> | undefined;
      const server = await kit.listen((socket) => {
        peerClosed = new Promise((resolve) => socket.once("close", resolve));
        socket.resume();
      });
      return served(server, { peerClosed: () => within(peerClosed) });
    },
    async run(client) {
      await assert.rejects(
        client.connector(
          trusted(client, { tls: "implicit" }),
          AbortSignal.timeout(50),
        ),
        AbortedError,
      );
      assert.equal(
        await client.observe("peerClosed"),
        true,
        "the server never saw the socket close",
      );
    },
  },
];
