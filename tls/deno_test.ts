import { denoConnector } from "./deno.ts";
import { TlsError } from "../errors.ts";
import { connectorSuite } from "../tests/fakes/connector_suite.ts";

const onDeno = typeof (globalThis as { Deno?: { connect?: unknown } }).Deno
  ?.connect === "function";

connectorSuite("denoConnector", denoConnector, {
  skip: onDeno ? false : "the Deno connector needs Deno",
  // No way to peek at a Deno socket: injected bytes reach the handshake.
  injection: TlsError,
  insecure: false,
  unix: true,
  caCerts: true,
  reasons: true,
  // Deno.TlsConn tells only the ALPN protocol.
  tlsInfo: "verified",
  bind: /the deno connector cannot bind a local address or port/,
  quirks: {
    // Deno 2.9: a TlsConn whose handshake never completes cannot be closed:
    // close() rejects the pending handshake() ("Interrupted: operation
    // canceled") but the TCP socket stays open until the peer closes it
    // (closeWrite() waits for the handshake). The caller still gets its
    // error in time; only the socket lingers.
    "starttls: an abandoned handshake closes the socket":
      "deno 2.9 keeps the socket of an unfinished tls handshake open",
    "implicit tls: an aborted handshake closes the socket":
      "deno 2.9 keeps the socket of an unfinished tls handshake open",
  },
  unixTls: false,
});
