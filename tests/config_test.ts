import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { repoFile } from "./repo.ts";

const read = (name: string) => JSON.parse(readFileSync(repoFile(name), "utf8"));

test("deno.json and jsr.json agree on name, version and exports", () => {
  const deno = read("deno.json");
  const jsr = read("jsr.json");
  assert.equal(deno.name, "@mailwire/mailwire");
  assert.equal(jsr.name, deno.name);
  assert.equal(jsr.version, deno.version);
  assert.deepEqual(jsr.exports, deno.exports);
  assert.deepEqual(Object.keys(deno.exports).sort(), [
    ".",
    "./auth",
    "./pop3",
    "./smtp",
    "./tls",
  ]);
});

test("package.json has no runtime dependencies", () => {
  const pkg = read("package.json");
  assert.equal(pkg.dependencies, undefined);
  assert.equal(pkg.peerDependencies, undefined);
  for (const dev of ["deno", "bun", "typescript", "fast-check"]) {
    assert.ok(pkg.devDependencies[dev], `devDependency ${dev}`);
  }
  assert.ok(pkg.scripts.demo && pkg.scripts.test);
});

test("every exported entry point exists and documents itself as a module", () => {
  const deno = read("deno.json");
  for (const path of Object.values(deno.exports) as string[]) {
    const text = readFileSync(repoFile(path), "utf8");
    assert.match(text, /@module/, `${path} has @module docs`);
  }
});
