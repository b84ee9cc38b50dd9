/**
 * Memory of streamed bodies, each case in a fresh process of this runtime:
 * a 50 MiB message from a file stream sent with DATA and with BDAT, and a
 * 50 MiB message read with retrStream (and one of 200 MiB, to show the
 * growth does not follow the size), with the file stream alone and the
 * runtime's socket alone as references. Prints the peak RSS growth (MiB)
 * over the process's RSS just before the exchange (its connect included),
 * twice: cold (the process's first exchange) and after a warm-up (the same
 * exchange with 5 MiB first, in the same process: what a message costs once
 * the runtime has compiled the code it runs; a cold process also pays for
 * the compiler). The bench's servers run in their own Node process.
 *
 *   node_modules/.bin/deno run -A bench/memory.ts
 *   node_modules/.bin/bun bench/memory.ts
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { createReadStream, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Pop3Client } from "../pop3/mod.ts";
import { SmtpClient } from "../smtp/mod.ts";
import { bigLf } from "./data.mjs";
import { control, startSink } from "./start_sink.ts";

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

/** One exchange of case `name`; `input` is the file (SMTP) or the POP3 user. */
async function exchange(
  name: string,
  port: number,
  input: string,
  sample: () => void,
): Promise<void> {
  if (name === "source") {
    // The file stream alone: what the source costs before any client.
    for await (const _ of await fileStream(input)) sample();
  } else if (name === "socket") {
    // The runtime's socket alone: RETR read and dropped, nothing parsed
    // (on Bun with Bun.connect, the sockets its connector uses).
    const size = SIZES[input];
    const bun = (globalThis as {
      Bun?: {
        connect(o: {
          hostname: string;
          port: number;
          socket: Record<string, unknown>;
        }): Promise<unknown>;
      };
    }).Bun;
    const login = `USER ${input}\r\nPASS x\r\nRETR 1\r\n`;
    if (bun) {
      await new Promise<void>((resolve) => {
        let seen = 0;
        bun.connect({
          hostname: "127.0.0.1",
          port,
          socket: {
            open(sock: { write(b: string): void }) {
              sock.write(login);
            },
            data(sock: { terminate(): void }, d: Uint8Array) {
              seen += d.length;
              sample();
              if (seen >= size) {
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
        const sock = net.connect({ port, host: "127.0.0.1" });
        let seen = 0;
        sock.write(login);
        sock.on("data", (d: Uint8Array) => {
          seen += d.length;
          sample();
          if (seen >= size) {
            sock.destroy();
            resolve();
          }
        });
      });
    }
  } else if (name === "retrStream") {
    const client = await Pop3Client.connect({
      hostname: "127.0.0.1",
      port,
      tls: "none",
      allowInsecureAuth: true,
      auth: { username: input, password: "x" },
    });
    let n = 0;
    for await (const chunk of await client.retrStream(1)) {
      n += chunk.length;
      sample();
    }
    await client.quit();
    if (n < SIZES[input]) throw new Error(`only ${n} bytes`);
  } else {
    const client = await SmtpClient.connect({
      hostname: "127.0.0.1",
      port,
      tls: "none",
      chunking: name === "bdat",
      timeout: 120_000,
    });
    await client.sendMail({
      from: "a@mail.test",
      to: "b@mail.test",
      data: await fileStream(input),
    });
    await client.quit();
  }
}

/** Bytes of each POP3 user's message (at least: CRLF makes it longer). */
const SIZES: Record<string, number> = {
  big5: 5 * MIB,
  big: 50 * MIB,
  big200: 200 * MIB,
};

if (argv[0] === "--case") {
  // One case, in this fresh process; after a warm-up when one is given.
  const [, name, port, input, warmup] = argv;
  const rss = () => process.memoryUsage().rss;
  if (warmup) await exchange(name, Number(port), warmup, () => {});
  const base = rss();
  let peak = base;
  const sample = () => {
    peak = Math.max(peak, rss());
  };
  const timer = setInterval(sample, 2);
  const t = performance.now();
  await exchange(name, Number(port), input, sample);
  const ms = performance.now() - t;
  clearInterval(timer);
  sample();
  console.log(JSON.stringify({ growth: (peak - base) / MIB, ms }));
  process.exit(0);
}

const file = join(tmpdir(), `mailwire-memory-${process.pid}.eml`);
const small = join(tmpdir(), `mailwire-memory-${process.pid}-5.eml`);
writeFileSync(file, bigLf());
writeFileSync(small, bigLf(5 * MIB));
const sink = await startSink();
// Build the sized mailboxes now, not at the first login of a measured case.
for (const user of ["big5", "big200"]) {
  await control(sink.ports.control, `pop3 ${user}`);
}
const runtime = "Deno" in globalThis ? "deno" : "bun";
const exe = process.execPath;
const pre = runtime === "deno" ? ["run", "-A"] : [];
/** Runs one case in a fresh process: its growth and time, or why not. */
function measure(
  name: string,
  input: string,
  warmup: string,
): { growth: number; ms: number } | string {
  const pop3 = name === "retrStream" || name === "socket";
  const port = pop3 ? sink.ports.pop3 : sink.ports.smtp;
  const args = [...pre, self, "--case", name, String(port), input];
  if (warmup) args.push(warmup);
  const r = spawnSync(exe, args, { encoding: "utf8" });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line);
  } catch {
    return `failed: ${r.stderr || line}`;
  }
}
const show = (m: { growth: number; ms: number } | string) =>
  typeof m === "string"
    ? m
    : `${m.growth.toFixed(1).padStart(5)} MiB ${
      m.ms.toFixed(0).padStart(5)
    } ms`;
try {
  const cases: [string, string, string, string][] = [
    ["source", "50 MiB", file, small],
    ["data", "50 MiB", file, small],
    ["bdat", "50 MiB", file, small],
    ["socket", "50 MiB", "big", "big5"],
    ["retrStream", "50 MiB", "big", "big5"],
    ["socket", "200 MiB", "big200", "big5"],
    ["retrStream", "200 MiB", "big200", "big5"],
  ];
  console.log(`${runtime}: peak RSS growth, cold | after a 5 MiB warm-up`);
  for (const [name, size, input, warmup] of cases) {
    const cold = measure(name, input, "");
    const warm = measure(name, input, warmup);
    console.log(
      `${runtime} ${name.padEnd(10)} ${size.padStart(7)}: ${show(cold)} | ${
        show(warm)
      }`,
    );
  }
} finally {
  sink.stop();
  rmSync(file, { force: true });
  rmSync(small, { force: true });
}
