/**
 * Memory of streamed bodies, each case in a fresh process of this runtime:
 * a 50 MiB message from a file stream sent with DATA and with BDAT, and a
 * 50 MiB message read with retrStream. Prints the peak RSS growth (MiB)
 * over the process's RSS just before the send. The bench's servers run in
 * their own Node process.
 *
 *   node_modules/.bin/deno run -A bench/memory.ts
 *   node_modules/.bin/bun bench/memory.ts
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { createReadStream, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { bigLf } from "./data.mjs";
import { startSink } from "./start_sink.ts";

const MIB = 1024 * 1024;
const self = fileURLToPath(import.meta.url);
const argv = process.argv.slice(2);

/**
 * The runtime's own file stream (what a user of that runtime passes):
 * `Deno.open().readable` on Deno, `Bun.file().stream()` on Bun; Node's
 * `fs` stream through `Readable.toWeb` elsewhere.
 */
async function fileStream(file: string): Promise<ReadableStream<Uint8Array>> {
  const g = globalThis as unknown as {
    Deno?: {
      open(p: string): Promise<{ readable: ReadableStream<Uint8Array> }>;
    };
    Bun?: { file(p: string): { stream(): ReadableStream<Uint8Array> } };
  };
  if (g.Deno) return (await g.Deno.open(file)).readable;
  if (g.Bun) return g.Bun.file(file).stream();
  return Readable.toWeb(
    createReadStream(file, { highWaterMark: 64 * 1024 }),
  ) as unknown as ReadableStream<Uint8Array>;
}

if (argv[0] === "--case") {
  // One case, in this fresh process.
  const [, name, port, file] = argv;
  const { SmtpClient } = await import("../smtp/mod.ts");
  const { Pop3Client } = await import("../pop3/mod.ts");
  const rss = () => process.memoryUsage().rss;
  const base = rss();
  let peak = base;
  const timer = setInterval(() => peak = Math.max(peak, rss()), 2);
  const t = performance.now();
  if (name === "source") {
    // The file stream alone: what the source costs before any client.
    for await (const _ of await fileStream(file)) peak = Math.max(peak, rss());
  } else if (name === "socket") {
    // The runtime's socket alone: RETR read and dropped, nothing parsed
    // (on Bun with Bun.connect, the sockets its connector uses).
    const bun = (globalThis as {
      Bun?: {
        connect(o: {
          hostname: string;
          port: number;
          socket: Record<string, unknown>;
        }): Promise<unknown>;
      };
    }).Bun;
    if (bun) {
      await new Promise<void>((resolve) => {
        let seen = 0;
        bun.connect({
          hostname: "127.0.0.1",
          port: Number(port),
          socket: {
            open(sock: { write(b: string): void }) {
              sock.write("USER big\r\nPASS x\r\nRETR 1\r\n");
            },
            data(sock: { terminate(): void }, d: Uint8Array) {
              seen += d.length;
              peak = Math.max(peak, rss());
              if (seen >= 50 * MIB) {
                sock.terminate();
                resolve();
              }
            },
          },
        });
      });
    } else {
      const net = await import("node:net");
      await new Promise<void>((resolve) => {
        const sock = net.connect({ port: Number(port), host: "127.0.0.1" });
        let seen = 0;
        sock.write("USER big\r\nPASS x\r\nRETR 1\r\n");
        sock.on("data", (d: Uint8Array) => {
          seen += d.length;
          peak = Math.max(peak, rss());
          if (seen >= 50 * MIB) {
            sock.destroy();
            resolve();
          }
        });
      });
    }
  } else if (name === "retrStream") {
    const client = await Pop3Client.connect({
      hostname: "127.0.0.1",
      port: Number(port),
      tls: "none",
      allowInsecureAuth: true,
      auth: { username: "big", password: "x" },
    });
    let n = 0;
    for await (const chunk of await client.retrStream(1)) {
      n += chunk.length;
      peak = Math.max(peak, rss());
    }
    await client.quit();
    if (n < 50 * MIB) throw new Error(`only ${n} bytes`);
  } else {
    const client = await SmtpClient.connect({
      hostname: "127.0.0.1",
      port: Number(port),
      tls: "none",
      chunking: name === "bdat",
      timeout: 120_000,
    });
    await client.sendMail({
      from: "a@mail.test",
      to: "b@mail.test",
      data: await fileStream(file),
    });
    await client.quit();
  }
  clearInterval(timer);
  peak = Math.max(peak, rss());
  console.log(JSON.stringify({
    growth: (peak - base) / MIB,
    ms: performance.now() - t,
  }));
  process.exit(0);
}

const file = join(tmpdir(), `mailwire-memory-${process.pid}.eml`);
writeFileSync(file, bigLf());
const sink = await startSink();
const s = { ...sink.ports, stop: sink.stop };
const runtime = "Deno" in globalThis ? "deno" : "bun";
const exe = process.execPath;
const pre = runtime === "deno" ? ["run", "-A"] : [];
try {
  for (const name of ["source", "data", "bdat", "socket", "retrStream"]) {
    const port = name === "retrStream" || name === "socket" ? s.pop3 : s.smtp;
    const r = spawnSync(
      exe,
      [...pre, self, "--case", name, String(port), file],
      {
        encoding: "utf8",
      },
    );
    const line = r.stdout.trim().split("\n").pop() ?? "";
    try {
      const { growth, ms } = JSON.parse(line);
      console.log(
        `${runtime} ${name.padEnd(10)} 50 MiB: peak RSS growth ${
          growth.toFixed(1)
        } MiB, ${ms.toFixed(0)} ms`,
      );
    } catch {
      console.log(`${runtime} ${name}: failed: ${r.stderr || line}`);
    }
  }
} finally {
  s.stop();
}
