// Test helper run in fresh processes by tests/memory_test.ts: `serve` (a POP3 server whose message N is N MiB of dot-stuffed lines), `read PORT` (retrStream's RSS growth for 50 and 200 MiB after a 5 MiB warm-up).
import { createServer, type Socket } from "node:net";
import process from "node:process";
import { serveForParent } from "../tests/fakes/child_server.ts";
import { Pop3Client } from "./client.ts";

const MiB = 1024 * 1024;

/** 64 KiB of the message, stuffed for the wire, and its size unstuffed: 80-byte lines, every eighth dot-led. */
const BLOCK = (() => {
  const lines: string[] = [];
  for (let n = 0, size = 0; size < 64 * 1024; n++) {
    const line = (n % 8 === 7 ? "." : "x") + "y".repeat(77) + "\r\n";
    lines.push(line);
    size += line.length;
  }
  const raw = lines.join("");
  const wire = lines.map((l) => l.startsWith(".") ? "." + l : l).join("");
  return { wire: new TextEncoder().encode(wire), bytes: raw.length };
})();

/** The unstuffed size of message `n` (whole blocks, at least `n` MiB). */
function messageBytes(n: number): number {
  const { bytes } = BLOCK;
  return Math.ceil(n * MiB / bytes) * bytes;
}

function serve(): void {
  const { wire, bytes } = BLOCK;
  const server = createServer((socket: Socket) => {
    let buf = "";
    const send = async (n: number) => {
      socket.write("+OK message follows\r\n");
      for (let sent = 0; sent < n * MiB; sent += bytes) {
        if (!socket.write(wire)) {
          await new Promise<void>((r) => socket.once("drain", () => r()));
        }
      }
      socket.write(".\r\n");
    };
    let queue = Promise.resolve();
    socket.on("data", (d: Uint8Array) => {
      buf += new TextDecoder().decode(d);
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        const [verb, arg] = line.split(" ");
        queue = queue.then(() => {
          switch (verb.toUpperCase()) {
            case "CAPA":
              socket.write("+OK\r\nUSER\r\n.\r\n");
              return;
            case "RETR":
              return send(Number(arg));
            case "QUIT":
              socket.end("+OK bye\r\n");
              return;
            default:
              socket.write("+OK\r\n");
          }
        });
      }
    });
    socket.on("error", () => {});
    socket.write("+OK ready\r\n");
  });
  serveForParent(server);
}

async function read(port: number): Promise<void> {
  const client = await Pop3Client.connect({
    hostname: "127.0.0.1",
    port,
    tls: "none",
    allowInsecureAuth: true,
    auth: { username: "u", password: "p" },
    timeout: 60_000,
  });
  const rss = () => process.memoryUsage().rss;
  // Growth over the RSS after the first message (the warm-up): the peak
  // while each later one is read.
  const growth: Record<string, number> = {};
  let base = 0;
  for (const n of [5, 50, 200]) {
    let peak = rss();
    let total = 0;
    let chunks = 0;
    for await (const chunk of await client.retrStream(n)) {
      total += chunk.length;
      if ((++chunks & 7) === 0) peak = Math.max(peak, rss());
    }
    peak = Math.max(peak, rss());
    if (total !== messageBytes(n)) {
      throw new Error(`message ${n}: ${total} bytes, not ${messageBytes(n)}`);
    }
    if (n === 5) base = rss();
    else growth[n] = (peak - base) / MiB;
  }
  await client.quit();
  console.log(JSON.stringify(growth));
}

if (process.argv.includes("serve")) serve();
else if (process.argv.includes("read")) {
  await read(Number(process.argv[process.argv.indexOf("read") + 1]));
  process.exit(0);
}
