import type { Conn, Connector, ConnectTarget } from "./conn.ts";
import { ConnectError } from "../errors.ts";
import { abortedError } from "./_util.ts";
import { validateTarget } from "./validate_target.ts";

/** The globals that tell runtimes apart. @internal */
export interface RuntimeGlobals {
  Deno?: { connect?: unknown };
  Bun?: unknown;
  process?: { versions?: { node?: string } };
  navigator?: { userAgent?: string };
}

/**
 * Which built-in connector fits the runtime whose globals are given, if any.
 *
 * @internal
 */
export function runtimeOf(
  globals: RuntimeGlobals,
): "deno" | "bun" | "node" | undefined {
  if (typeof globals.Deno?.connect === "function") return "deno";
  if (globals.navigator?.userAgent === "Cloudflare-Workers") return undefined;
  if (globals.Bun !== undefined) return "bun";
  if (typeof globals.process?.versions?.node === "string") return "node";
  return undefined;
}

/**
 * The connector the clients use when none is given: {@linkcode denoConnector}
 * on Deno, {@linkcode bunConnector} on Bun, {@linkcode nodeConnector} on
 * Node.js. The adapter module is loaded on first use.
 *
 * On Deno, a target with `allowInvalidCertificates: true`, `localAddress` or
 * `localPort` goes to {@linkcode nodeConnector} instead: Deno's own API
 * cannot skip certificate checks per connection nor bind a local address,
 * its Node compatibility layer can. On Bun, a target with `localAddress` or
 * `localPort` goes to {@linkcode nodeConnector} (`Bun.connect` cannot
 * bind). (Deno 2.9's
 * `node:tls` can miss the end of a TLS stream after a large transfer: a read
 * waiting for the server to close may then wait forever. The clients stop at
 * the protocols' own end markers and use deadlines, so they are not stuck.)
 *
 * Elsewhere (Cloudflare Workers, browsers) it throws a `ConnectError`: pass a
 * connector made for that platform instead ({@linkcode cloudflareConnector}
 * on Workers).
 *
 * The target is checked first, the same way on every runtime: an invalid
 * one (empty hostname, port out of range, CR/LF/NUL in a path...) throws an
 * `InvalidInputError` before any socket exists.
 *
 * @example Open a connection with the runtime's sockets
 * ```ts
 * import { ConnectError, defaultConnector } from "@mailwire/mailwire/tls";
 *
 * try {
 *   // Implicit TLS, e.g. SMTP submission on 465: verified before it resolves.
 *   const conn = await defaultConnector(
 *     { hostname: "127.0.0.1", port: 1, tls: "implicit" },
 *     AbortSignal.timeout(5000),
 *   );
 *   console.log(conn.secure); // true
 *   await conn.close();
 * } catch (error) {
 *   // Nothing listens on port 1.
 *   console.log(error instanceof ConnectError); // true
 * }
 * ```
 */
export const defaultConnector: Connector = async (
  target: ConnectTarget,
  signal?: AbortSignal,
): Promise<Conn> => {
  validateTarget(target);
  if (signal?.aborted) throw abortedError(signal, "connect");
  switch (runtimeOf(globalThis as RuntimeGlobals)) {
    case "deno": {
      if (
        target.allowInvalidCertificates ||
        target.localAddress !== undefined || target.localPort !== undefined
      ) {
        // Deno.connect/startTls cannot skip verification per connection nor
        // bind a local address; Deno's node:net/node:tls can.
        const { nodeConnector } = await import("./node.ts");
        return await nodeConnector(target, signal);
      }
      const { denoConnector } = await import("./deno.ts");
      return await denoConnector(target, signal);
    }
    case "bun": {
      if (
        target.localAddress !== undefined || target.localPort !== undefined
      ) {
        // Bun.connect cannot bind a local address; Bun's node:net can.
        const { nodeConnector } = await import("./node.ts");
        return await nodeConnector(target, signal);
      }
      const { bunConnector } = await import("./bun.ts");
      return await bunConnector(target, signal);
    }
    case "node": {
      const { nodeConnector } = await import("./node.ts");
      return await nodeConnector(target, signal);
    }
    default:
      throw new ConnectError(
        'no default connector for this runtime; pass a connector (on cloudflare workers: connector: cloudflareConnector(connect), with connect from "cloudflare:sockets")',
      );
  }
};
