/**
 * The CLI stays out of the library: no library entry's module graph
 * reaches cli/ (whose node: imports would break a Worker bundle; the
 * workerd suite checks the bundles themselves), and the
 * CLI reaches the library only through its public entries.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { repoFile } from "./repo.ts";

const onDeno = typeof (globalThis as { Deno?: unknown }).Deno === "object";

test("no library entry imports cli/ (deno info of each entry)", {
  skip: onDeno ? false : "spawns deno info; runs under deno test",
}, () => {
  const deno = JSON.parse(readFileSync(repoFile("deno.json"), "utf8"));
  for (
    const [name, path] of Object.entries(deno.exports as Record<string, string>)
  ) {
    if (name === "./cli") continue;
    const r = spawnSync(repoFile("node_modules/.bin/deno").pathname, [
      "info",
      "--json",
      path,
    ], {
      cwd: repoFile(".").pathname,
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    const modules = (JSON.parse(r.stdout).modules as { specifier: string }[])
      .map((m) => m.specifier);
    assert.ok(modules.length > 0, name);
    const root = repoFile(".").href;
    const reached = modules.filter((s) =>
      s.startsWith(root) && s.slice(root.length).startsWith("cli/")
    );
    assert.deepEqual(reached, [], `${name} reaches ${reached.join(", ")}`);
  }
});

test("cli/ imports the library only through its public entries", () => {
  const entries = new Set([
    "../smtp/mod.ts",
    "../pop3/mod.ts",
    "../message/mod.ts",
    "../tls/mod.ts",
    "../auth/mod.ts",
    "../mod.ts",
  ]);
  const dir = repoFile("cli/");
  for (const file of readdirSync(dir)) {
    if (!file.endsWith(".ts") || file.endsWith("_test.ts")) continue;
    const text = readFileSync(new URL(file, dir), "utf8");
    for (const m of text.matchAll(/from "(\.\.\/[^"]+)"/g)) {
      assert.ok(entries.has(m[1]), `${file} imports ${m[1]}`);
    }
  }
});
