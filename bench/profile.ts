/**
 * A profiling target: send 2,000 × 1 KiB (or `--n`, `--rcpts`) to the
 * benchmark's sink with one mailwire client, the way the benchmark does.
 * Run it under a profiler, e.g.
 *
 *   node_modules/.bin/bun --cpu-prof-md --cpu-prof-dir=.tmp/prof bench/profile.ts [--data] [--loop]
 *
 * `--data`: DATA only (no CHUNKING); `--loop`: a sendMail per message (no
 * sendMany); `--rounds N` (default 5); `--lib DIR`: another checkout's
 * smtp/mod.ts (before/after).
 *
 * @module
 */
import process from "node:process";
import { message } from "./data.mjs";
import { startSink } from "./start_sink.ts";

const argv = process.argv.slice(2);
const flag = (f: string) => argv.includes(f);
const value = (f: string) => {
  const i = argv.indexOf(f);
  return i >= 0 ? argv[i + 1] : undefined;
};
const lib = value("--lib");
const mod = await import(
  lib ? `${lib.replace(/\/$/, "")}/smtp/mod.ts` : "../smtp/mod.ts"
);
const n = Number(value("--n") ?? 2000);
const rcpts = Array.from(
  { length: Number(value("--rcpts") ?? 1) },
  (_, i) => `r${i}@mail.test`,
);
const sink = await startSink();
const ports = sink.ports;
const messages = Array.from({ length: n }, (_, i) => message(1024, i));
const client = await mod.SmtpClient.connect({
  hostname: "127.0.0.1",
  port: ports.smtp,
  tls: "none",
  chunking: !flag("--data"),
  timeout: 600_000,
});
const rounds = Number(value("--rounds") ?? 5);
for (let round = 0; round < rounds; round++) {
  const t = performance.now();
  if (flag("--loop") || !client.sendMany) {
    for (const data of messages) {
      await client.sendMail({ from: "bench@mail.test", to: rcpts, data });
    }
  } else {
    await client.sendMany(
      messages.map((data) => ({ from: "bench@mail.test", to: rcpts, data })),
    );
  }
  console.log(`round ${round}: ${(performance.now() - t).toFixed(1)} ms`);
}
await client.quit();
sink.stop();
process.exit(0);
