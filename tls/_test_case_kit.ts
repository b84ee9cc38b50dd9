// Test-only: the frame of the shared connector cases (types, runner, helpers); the cases are in _test_cases.ts and _test_tls_cases.ts.
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
import { type ProtocolError, TlsError } from "../errors.ts";
import { delay, receive, send } from "../tests/fakes/conn_io.ts";

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
export function served(
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
export function within(closed: Promise<void> | undefined, ms = 1000) {
  return Promise.race([
    (closed ?? new Promise<void>(() => {})).then(() => true),
    delay(ms).then(() => false),
  ]);
}

export const tcp = (
  client: CaseClient,
  extra: Partial<ConnectTarget> = {},
): ConnectTarget => ({
  hostname: "127.0.0.1",
  port: client.port,
  tls: "none",
  ...extra,
});

/** A target trusting the test CA (through `caCerts` where the connector takes them). */
export const trusted = (
  client: CaseClient,
  extra: Partial<ConnectTarget> = {},
): ConnectTarget =>
  tcp(client, {
    ...(client.ca ? { caCerts: client.ca } : {}),
    ...extra,
  });

/** A STARTTLS-style server: greeting, STARTTLS, go ahead, then `after`. */
export function starttlsServer(
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
export async function beforeUpgrade(
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
export function tlsFailure(
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
export const tlsEcho = (kit: Kit, pair = kit.certs.localhost) =>
  kit.listen(kit.echo, { tls: pair }).then((server) => served(server));

/** A STARTTLS server that echoes after the upgrade. */
export const starttlsEcho = (kit: Kit, pair = kit.certs.localhost) =>
  starttlsServer(
    kit,
    (socket, server) => kit.echo(server.upgrade(socket, pair)),
  )
    .then((server) => served(server));

/** Asserts what the connector tells about a handshake with the test server. */
export function assertTlsInfo(client: CaseClient, conn: Conn): void {
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
