// Test helper run in a fresh process by memory_test.ts: compose a message
// with a 50 MiB attachment from a stream, read the whole stream, print the
// peak RSS growth in MiB as JSON.
import { memoryUsage } from "node:process";
import { composeMessage } from "./compose.ts";

const MiB = 1024 * 1024;
const reuse = process.argv.includes("reuse");

/** 50 MiB in 64 KiB chunks, from one reused buffer or fresh ones. */
function source(total: number): ReadableStream<Uint8Array> {
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

const base = memoryUsage().rss;
let peak = base;
const m = composeMessage({
  from: "a@example.com",
  to: "b@example.com",
  attachments: [{ filename: "big.bin", content: source(50 * MiB) }],
});
let bytes = 0;
const reader = m.stream().getReader();
for (let n = 0;; n++) {
  const { value, done } = await reader.read();
  if (done) break;
  bytes += value.length;
  if ((n & 15) === 0) peak = Math.max(peak, memoryUsage().rss);
}
console.log(JSON.stringify({ growth: (peak - base) / MiB, bytes }));
