import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

// Streamed bodies in flat memory, measured in fresh processes of this
// runtime: the server in one of its own (only the client's memory counts),
// the client in another (no garbage of other tests). The client's first
// message (5 MiB) warms it up: a runtime's first optimizing compiles cost a
// one-time 10-20 MiB that no later message pays again (bench/memory.ts
// shows both).

/** Runs `dir/_test_memory_child` with this runtime and `args`. */
function command(dir: "pop3" | "smtp", ...args: string[]): string[] {
  const compiled = import.meta.url.endsWith(".js");
  const child = fileURLToPath(
    new URL(
      `../${dir}/_test_memory_child.${compiled ? "js" : "ts"}`,
      import.meta.url,
    ),
  );
  const versions = process.versions as Record<string, string | undefined>;
  return versions.deno ? ["run", "-A", child, ...args] : [child, ...args];
}

/** Starts the helper's server, runs its client, returns the growth it printed (MiB). */
async function measure(
  dir: "pop3" | "smtp",
  client: string,
): Promise<Record<string, number>> {
  const server = spawn(process.execPath, command(dir, "serve"), {
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
    const r = spawnSync(process.execPath, command(dir, client, String(port)), {
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(r.status, 0, `memory child failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split("\n").pop()!);
  } finally {
    server.stdin!.end();
    server.kill();
  }
}

test("memory: sendMail streams 50 MiB from a byte stream over DATA and over BDAT within 32 MiB of RSS growth", async () => {
  // A byte stream, as a file's is (Deno.open().readable): read into
  // recycled buffers, so what grows is the client's own (measured 1-6 MiB).
  // A source that allocates every chunk adds its garbage, collected when
  // the runtime chooses (8-45 MiB on Deno): bench/memory.ts shows it.
  const growth = await measure("smtp", "send");
  const shown = JSON.stringify(growth);
  assert.ok(growth.data <= 32, `DATA: rss grew by ${shown} MiB`);
  assert.ok(growth.bdat <= 32, `BDAT: rss grew by ${shown} MiB`);
});

test("memory: retrStream reads 50 MiB within 32 MiB of RSS growth, and 200 MiB in about the same (flat)", async () => {
  const growth = await measure("pop3", "read");
  const shown = JSON.stringify(growth);
  assert.ok(growth[50] <= 32, `50 MiB: rss grew by ${shown} MiB`);
  // Flat: four times the bytes, not four times the memory (holding even a
  // quarter of the message would take 50 MiB); the margin is the
  // collector's timing.
  assert.ok(growth[200] <= 40, `200 MiB: rss grew by ${shown} MiB`);
});
