import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The helper, and the arguments to run it with this runtime. */
function helper(...args: string[]): string[] {
  const compiled = import.meta.url.endsWith(".js");
  const child = fileURLToPath(
    new URL(`./_test_memory_child.${compiled ? "js" : "ts"}`, import.meta.url),
  );
  const versions = process.versions as Record<string, string | undefined>;
  return versions.deno ? ["run", "-A", child, ...args] : [child, ...args];
}

test("memory: retrStream reads 50 MiB within 32 MiB of RSS growth, and 200 MiB in about the same (flat)", async () => {
  // The server in a process of its own: only the client's memory is measured.
  const server = spawn(process.execPath, helper("serve"), {
    stdio: ["pipe", "pipe", "inherit"],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no port")), 30_000);
      let out = "";
      server.stdout!.on("data", (d: Uint8Array) => {
        out += new TextDecoder().decode(d);
        const nl = out.indexOf("\n");
        if (nl < 0) return;
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)).port);
      });
      server.on("exit", () => reject(new Error("server exited")));
    });
    // A fresh client process: no garbage of other tests. Its first message
    // (5 MiB) warms it up: a runtime's first optimizing compiles cost it a
    // one-time 10-15 MiB that no later message pays again.
    const r = spawnSync(process.execPath, helper("read", String(port)), {
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(r.status, 0, `memory child failed: ${r.stderr}`);
    const growth: Record<string, number> = JSON.parse(
      r.stdout.trim().split("\n").pop()!,
    );
    const shown = JSON.stringify(growth);
    assert.ok(growth[50] <= 32, `50 MiB: rss grew by ${shown} MiB`);
    // Flat: four times the bytes, not four times the memory (holding even a
    // quarter of the message would take 50 MiB); the margin is the
    // collector's timing.
    assert.ok(growth[200] <= 40, `200 MiB: rss grew by ${shown} MiB`);
  } finally {
    server.stdin!.end();
    server.kill();
  }
});
