// The library version and a description of the runtime, for the first transcript line.

/**
 * mailwire's version (kept equal to deno.json's by a test); the first
 * transcript line names it.
 *
 * @example
 * ```ts
 * import { VERSION } from "@mailwire/mailwire";
 * console.log(VERSION); // e.g. "0.2.0"
 * ```
 */
export const VERSION = "0.2.0";

interface RuntimeHints {
  navigator?: { userAgent?: string };
  process?: { versions?: { node?: string; bun?: string } };
}

/**
 * The runtime as `name/version` (e.g. `Deno/2.9.6`, `Bun/1.4.5`,
 * `Node.js/20.20.0`, `Cloudflare-Workers`), from the globals every runtime
 * sets; `"unknown runtime"` elsewhere.
 */
export function runtimeDescription(
  globals: RuntimeHints = globalThis as RuntimeHints,
): string {
  const bun = globals.process?.versions?.bun;
  if (bun) return `Bun/${bun}`;
  const agent = globals.navigator?.userAgent;
  if (agent && !agent.startsWith("Node.js")) return agent;
  const node = globals.process?.versions?.node;
  if (node) return `Node.js/${node}`;
  return agent ?? "unknown runtime";
}
