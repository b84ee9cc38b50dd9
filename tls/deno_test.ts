import { denoConnector } from "./deno.ts";
import { TlsError } from "./errors.ts";
import { connectorCases } from "./_test_cases.ts";

const onDeno = typeof (globalThis as { Deno?: { connect?: unknown } }).Deno
  ?.connect === "function";

connectorCases("denoConnector", denoConnector, {
  skip: onDeno ? false : "the Deno connector needs Deno",
  // No way to peek at a Deno socket: injected bytes reach the handshake.
  injection: TlsError,
  insecure: false,
  unixTls: false,
});
