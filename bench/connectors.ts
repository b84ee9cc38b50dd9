/**
 * The connectors side by side on one runtime: `sendMany` over DATA (2,000 ×
 * 1 KiB, and 200 × 1 KiB × 50 recipients) and a 50 MiB `retrStream`, each
 * through `nodeConnector` and through the runtime's own (`bunConnector` on
 * Bun, `denoConnector` on Deno), alternated, against the benchmark's sink.
 * Prints the median of each.
 *
 *   node_modules/.bin/bun bench/connectors.ts [--rounds N]
 *
 * @module
 */
import process from "node:process";
import { SmtpClient } from "../smtp/mod.ts";
import { Pop3Client } from "../pop3/mod.ts";
import type { Connector } from "../tls/mod.ts";
import { nodeConnector } from "../tls/node.ts";
import { message } from "./data.mjs";
import { startSink } from "./start_sink.ts";

const argv = process.argv.slice(2);
const at = argv.indexOf("--rounds");
const ROUNDS = at >= 0 ? Number(argv[at + 1]) : 8;
const own: [string, Connector] = "Bun" in globalThis
  ? ["bunConnector", (await import("../tls/bun.ts")).bunConnector]
  : ["denoConnector", (await import("../tls/deno.ts")).denoConnector];
const connectors: [string, Connector][] = [
  ["nodeConnector", nodeConnector],
  own,
];

const sink = await startSink();
const ports = sink.ports;

async function send(connector: Connector, n: number, rcpts: number) {
  const to = Array.from({ length: rcpts }, (_, i) => `r${i}@mail.test`);
  const messages = Array.from({ length: n }, (_, i) => message(1024, i));
  const client = await SmtpClient.connect({
    hostname: "127.0.0.1",
    port: ports.smtp,
    tls: "none",
    chunking: false,
    connector,
  });
  const results = await client.sendMany(
    messages.map((data) => ({ from: "bench@mail.test", to, data })),
  );
  if (results.some((r) => !r.ok)) throw new Error("a message failed");
  await client.quit();
}

async function retr(connector: Connector) {
  const client = await Pop3Client.connect({
    hostname: "127.0.0.1",
    port: ports.pop3,
    tls: "none",
    allowInsecureAuth: true,
    auth: { username: "big", password: "x" },
    connector,
  });
  let n = 0;
  for await (const chunk of await client.retrStream(1)) n += chunk.length;
  await client.quit();
  if (n < 50 * 1024 * 1024) throw new Error(`only ${n} bytes`);
}

const cases: [string, (c: Connector) => Promise<void>][] = [
  ["2,000 × 1 KiB, DATA", (c) => send(c, 2000, 1)],
  ["200 × 1 KiB × 50 rcpts, DATA", (c) => send(c, 200, 50)],
  ["retrStream 50 MiB", retr],
];
for (const [name, run] of cases) {
  const times = new Map<string, number[]>(connectors.map(([n]) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, connector] of connectors) {
      const t = performance.now();
      await run(connector);
      times.get(label)!.push(performance.now() - t);
    }
  }
  const line = [...times].map(([label, ts]) => {
    const sorted = ts.sort((a, b) => a - b);
    return `${label} ${sorted[sorted.length >> 1].toFixed(1)} ms`;
  });
  console.log(`${name.padEnd(30)} ${line.join("   ")}`);
}
sink.stop();
process.exit(0);
