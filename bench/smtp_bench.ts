/**
 * SMTP send throughput, three clients in one run against the same local sink
 * (`tests/fakes/mail_server.mjs --no-auth --no-tls --no-store`, a separate
 * Node process): a raw hand-written pipelined client (the floor: no
 * validation, no parsing beyond reply codes), nodemailer (pooled, one
 * connection) and mailwire. Prints messages/second and the ratios, which are
 * what to compare: absolute times on a shared machine are noise.
 *
 *   bun bench/smtp_bench.ts [--small N] [--large N] [--rounds R]
 *   deno run -A bench/smtp_bench.ts
 */
import { spawn } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { SmtpClient } from "../smtp/mod.ts";

const args = new Map<string, string>();
const argv = (globalThis as { process?: { argv: string[] } }).process?.argv ??
  [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i].startsWith("--")) args.set(argv[i].slice(2), argv[i + 1]);
}
const SMALL = Number(args.get("small") ?? 2000);
const LARGE = Number(args.get("large") ?? 40);
const ROUNDS = Number(args.get("rounds") ?? 3);
const FROM = "bench@mail.test";
const TO = "alice@mail.test";

function makeMessage(bodyBytes: number): string {
  const line =
    "The quick brown fox jumps over the lazy dog 0123456789 abcdefghij\r\n";
  const head = `From: ${FROM}\r\nTo: ${TO}\r\nSubject: bench\r\n\r\n`;
  return head + line.repeat(Math.ceil(bodyBytes / line.length));
}

async function startSink(): Promise<{ port: number; stop(): void }> {
  const child = spawn("node", [
    fileURLToPath(new URL("../tests/fakes/mail_server.mjs", import.meta.url)),
    "--no-auth",
    "--no-tls",
    "--no-store",
  ], { stdio: ["pipe", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Uint8Array) => {
      out += new TextDecoder().decode(c);
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)).smtpPort);
    });
    setTimeout(() => reject(new Error("sink did not start")), 10_000);
  });
  return { port, stop: () => child.kill("SIGTERM") };
}

/** The floor: MAIL + RCPT + BDAT LAST + body in one write, count 3 replies. */
async function rawClient(
  port: number,
  message: Uint8Array,
  n: number,
): Promise<void> {
  const sock = net.connect({ port, host: "127.0.0.1", noDelay: true });
  let finals = 0; // final reply lines ("NNN " or "NNN") seen so far
  let lineStart = 0; // offset of the current line within `rest`
  let rest: Uint8Array = new Uint8Array(0);
  let wake: (() => void) | undefined;
  sock.on("data", (d: Uint8Array) => {
    const buf = rest.length ? concat(rest.subarray(lineStart), d) : d;
    let start = 0;
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, start)) {
      if (i - start <= 5 || buf[start + 3] === 32) finals++;
      start = i + 1;
    }
    rest = buf;
    lineStart = start;
    wake?.();
  });
  let want = 0;
  const replies = async (count: number) => {
    want += count;
    while (finals < want) await new Promise<void>((r) => wake = r);
  };
  await replies(1); // greeting
  sock.write("EHLO bench\r\n");
  await replies(1);
  const head = new TextEncoder().encode(
    `MAIL FROM:<${FROM}>\r\nRCPT TO:<${TO}>\r\nBDAT ${message.length} LAST\r\n`,
  );
  for (let i = 0; i < n; i++) {
    sock.cork();
    sock.write(head);
    sock.write(message);
    sock.uncork();
    await replies(3);
  }
  sock.end("QUIT\r\n");
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

async function nodemailerClient(
  port: number,
  message: string,
  n: number,
): Promise<void> {
  const nodemailer = (await import("nodemailer")).default;
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: 1,
    maxMessages: Infinity,
  });
  for (let i = 0; i < n; i++) {
    await transport.sendMail({
      envelope: { from: FROM, to: [TO] },
      raw: message,
    });
  }
  transport.close();
}

async function mailwireClient(
  port: number,
  message: Uint8Array,
  n: number,
): Promise<void> {
  const client = await SmtpClient.connect({
    hostname: "127.0.0.1",
    port,
    tls: "none",
  });
  for (let i = 0; i < n; i++) {
    await client.sendMail({ from: FROM, to: TO, data: message });
  }
  await client.quit();
}

async function time(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const sink = await startSink();
const runtime = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";
console.log(
  `mailwire smtp bench on ${runtime}: ${ROUNDS} rounds, best of each`,
);
try {
  for (
    const [label, size, n] of [["1 KiB", 1024, SMALL], [
      "1 MiB",
      1 << 20,
      LARGE,
    ]] as const
  ) {
    const text = makeMessage(size);
    const bytes = new TextEncoder().encode(text);
    const best = { raw: Infinity, nodemailer: Infinity, mailwire: Infinity };
    for (let r = 0; r < ROUNDS; r++) {
      best.raw = Math.min(
        best.raw,
        await time(() => rawClient(sink.port, bytes, n)),
      );
      best.nodemailer = Math.min(
        best.nodemailer,
        await time(() => nodemailerClient(sink.port, text, n)),
      );
      best.mailwire = Math.min(
        best.mailwire,
        await time(() => mailwireClient(sink.port, bytes, n)),
      );
    }
    const rate = (ms: number) => (n / (ms / 1000)).toFixed(0);
    console.log(
      `${label} x ${n}: raw ${rate(best.raw)} msg/s, nodemailer ${
        rate(best.nodemailer)
      } msg/s, ` +
        `mailwire ${rate(best.mailwire)} msg/s | mailwire/raw time ${
          (best.mailwire / best.raw).toFixed(2)
        }x, ` +
        `nodemailer/mailwire time ${
          (best.nodemailer / best.mailwire).toFixed(2)
        }x`,
    );
  }
} finally {
  sink.stop();
}
