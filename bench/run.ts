/**
 * The project's benchmark: SMTP and POP3 clients side by side in one run,
 * against the lean servers of `bench/sink.mjs` (a separate Node process),
 * directly (0 ms) and through its delay proxy (10 ms of round trip,
 * measured at start). Every run checks the bytes the server received or
 * the client returned, and records the peak RSS growth.
 *
 * Candidates: a raw floor in plain JS (`node:net`, one round trip per
 * message), mailwire with CHUNKING and with DATA only, nodemailer; for
 * POP3 a raw floor, mailwire and node-pop3. Each repetition runs every
 * candidate of a workload in a rotated order; the table shows the median
 * of the per-repetition ratios to the floor (lower is faster).
 *
 *   node_modules/.bin/deno run -A bench/run.ts [--reps N] [--only NAME] [--rtt 0|10] [--warmup 0] [--json FILE]
 *   node_modules/.bin/bun bench/run.ts [...]
 *   npm run bench      (both runtimes, pinned with taskset when present)
 *
 * @module
 */
import { createReadStream, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Readable } from "node:stream";
import { SmtpClient } from "../smtp/mod.ts";
import { Pop3Client } from "../pop3/mod.ts";
import { bigLf, fnv, message, stuff, toCrlf } from "./data.mjs";
import { control, startSink } from "./start_sink.ts";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a.startsWith("--")) args.set(a.slice(2), process.argv[i + 1] ?? "");
}
const REPS = Number(args.get("reps") ?? 5);
const ONLY = args.get("only");
const ONLY_RTT = args.get("rtt");
/** `--warmup 0`: no warm-up runs (cold code, as a short script runs it). */
const WARMUP = Number(args.get("warmup") ?? 1);
const RUNTIME = "Deno" in globalThis
  ? "deno"
  : "Bun" in globalThis
  ? "bun"
  : "node";
const MIB = 1024 * 1024;
const FROM = "bench@mail.test";

// ---- servers --------------------------------------------------------------

// ---- a tiny raw line client (the floors) -------------------------------------

/** Counts reply lines and hands out raw bytes; for the floors only. */
class Raw {
  sock: net.Socket;
  #chunks: Uint8Array[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  constructor(port: number) {
    this.sock = net.connect({ port, host: "127.0.0.1", noDelay: true });
    this.sock.on("data", (d: Uint8Array) => {
      this.#chunks.push(d);
      this.#wake?.();
    });
    this.sock.on("close", () => {
      this.#ended = true;
      this.#wake?.();
    });
    this.sock.on("error", () => {});
  }
  /**
   * QUIT, then wait for the reply and the server's close, as a client
   * should (RFC 5321 4.1.1.10; POP3's +OK confirms the update).
   */
  async quit(): Promise<void> {
    this.sock.write("QUIT\r\n");
    while (!this.#ended) {
      this.#chunks.length = 0;
      await new Promise<void>((r) => this.#wake = r);
    }
  }
  async more(): Promise<Uint8Array> {
    while (this.#chunks.length === 0) {
      if (this.#ended) throw new Error("connection closed");
      await new Promise<void>((r) => this.#wake = r);
    }
    return this.#chunks.shift()!;
  }
}

/** SMTP floor: MAIL, RCPTs, DATA, the stuffed body and the dot in one write; then wait for every reply. */
async function smtpFloor(
  port: number,
  messages: Uint8Array[],
  rcpts: string[],
): Promise<void> {
  const c = new Raw(port);
  let carry = 0; // bytes of an unfinished line seen so far
  let finals = 0;
  let want = 0;
  let pending: Uint8Array | undefined;
  const replies = async (n: number) => {
    want += n;
    while (finals < want) {
      const d = pending ?? await c.more();
      pending = undefined;
      let start = 0;
      for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, start)) {
        // A final reply line: "NNN " (or "NNN" alone).
        const len = i - start + carry;
        const sep = carry > 0 ? 32 : d[start + 3];
        if (len <= 5 || sep === 32) finals++;
        carry = 0;
        start = i + 1;
      }
      carry += d.length - start;
    }
  };
  await replies(1);
  c.sock.write("EHLO floor\r\n");
  await replies(1);
  const enc = new TextEncoder();
  const head = enc.encode(
    `MAIL FROM:<${FROM}>\r\n${
      rcpts.map((r) => `RCPT TO:<${r}>\r\n`).join("")
    }DATA\r\n`,
  );
  const dot = enc.encode(".\r\n");
  for (const m of messages) {
    c.sock.cork();
    c.sock.write(head);
    c.sock.write(stuff(m));
    c.sock.write(dot);
    c.sock.uncork();
    await replies(rcpts.length + 3);
  }
  await c.quit();
}

