/**
 * Memory of the message layer: compose a message with a 50 MiB attachment
 * from a ReadableStream and read the whole composed stream (as the SMTP
 * client would), sampling RSS on every chunk; then parse a 20 MiB message
 * with parseMessage and with postal-mime. Prints peak RSS growth in MiB.
 *
 *   node_modules/.bin/deno run -A bench/message_memory.ts
 *   node_modules/.bin/bun bench/message_memory.ts
 */
import { memoryUsage } from "node:process";
import PostalMime from "postal-mime";
import { composeMessage, parseMessage } from "../message/mod.ts";

const MiB = 1024 * 1024;
const rss = () => memoryUsage().rss;

/** `total` bytes in 64 KiB chunks, fresh ones (`reuse` false) or one buffer reused (a BYOB-style reader). */
function source(total: number, reuse: boolean): ReadableStream<Uint8Array> {
  let sent = 0;
  const shared = new Uint8Array(64 * 1024);
  return new ReadableStream({
    pull(c) {
      if (sent >= total) return c.close();
      const n = Math.min(64 * 1024, total - sent);
      const chunk = reuse ? shared.subarray(0, n) : new Uint8Array(n);
      for (let i = 0; i < n; i += 997) chunk[i] = (sent + i) & 0xff;
      sent += n;
      c.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
}

async function composeRun(
  reuse: boolean,
): Promise<{ growth: number; bytes: number; ms: number }> {
  const base = rss();
  let peak = base;
  const t = performance.now();
  const m = composeMessage({
    from: "a@example.com",
    to: "b@example.com",
    subject: "50 MiB",
    text: "see attachment",
    attachments: [{ filename: "big.bin", content: source(50 * MiB, reuse) }],
  });
  let bytes = 0;
  const reader = m.stream().getReader();
  for (let n = 0;; n++) {
    const { value, done } = await reader.read();
    if (done) break;
    bytes += value.length;
    if ((n & 15) === 0) peak = Math.max(peak, rss());
  }
  return { growth: (peak - base) / MiB, bytes, ms: performance.now() - t };
}

async function parseRun(
  name: string,
  parse: (b: Uint8Array) => Promise<unknown>,
  msg: Uint8Array,
) {
  const base = rss();
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, rss())), 5);
  const t = performance.now();
  const result = await parse(msg);
  peak = Math.max(peak, rss());
  clearInterval(timer);
  const ms = performance.now() - t;
  console.log(
    `${name}: ${((peak - base) / MiB).toFixed(1)} MiB peak RSS growth, ${
      ms.toFixed(0)
    } ms (${result ? "ok" : "?"})`,
  );
}

for (const reuse of [true, false]) {
  const c = await composeRun(reuse);
  console.log(
    `compose + stream a 50 MiB stream attachment (${
      reuse ? "source reuses its buffer" : "fresh 64 KiB chunks"
    }): ${c.growth.toFixed(1)} MiB peak RSS growth, ${
      (c.bytes / MiB).toFixed(1)
    } MiB out, ${c.ms.toFixed(0)} ms`,
  );
}

const big = composeMessage({
  from: "a@example.com",
  to: "b@example.com",
  subject: "20 MiB",
  text: "x",
  html: "<p>x</p>",
  attachments: [{
    filename: "a.bin",
    content: new Uint8Array(20 * MiB).map((_, i) => i & 0xff),
  }],
});
const msg = await big.bytes();
await parseRun(
  "parseMessage (20 MiB message)",
  (b) => parseMessage(b, { maxSize: 64 * MiB }),
  msg,
);
await parseRun("postal-mime (20 MiB message)", (b) => PostalMime.parse(b), msg);
