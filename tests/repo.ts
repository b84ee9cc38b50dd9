/**
 * The repository root, for test files and helpers that read files of the
 * repository (fixtures, `deno.json`, `.tmp/servers/env.json`) at run time.
 * Found by walking up from this module to the directory holding `deno.json`,
 * so that the same code works from the sources (Deno, Bun) and from the Node
 * build in `.tmp/node-dist/` (`tsconfig.node.json`). Test-only code.
 */
import { existsSync } from "node:fs";

function findRoot(): URL {
  let dir = new URL("./", import.meta.url);
  for (;;) {
    if (existsSync(new URL("deno.json", dir))) return dir;
    const parent = new URL("../", dir);
    if (parent.href === dir.href) {
      throw new Error(`no deno.json above ${import.meta.url}`);
    }
    dir = parent;
  }
}

/** The repository root directory, as a `file:` URL ending in `/`. */
export const repoRoot: URL = findRoot();

/** A path relative to the repository root, as a `file:` URL. */
export function repoFile(path: string): URL {
  return new URL(path, repoRoot);
}