/** SMTP floor for a stream: CRLF-normalise and stuff each chunk with a byte loop, written as it comes. */
async function smtpFloorStream(
  port: number,
  open: () => AsyncIterable<Uint8Array>,
): Promise<void> {
  const c = new Raw(port);
  await c.more();
  // MAIL only after the EHLO reply: PIPELINING must be advertised first.
  c.sock.write("EHLO floor\r\n");
  let text = "";
  while (!/^250 /m.test(text)) text += new TextDecoder().decode(await c.more());
  text = "";
  c.sock.write(
    `MAIL FROM:<${FROM}>\r\nRCPT TO:<alice@mail.test>\r\nDATA\r\n`,
  );
  while ((text.match(/^354/m) ?? []).length === 0) {
    text += new TextDecoder().decode(await c.more());
  }
  let lineStart = true;
  let prevCr = false;
  for await (const chunk of open()) {
    const out = new Uint8Array(chunk.length * 2);
    let o = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === 10 && !prevCr) out[o++] = 13;
      if (lineStart && b === 46) out[o++] = 46;
      out[o++] = b;
      prevCr = b === 13;
      lineStart = b === 10;
    }
    if (!c.sock.write(out.subarray(0, o))) {
      await new Promise((r) => c.sock.once("drain", r));
    }
  }
  c.sock.write(".\r\n");
  for (;;) {
    text += new TextDecoder().decode(await c.more());
    if (/^250 2\.0\.0 queued/m.test(text)) break;
  }
  await c.quit();
}

/** POP3 floor: USER+PASS in one write, LIST, then every RETR in one write; bodies unstuffed. */
async function pop3Floor(
  port: number,
  user: string,
  onMessage: (m: Uint8Array) => void,
  streamOne = false,
): Promise<void> {
  const c = new Raw(port);
  let buf: Uint8Array = new Uint8Array(0);
  const need = async () => {
    const d = await c.more();
    if (buf.length === 0) buf = d;
    else {
      const j = new Uint8Array(buf.length + d.length);
      j.set(buf);
      j.set(d, buf.length);
      buf = j;
    }
  };
  const line = async (): Promise<string> => {
    for (;;) {
      const i = buf.indexOf(10);
      if (i >= 0) {
        const l = new TextDecoder().decode(buf.subarray(0, i - 1));
        buf = buf.subarray(i + 1);
        return l;
      }
      await need();
    }
  };
  await line();
  c.sock.write(`USER ${user}\r\nPASS x\r\n`);
  await line();
  await line();
  c.sock.write("LIST\r\n");
  await line();
  const sizes: number[] = [];
  for (let l = await line(); l !== "."; l = await line()) {
    sizes.push(Number(l.split(" ")[1]));
  }
  c.sock.write(sizes.map((_, i) => `RETR ${i + 1}\r\n`).join(""));
  for (const size of sizes) {
    await line();
    // Unstuff lines up to ".\r\n" into a buffer of the listed size.
    const out = streamOne ? new Uint8Array(64 * 1024) : new Uint8Array(size);
    let o = 0;
    for (;;) {
      let i = buf.indexOf(10);
      while (i < 0) {
        await need();
        i = buf.indexOf(10);
      }
      let s = 0;
      if (buf[0] === 46) {
        if (i === 2) {
          buf = buf.subarray(3);
          break;
        }
        s = 1;
      }
      const l = buf.subarray(s, i + 1);
      if (streamOne) {
        if (o + l.length > out.length) {
          onMessage(out.subarray(0, o));
          o = 0;
        }
        out.set(l, o);
      } else out.set(l, o);
      o += l.length;
      buf = buf.subarray(i + 1);
    }
    onMessage(out.subarray(0, o));
  }
  await c.quit();
}

// ---- the candidates ---------------------------------------------------------

