import { test } from "node:test";
import assert from "node:assert/strict";
import { memoryUsage } from "node:process";
import { composeMessage } from "./compose.ts";

const MiB = 1024 * 1024;

/** 50 MiB in 64 KiB chunks, from one reused buffer or fresh ones. */
function source(total: number, reuse: boolean): ReadableStream<Uint8Array> {
  let sent = 0;
  const shared = new Uint8Array(64 * 1024);
  return new ReadableStream({
    pull(c) {
      if (sent >= total) return c.close();
      const n = Math.min(64 * 1024, total - sent);
      const chunk = reuse ? shared.subarray(0, n) : new Uint8Array(n);
      chunk[0] = sent & 0xff;
      sent += n;
      c.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
}

async function peakGrowth(reuse: boolean): Promise<number> {
  const base = memoryUsage().rss;
  let peak = base;
  const m = composeMessage({
    from: "a@example.com",
    to: "b@example.com",
    attachments: [{ filename: "big.bin", content: source(50 * MiB, reuse) }],
  });
  let bytes = 0;
  const reader = m.stream().getReader();
  for (let n = 0;; n++) {
    const { value, done } = await reader.read();
    if (done) break;
    bytes += value.length;
    if ((n & 15) === 0) peak = Math.max(peak, memoryUsage().rss);
  }
  assert.ok(bytes > 68 * MiB, "the whole attachment was encoded");
  return (peak - base) / MiB;
}

test("memory: a 50 MiB attachment from a stream composes and streams within 32 MiB of RSS growth", async () => {
  const growth = await peakGrowth(true);
  assert.ok(growth <= 32, `rss grew by ${growth.toFixed(1)} MiB`);
  // With a source that allocates every chunk, its own garbage counts too;
  // still far below the 118 MiB that holding input and output would take.
  const fresh = await peakGrowth(false);
  assert.ok(fresh <= 64, `rss grew by ${fresh.toFixed(1)} MiB`);
});
