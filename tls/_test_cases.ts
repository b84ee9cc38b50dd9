// Test-only: the cases every connector passes, each a server half and a client half.
//
// The server half runs in the test process (node:net/node:tls servers from
// tests/fakes/tls_servers.ts, handed in as `kit`). The client half uses Web
// APIs and the connector only, so it runs in-process (tests/fakes/
// connector_suite.ts, for denoConnector and nodeConnector) and inside workerd
// (tests/workerd/, for cloudflareConnector), where it asks the server half
// for what only the server can see through `observe`.

import assert from "node:assert/strict";
import type { Socket } from "node:net";
import type * as Servers from "../tests/fakes/tls_servers.ts";
import type { ListenOptions, TestServer } from "../tests/fakes/tls_servers.ts";
import type { Conn, Connector, ConnectTarget } from "./conn.ts";
import {
  AbortedError,
  ConnectError,
  ConnectionClosedError,
  InvalidInputError,
  MailwireError,
  type ProtocolError,
  TlsError,
} from "../errors.ts";
import { delay, receive, receiveAll, send } from "../tests/fakes/conn_io.ts";

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
  /** Whether Unix sockets work at all (else: `ConnectError`). */
  unix: boolean;
  /** Whether TLS can run over a Unix socket. */
  unixTls: boolean;
  /**
   * Whether `caCerts` is honoured per connection. When not, the runtime
   * itself trusts the test CA (workerd's trustedCertificates) and cases that
   * need an untrusting client run in a second, untrusting runtime.
   */
  caCerts: boolean;
  /** Whether `TlsError.reason` tells the cause (else it is `"other"`). */
  reasons: boolean;
  /** What `conn.tlsInfo` holds after a handshake. */
  tlsInfo: "full" | "verified";
  /** `true` if `localAddress`/`localPort` bind; else the `ConnectError` text expected. */
  bind: true | RegExp;
  /** Bytes received but not yet read, when the connector can tell. */
  buffered?: (conn: Conn) => number;
}

/** The server-side toolbox a case's server half gets. */
export type Kit = typeof Servers;

/** What a case's server half started. */
export interface Served {
  /** TCP port for the client (0 for a Unix socket). */
  port: number;
  /** Unix socket path, when the server listens on one. */
  path?: string;
  /** Values the client half needs (JSON). */
  info?: Record<string, unknown>;
  /** Named questions only the server can answer (JSON results). */
  observe?: Record<string, () => Promise<unknown>>;
  /** Stops the server and its connections. */
  close(): Promise<void>;
}

/** What a case's client half gets. */
export interface CaseClient {
  connector: Connector;
  options: CaseOptions;
  port: number;
  path?: string;
  info: Record<string, unknown>;
  /** `caCerts` trusting the test CA, or `undefined` where the runtime trusts it. */
  ca: string[] | undefined;
  /** Asks the server half (see {@linkcode Served.observe}). */
  observe(name: string): Promise<unknown>;
}

/** One shared case. */
export interface ConnectorCase {
  name: string;
  /** `"default"`: the client must not trust the test CA. */
  trust?: "default";
  serve(kit: Kit): Promise<Served>;
  run(client: CaseClient): Promise<void>;
}