interface Workload {
  name: string;
  kind: "smtp" | "pop3";
  candidates: Record<string, (port: number) => Promise<void>>;
  /** After each candidate: throws when the bytes are wrong. */
  check(candidate: string, ctl: number): Promise<void>;
  before?(ctl: number): Promise<void>;
  /**
   * Untimed runs of every candidate before the timed ones (0 ms only):
   * enough for 2,000 messages, so the JIT compilers are done and the table
   * compares steady-state costs. The first one's time is shown as "cold".
   */
  warmup: number;
}

const small = Array.from({ length: 2000 }, (_, i) => message(1024, i));
const fifty = Array.from({ length: 50 }, (_, i) => `r${i}@mail.test`);
const few = Array.from({ length: 200 }, (_, i) => message(1024, i));
const bigFile = join(tmpdir(), `mailwire-bench-${process.pid}.eml`);
const bigRaw = bigLf();
writeFileSync(bigFile, bigRaw);
const bigCrlf = toCrlf(bigRaw);
const fileStream = (): ReadableStream<Uint8Array> =>
  Readable.toWeb(
    createReadStream(bigFile, { highWaterMark: 64 * 1024 }),
  ) as unknown as ReadableStream<Uint8Array>;

function expectSmtp(messages: Uint8Array[], rcpts: number) {
  let hash = 0, bytes = 0;
  for (const m of messages) {
    hash = (hash + fnv(m)) >>> 0;
    bytes += m.length;
  }
  return async (name: string, ctl: number) => {
    const s = await control(ctl, "stats");
    if (
      s.messages !== messages.length || s.bytes !== bytes ||
      s.hash !== hash || s.rcpts !== messages.length * rcpts
    ) {
      throw new Error(
        `${name}: the sink got ${s.messages} messages, ${s.bytes} bytes, hash ${s.hash} (want ${messages.length}, ${bytes}, ${hash})`,
      );
    }
  };
}

async function mailwireSmtp(
  port: number,
  chunking: boolean,
  messages: Uint8Array[],
  to: string[],
): Promise<void> {
  const client = await SmtpClient.connect({
    hostname: "127.0.0.1",
    port,
    tls: "none",
    chunking,
    timeout: 600_000,
  });
  const results = await client.sendMany(
    messages.map((data) => ({ from: FROM, to, data })),
    { timeout: 600_000 },
  );
  const bad = results.find((r) => !r.ok);
  if (bad && !bad.ok) throw bad.error;
  await client.quit();
}

async function nodemailerSmtp(
  port: number,
  messages: (Uint8Array | (() => unknown))[],
  to: string[],
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
  for (const m of messages) {
    await transport.sendMail({
      envelope: { from: FROM, to },
      raw: typeof m === "function" ? m() : Buffer.from(m),
    } as never);
  }
  transport.close();
}

let popHash = 0;
let popBytes = 0;
const collect = (m: Uint8Array) => {
  popHash = (popHash + fnv(m)) >>> 0;
  popBytes += m.length;
};
let streamHash = 0x811c9dc5;
const streamCollect = (m: Uint8Array) => {
  streamHash = fnv(m, 0, m.length, streamHash);
  popBytes += m.length;
};

async function popCheck(name: string, ctl: number, box: string) {
  const want = await control(ctl, `pop3 ${box}`);
  const hash = box === "big" ? streamHash : popHash;
  if (popBytes !== want.bytes || hash !== want.hash) {
    throw new Error(
      `${name}: got ${popBytes} bytes, hash ${hash} (want ${want.bytes}, ${want.hash})`,
    );
  }
}

function popReset() {
  popHash = 0;
  popBytes = 0;
  streamHash = 0x811c9dc5;
}

async function mailwirePop(port: number, user: string, stream: boolean) {
  const client = await Pop3Client.connect({
    hostname: "127.0.0.1",
    port,
    tls: "none",
    allowInsecureAuth: true,
    auth: { username: user, password: "x" },
    timeout: 600_000,
  });
  if (stream) {
    const body = await client.retrStream(1);
    for await (const chunk of body) streamCollect(chunk);
  } else {
    const list = await client.list();
    const messages = await client.retrMany(list.map((m) => m.id));
    for (const m of messages) collect(m);
  }
  await client.quit();
}

