// Test-only: bundles a worker the way the README tells users to (Bun, browser target, ESM, cloudflare:sockets external), and finds node: specifiers in a bundle.

import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const shim = fileURLToPath(new URL("./assert_shim.ts", import.meta.url));

/**
 * Every `node:` module a bundle imports, statically (`import … from`,
 * `export … from`, `import "…"`) or dynamically (`import("…")`,
 * `require("…")`). Strings that merely mention `node:net` are not imports.
 */
export function nodeSpecifiers(code: string): string[] {
  const found: string[] = [];
  const pattern =
    /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)(["'`])(node:[^"'`]*)\1/g;
  for (const match of code.matchAll(pattern)) found.push(match[2]);
  return found;
}

/**
 * Bundles `entry` to `outfile` for workerd and returns the code. Test
 * workers' `node:assert/strict` becomes {@link shim} (they run without
 * nodejs_compat, like the library).
 */
export async function bundle(entry: string, outfile: string): Promise<string> {
  const result = await Bun.build({
    entrypoints: [entry],
    target: "browser",
    format: "esm",
    external: ["cloudflare:sockets"],
    plugins: [{
      name: "assert-shim",
      setup(build) {
        build.onResolve({ filter: /^node:assert(\/strict)?$/ }, () => ({
          path: shim,
        }));
      },
    }],
  });
  if (!result.success) {
    throw new Error(result.logs.map(String).join("\n"));
  }
  const code = await result.outputs[0].text();
  writeFileSync(outfile, code);
  return code;
}