/** Fails a case that hangs instead of hanging the run. */
export async function withTimeout(
  label: string,
  run: Promise<void>,
  ms = 10_000,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${label}: still running after ${ms} ms`)),
      ms,
    );
  });
  try {
    await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `case_` with its server half in this process. */
export async function runInProcess(
  case_: ConnectorCase,
  connector: Connector,
  options: CaseOptions,
  kit: Kit,
): Promise<void> {
  const served = await case_.serve(kit);
  try {
    await withTimeout(
      case_.name,
      case_.run({
        connector,
        options,
        port: served.port,
        path: served.path,
        info: served.info ?? {},
        ca: case_.trust === "default" ? undefined : [kit.certs.ca],
        observe: (name) => {
          const ask = served.observe?.[name];
          if (!ask) throw new Error(`${case_.name}: no observation ${name}`);
          return ask();
        },
      }),
    );
  } finally {
    await served.close();
  }
}

/** A server half's result for a plain {@linkcode TestServer}. */
function served(
  server: TestServer,
  observe: Served["observe"] = {},
  info?: Record<string, unknown>,
): Served {
  return {
    port: server.port,
    info,
    observe: {
      accepted: () => Promise.resolve(server.accepted),
      ...observe,
    },
    close: () => server.close(),
  };
}

/** Resolves `true` once `closed` resolves, `false` after `ms`. */
function within(closed: Promise<void> | undefined, ms = 1000) {
  return Promise.race([
    (closed ?? new Promise<void>(() => {})).then(() => true),
    delay(ms).then(() => false),
  ]);
}

const tcp = (
  client: CaseClient,
  extra: Partial<ConnectTarget> = {},
): ConnectTarget => ({
  hostname: "127.0.0.1",
  port: client.port,
  tls: "none",
  ...extra,
});

/** A target trusting the test CA (through `caCerts` where the connector takes them). */
const trusted = (
  client: CaseClient,
  extra: Partial<ConnectTarget> = {},
): ConnectTarget =>
  tcp(client, {
    ...(client.ca ? { caCerts: client.ca } : {}),
    ...extra,
  });

/** A STARTTLS-style server: greeting, STARTTLS, go ahead, then `after`. */
function starttlsServer(
  kit: Kit,
  after: (socket: Socket, server: TestServer) => void,
  listenOptions?: ListenOptions,
): Promise<TestServer> {
  return kit.listen((socket, server) => {
    const lines = kit.lineReader(socket);
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
}

/** Connects and goes through the plaintext STARTTLS exchange. */
async function beforeUpgrade(
  client: CaseClient,
  extra: Partial<ConnectTarget> = {},
): Promise<Conn> {
  const conn = await client.connector(
    trusted(client, { tls: "starttls-capable", ...extra }),
  );
  assert.equal(await receive(conn), "220 ready\r\n");
  await send(conn, "STARTTLS\r\n");
  assert.equal(await receive(conn), "220 go ahead\r\n");
  return conn;
}

/** Asserts a `TlsError` naming the address, of `reason` where the connector tells. */
function tlsFailure(
  client: CaseClient,
  reason: string,
  hint?: RegExp,
): (error: unknown) => true {
  return (error: unknown) => {
    assert.ok(error instanceof TlsError, String(error));
    assert.match(
      error.message,
      new RegExp(`^tls handshake with 127\\.0\\.0\\.1:${client.port} failed: `),
    );
    if (client.options.reasons) {
      assert.equal(error.reason, reason, error.message);
      if (hint) assert.match(error.message, hint);
    }
    return true;
  };
}

/** An echo server with TLS from the first byte. */
const tlsEcho = (kit: Kit, pair = kit.certs.localhost) =>
  kit.listen(kit.echo, { tls: pair }).then((server) => served(server));

/** A STARTTLS server that echoes after the upgrade. */
const starttlsEcho = (kit: Kit, pair = kit.certs.localhost) =>
  starttlsServer(
    kit,
    (socket, server) => kit.echo(server.upgrade(socket, pair)),
  )
    .then((server) => served(server));

/** Asserts what the connector tells about a handshake with the test server. */
function assertTlsInfo(client: CaseClient, conn: Conn): void {
  const info = conn.tlsInfo;
  assert.ok(info, "tlsInfo after a handshake");
  assert.equal(info.verified, true);
  if (client.options.tlsInfo !== "full") return;
  assert.match(info.protocol ?? "", /^TLSv1\.[23]$/);
  assert.ok((info.cipher ?? "").length > 0, "cipher");
  const leaf = info.peerCertificates?.[0];
  assert.ok(leaf, "leaf certificate");
  assert.equal(leaf.subject, "CN=localhost");
  assert.equal(leaf.issuer, "CN=mailwire test CA");
  assert.ok(leaf.subjectAltNames?.includes("DNS:mail.test"));
  assert.ok(leaf.subjectAltNames?.includes("IP:127.0.0.1"));
  assert.ok(
    Date.parse(leaf.validTo ?? "") > Date.now(),
    `validTo ${leaf.validTo}`,
  );
  assert.ok(
    Date.parse(leaf.validFrom ?? "") < Date.now(),
    `validFrom ${leaf.validFrom}`,
  );
  assert.match(leaf.fingerprint256 ?? "", /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
}

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
