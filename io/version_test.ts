import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { repoFile } from "../tests/repo.ts";
import { runtimeDescription, VERSION } from "./version.ts";

test("version: the transcript's version is deno.json's", () => {
  const deno = JSON.parse(readFileSync(repoFile("deno.json"), "utf8"));
  assert.equal(VERSION, deno.version);
});

test("version: the runtime is named with its version", () => {
  assert.match(runtimeDescription(), /^(Deno|Bun|Node\.js)\/\d+\.\d+/);
  assert.equal(
    runtimeDescription({ navigator: { userAgent: "Cloudflare-Workers" } }),
    "Cloudflare-Workers",
  );
  assert.equal(
    runtimeDescription({ process: { versions: { node: "20.20.0" } } }),
    "Node.js/20.20.0",
  );
  assert.equal(runtimeDescription({}), "unknown runtime");
});
