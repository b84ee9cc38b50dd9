import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultConnector, runtimeOf } from "./connect.ts";
import * as mod from "./mod.ts";
import {
  AbortedError,
  ConnectError,
  InvalidInputError,
  TlsError,
} from "../errors.ts";
import { certs, echo, listen } from "../tests/fakes/tls_servers.ts";
import { receive, receiveAll, send } from "../tests/fakes/conn_io.ts";

const onDeno = typeof (globalThis as { Deno?: { connect?: unknown } }).Deno
  ?.connect === "function";
const onBun = !onDeno && "Bun" in globalThis;

test("runtimeOf: deno, bun, node, workers, browsers", () => {
  assert.equal(runtimeOf({ Deno: { connect: () => {} } }), "deno");
  assert.equal(runtimeOf({ Bun: {} }), "bun");
  assert.equal(
    runtimeOf({ process: { versions: { node: "20.0.0" } } }),
    "node",
  );
  assert.equal(
    runtimeOf({
      navigator: { userAgent: "Cloudflare-Workers" },
      process: { versions: { node: "22.0.0" } },
    }),
    undefined,
  );
  assert.equal(
    runtimeOf({ navigator: { userAgent: "Mozilla/5.0" } }),
    undefined,
  );
});

test("mod.ts exports the connectors and the errors", () => {
  assert.equal(typeof mod.defaultConnector, "function");
  assert.equal(typeof mod.denoConnector, "function");
  assert.equal(typeof mod.nodeConnector, "function");
  assert.equal(typeof mod.bunConnector, "function");
  assert.equal(typeof mod.cloudflareConnector, "function");
  assert.ok(new mod.TlsError("x") instanceof mod.MailwireError);
});

test("defaultConnector uses this runtime's adapter", async () => {
  const server = await listen(echo);
  try {
    const conn = await defaultConnector({
      hostname: "127.0.0.1",
      port: server.port,
      tls: "none",
    });
    assert.equal(
      conn.constructor.name,
      onDeno ? "DenoConn" : onBun ? "BunConn" : "NodeConn",
    );
    await send(conn, "hi\r\n");
    assert.equal(await receive(conn), "hi\r\n");
    await conn.close();
  } finally {
    await server.close();
  }
});

test("defaultConnector verifies certificates", async () => {
  const server = await listen(echo, { tls: certs.localhost });
  try {
    const target = {
      hostname: "127.0.0.1",
      port: server.port,
      tls: "implicit" as const,
    };
    await assert.rejects(defaultConnector(target), TlsError);
    const conn = await defaultConnector({ ...target, caCerts: [certs.ca] });
    assert.equal(conn.secure, true);
    await conn.close();
  } finally {
    await server.close();
  }
});

test("defaultConnector honours allowInvalidCertificates (node:tls on deno, bun's own on bun)", async () => {
  const server = await listen(echo, { tls: certs.untrusted });
  try {
    const conn = await defaultConnector({
      hostname: "127.0.0.1",
      port: server.port,
      tls: "implicit",
      allowInvalidCertificates: true,
    });
    assert.equal(conn.constructor.name, onBun ? "BunConn" : "NodeConn");
    assert.equal(conn.secure, true);
    await send(conn, "insecure\r\n");
    assert.equal(await receive(conn), "insecure\r\n");
    await conn.close();
  } finally {
    await server.close();
  }
});

test("defaultConnector: aborted signal, refused port", async () => {
  await assert.rejects(
    defaultConnector(
      { hostname: "127.0.0.1", port: 1, tls: "none" },
      AbortSignal.abort(),
    ),
    AbortedError,
  );
  await assert.rejects(
    defaultConnector({ hostname: "127.0.0.1", port: 1, tls: "none" }),
    ConnectError,
  );
});

test("defaultConnector binds localAddress/localPort on every runtime (node:net on deno and bun)", async () => {
  const peers: string[] = [];
  const server = await listen((socket) => {
    peers.push(`${socket.remoteAddress}`);
    socket.end("hi\r\n");
  });
  try {
    const conn = await defaultConnector({
      hostname: "127.0.0.1",
      port: server.port,
      tls: "none",
      localAddress: "127.0.0.2",
    });
    assert.equal(conn.constructor.name, "NodeConn");
    assert.equal(await receiveAll(conn), "hi\r\n");
    await conn.close();
    assert.deepEqual(peers, ["127.0.0.2"]);
  } finally {
    await server.close();
  }
});

test("defaultConnector checks the target before anything else, on every runtime", async () => {
  // Even with an aborted signal: the input is wrong whatever happens next.
  for (const port of [70000, 0, 1.5]) {
    await assert.rejects(
      defaultConnector(
        { hostname: "127.0.0.1", port, tls: "none" },
        AbortSignal.abort(),
      ),
      InvalidInputError,
    );
  }
  await assert.rejects(
    defaultConnector({
      hostname: "localhost",
      port: 24,
      tls: "none",
      path: "/run/lmtp.sock\0.evil",
    }),
    /^InvalidInputError: invalid connect target: path contains a cr, lf or nul character: "\/run\/lmtp\.sock\\u0000\.evil"$/,
  );
});