async function nodePop3(port: number, user: string, stream: boolean) {
  const Pop3Command = (await import("node-pop3")).default;
  const pop3 = new Pop3Command({
    user,
    password: "x",
    host: "127.0.0.1",
    port,
  });
  const enc = new TextEncoder();
  const list = await pop3.LIST() as unknown as string[][];
  for (const [id] of list) {
    const text = await pop3.RETR(Number(id));
    const bytes = enc.encode(text);
    if (stream) streamCollect(bytes);
    else collect(bytes);
  }
  await pop3.QUIT();
}

const workloads: Workload[] = [
  {
    name: "2,000 × 1 KiB",
    warmup: 1,
    kind: "smtp",
    candidates: {
      floor: (p) => smtpFloor(p, small, ["alice@mail.test"]),
      "mailwire chunking": (p) =>
        mailwireSmtp(p, true, small, ["alice@mail.test"]),
      "mailwire data": (p) =>
        mailwireSmtp(p, false, small, ["alice@mail.test"]),
      nodemailer: (p) => nodemailerSmtp(p, small, ["alice@mail.test"]),
    },
    check: expectSmtp(small, 1),
  },
  {
    name: "200 × 1 KiB × 50 rcpts",
    warmup: 10,
    kind: "smtp",
    candidates: {
      floor: (p) => smtpFloor(p, few, fifty),
      "mailwire chunking": (p) => mailwireSmtp(p, true, few, fifty),
      "mailwire data": (p) => mailwireSmtp(p, false, few, fifty),
      nodemailer: (p) => nodemailerSmtp(p, few, fifty),
    },
    check: expectSmtp(few, 50),
  },
  {
    name: "1 × 50 MiB stream (LF, dot lines)",
    warmup: 1,
    kind: "smtp",
    candidates: {
      floor: (p) =>
        smtpFloorStream(
          p,
          () => createReadStream(bigFile, { highWaterMark: 64 * 1024 }),
        ),
      "mailwire chunking": async (p) => {
        const client = await SmtpClient.connect({
          hostname: "127.0.0.1",
          port: p,
          tls: "none",
          timeout: 600_000,
        });
        await client.sendMail({
          from: FROM,
          to: "alice@mail.test",
          data: fileStream(),
        });
        await client.quit();
      },
      "mailwire data": async (p) => {
        const client = await SmtpClient.connect({
          hostname: "127.0.0.1",
          port: p,
          tls: "none",
          chunking: false,
          timeout: 600_000,
        });
        await client.sendMail({
          from: FROM,
          to: "alice@mail.test",
          data: fileStream(),
        });
        await client.quit();
      },
      nodemailer: (p) =>
        nodemailerSmtp(p, [() => createReadStream(bigFile)], [
          "alice@mail.test",
        ]),
    },
    check: expectSmtp([bigCrlf], 1),
  },
  {
    name: "POP3 LIST + RETR 2,000 × 4 KiB",
    warmup: 1,
    kind: "pop3",
    candidates: {
      floor: (p) => pop3Floor(p, "small", collect),
      mailwire: (p) => mailwirePop(p, "small", false),
      "node-pop3": (p) => nodePop3(p, "small", false),
    },
    check: (name, ctl) => popCheck(name, ctl, "small"),
  },
  {
    name: "POP3 RETR 1 × 50 MiB (stream)",
    warmup: 1,
    kind: "pop3",
    candidates: {
      floor: (p) => pop3Floor(p, "big", streamCollect, true),
      mailwire: (p) => mailwirePop(p, "big", true),
      "node-pop3": (p) => nodePop3(p, "big", true),
    },
    check: (name, ctl) => popCheck(name, ctl, "big"),
  },
];

// ---- measuring --------------------------------------------------------------

interface Sample {
  ms: number;
  rssMiB: number;
  /** Why the bytes were wrong, if they were. */
  wrong?: string;
}

/**
 * A collection before each candidate, so none pays for another's garbage:
 * a full one on Bun; a minor one on V8 (Deno), where a forced full
 * collection (`gc()`) throws away the compiled code of everything that ran
 * before, so the candidate measured next runs cold (measured: 200 × 50
 * recipients over DATA took 35–40 ms after each `gc()`, 15–22 ms after a
 * minor one) and a large library paid far more than the small floor.
 */
function collectGarbage(): void {
  const g = globalThis as {
    gc?: (options?: { type: "minor" | "major" }) => void;
    Bun?: { gc(force: boolean): void };
  };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.({ type: "minor" });
}

