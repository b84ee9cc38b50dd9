import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

const MiB = 1024 * 1024;

/** Run the measurement in a fresh process of the same runtime (no garbage of other tests). */
function measure(mode: "reuse" | "fresh"): { growth: number; bytes: number } {
  const compiled = import.meta.url.endsWith(".js");
  const child = fileURLToPath(
    new URL(`./_test_memory_child.${compiled ? "js" : "ts"}`, import.meta.url),
  );
  const versions = process.versions as Record<string, string | undefined>;
  const args = versions.deno ? ["run", "-A", child, mode] : [child, mode];
  const r = spawnSync(process.execPath, args, {
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `memory child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

test("memory: a 50 MiB attachment from a stream composes and streams within 32 MiB of RSS growth", () => {
  const reuse = measure("reuse");
  assert.ok(reuse.bytes > 68 * MiB, "the whole attachment was encoded");
  assert.ok(reuse.growth <= 32, `rss grew by ${reuse.growth.toFixed(1)} MiB`);
  // A source that allocates every chunk adds its own garbage (measured 20 to
  // 27 MiB); the bound leaves room for collector timing, and is still far
  // below the 118 MiB that holding input and output would take.
  const fresh = measure("fresh");
  assert.ok(fresh.growth <= 40, `rss grew by ${fresh.growth.toFixed(1)} MiB`);
});
