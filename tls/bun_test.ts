import { bunConnector } from "./bun.ts";
import { TlsError } from "../errors.ts";
import { connectorSuite } from "../tests/fakes/connector_suite.ts";

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