async function measure(fn: () => Promise<void>): Promise<Sample> {
  collectGarbage();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    const r = process.memoryUsage().rss;
    if (r > peak) peak = r;
  }, 5);
  const t = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  const ms = performance.now() - t;
  peak = Math.max(peak, process.memoryUsage().rss);
  return { ms, rssMiB: (peak - base) / MIB };
}

async function rtt(port: number): Promise<number> {
  const c = new Raw(port);
  await c.more();
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    c.sock.write("NOOP\r\n");
    await c.more();
    times.push(performance.now() - t);
  }
  c.sock.end("QUIT\r\n");
  return median(times);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const sink = await startSink();
const { ports } = sink;
const measuredRtt = await rtt(ports.smtpDelayed);
console.log(
  `mailwire bench on ${RUNTIME}: ${REPS} repetitions, rotated order; delay proxy RTT ${
    measuredRtt.toFixed(1)
  } ms`,
);
interface Row {
  runtime: string;
  workload: string;
  rtt: number;
  candidate: string;
  msMedian: number;
  ratio: number;
  rssMiB: number;
  /** The first (untimed) warm-up run, when there was one. */
  coldMs?: number;
  wrong?: string;
}
const rows: Row[] = [];
try {
  for (const w of workloads) {
    for (const delayed of [false, true]) {
      const label = `${w.name}, ${delayed ? "10 ms" : "0 ms"}`;
      if (ONLY && !w.name.includes(ONLY)) continue;
      if (ONLY_RTT && ONLY_RTT !== (delayed ? "10" : "0")) continue;
      const port = w.kind === "smtp"
        ? (delayed ? ports.smtpDelayed : ports.smtp)
        : (delayed ? ports.pop3Delayed : ports.pop3);
      const names = Object.keys(w.candidates);
      // The slow clients at 10 ms: fewer repetitions (their time is round trips).
      const reps = delayed && w.name.startsWith("2,000 × 1 KiB")
        ? Math.min(REPS, 3)
        : REPS;
      const samples = new Map<string, Sample[]>(names.map((n) => [n, []]));
      const ratios = new Map<string, number[]>(names.map((n) => [n, []]));
      const cold = new Map<string, number>();
      const warmups = delayed || WARMUP === 0 ? 0 : w.warmup;
      for (let r = 0; r < warmups; r++) {
        for (const name of names.map((_, i) => names[(i + r) % names.length])) {
          await control(ports.control, "reset");
          popReset();
          const s = await measure(() => w.candidates[name](port));
          if (!cold.has(name)) cold.set(name, s.ms);
        }
      }
      for (let r = 0; r < reps; r++) {
        const order = names.map((_, i) => names[(i + r) % names.length]);
        const rep = new Map<string, number>();
        for (const name of order) {
          await control(ports.control, "reset");
          popReset();
          const s = await measure(() => w.candidates[name](port));
          try {
            await w.check(name, ports.control);
          } catch (err) {
            s.wrong = (err as Error).message;
          }
          samples.get(name)!.push(s);
          rep.set(name, s.ms);
        }
        for (const name of names) {
          ratios.get(name)!.push(rep.get(name)! / rep.get("floor")!);
        }
      }
      for (const name of names) {
        const s = samples.get(name)!;
        rows.push({
          runtime: RUNTIME,
          workload: w.name,
          rtt: delayed ? measuredRtt : 0,
          candidate: name,
          msMedian: median(s.map((x) => x.ms)),
          ratio: median(ratios.get(name)!),
          rssMiB: Math.max(...s.map((x) => x.rssMiB)),
          coldMs: cold.get(name),
          wrong: s.find((x) => x.wrong)?.wrong,
        });
        const row = rows[rows.length - 1];
        console.log(
          `${label.padEnd(44)} ${name.padEnd(18)} ${
            row.msMedian.toFixed(1).padStart(9)
          } ms  ×${row.ratio.toFixed(2).padStart(6)} of floor  peak RSS +${
            row.rssMiB.toFixed(1)
          } MiB${
            row.coldMs === undefined ? "" : `  cold ${row.coldMs.toFixed(1)} ms`
          }${row.wrong ? `  WRONG BYTES: ${row.wrong}` : ""}`,
        );
      }
    }
  }
} finally {
  sink.stop();
}
const out = args.get("json");
if (out) {
  writeFileSync(out, JSON.stringify({ rtt: measuredRtt, rows }, null, 2));
}
process.exit(0);
