// Test helper run in fresh processes by tests/memory_test.ts: `serve` (an SMTP sink that counts the body bytes it receives, with DATA and BDAT), `send PORT` (sendMail's RSS growth for a 50 MiB stream over DATA and over BDAT, after a 5 MiB warm-up of each).
import { createServer, type Socket } from "node:net";
import process from "node:process";
import { serveForParent } from "../tests/fakes/child_server.ts";
import { SmtpClient } from "./client.ts";

const MiB = 1024 * 1024;

/** 64 KiB of CRLF lines, every eighth dot-led, and the number of dot-led lines in it. */
function block(): { bytes: Uint8Array; dots: number } {
  let text = "";
  let dots = 0;
  for (let n = 0; text.length < 64 * 1024 - 80; n++) {
    if (n % 8 === 7) dots++;
    text += (n % 8 === 7 ? "." : "x") + "y".repeat(77) + "\r\n";
  }
  return { bytes: new TextEncoder().encode(text), dots };
}

/**
 * A body of `count` blocks as a byte stream, as a file's stream is on Deno
 * (`Deno.open().readable`): read into the reader's own buffers when it
 * brings them, so only the client's memory is measured, not a source's
 * garbage.
 */
function body(count: number): ReadableStream<Uint8Array> {
  const { bytes } = block();
  const total = count * bytes.length;
  let pos = 0;
  return new ReadableStream({
    type: "bytes",
    pull(c) {
      const request = c.byobRequest;
      if (pos === total) {
        c.close();
        request?.respond(0); // a read waiting in the reader's own buffer
        return;
      }
      const view = request?.view
        ? new Uint8Array(
          request.view.buffer,
          request.view.byteOffset,
          request.view.byteLength,
        )
        : new Uint8Array(64 * 1024);
      const n = Math.min(view.length, total - pos);
      for (let o = 0; o < n;) {
        const at = (pos + o) % bytes.length;
        const k = Math.min(n - o, bytes.length - at);
        view.set(bytes.subarray(at, at + k), o);
        o += k;
      }
      pos += n;
      if (request?.view) request.respond(n);
      else c.enqueue(view.subarray(0, n));
    },
  });
}

const TERMINATOR = new TextEncoder().encode("\r\n.\r\n");

function serve(): void {
  const server = createServer((socket: Socket) => {
    let text = ""; // command lines (latin1)
    let mode: "command" | "data" | "bdat" = "command";
    let counted = 0; // body bytes of the message
    let bdatLeft = 0;
    let bdatLast = false;
    let tail = new Uint8Array(0); // DATA: the last bytes seen, for a split terminator
    const commands = (chunk: Uint8Array): Uint8Array | undefined => {
      text += Buffer.from(chunk).toString("latin1");
      for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n")) {
        const line = text.slice(0, nl).replace(/\r$/, "");
        const rest = Buffer.from(text.slice(nl + 1), "latin1");
        text = "";
        const [verb, ...args] = line.split(" ");
        switch (verb.toUpperCase()) {
          case "EHLO":
            socket.write(
              "250-sink\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n250 SIZE 1073741824\r\n",
            );
            break;
          case "DATA":
            socket.write("354 go ahead\r\n");
            mode = "data";
            counted = 0;
            tail = new Uint8Array(0);
            return rest;
          case "BDAT":
            mode = "bdat";
            bdatLeft = Number(args[0]);
            bdatLast = args[1]?.toUpperCase() === "LAST";
            if (bdatLeft > 0) return rest;
            socket.write(`250 ok ${counted}\r\n`); // BDAT 0 LAST
            if (bdatLast) counted = 0;
            mode = "command";
            break;
          case "QUIT":
            socket.end("221 bye\r\n");
            return undefined;
          default:
            socket.write("250 ok\r\n");
        }
        text = rest.toString("latin1");
      }
      return undefined;
    };
    const feed = (chunk: Uint8Array | undefined): void => {
      while (chunk !== undefined && chunk.length > 0) {
        if (mode === "command") {
          chunk = commands(chunk);
        } else if (mode === "bdat") {
          const n = Math.min(bdatLeft, chunk.length);
          counted += n;
          bdatLeft -= n;
          chunk = chunk.subarray(n);
          if (bdatLeft === 0) {
            socket.write(`250 ok ${counted}\r\n`);
            if (bdatLast) counted = 0;
            mode = "command";
          }
        } else {
          // DATA: find the terminator, possibly split across reads.
          const joined = Buffer.concat([tail, chunk]);
          const at = joined.indexOf(TERMINATOR);
          if (at < 0) {
            counted += chunk.length;
            tail = joined.subarray(Math.max(0, joined.length - 4));
            return;
          }
          // Bytes before the terminator's CRLF (which ends the last line).
          counted += at + 2 - tail.length;
          socket.write(`250 ok ${counted}\r\n`);
          mode = "command";
          chunk = joined.subarray(at + TERMINATOR.length);
        }
      }
    };
    socket.on("data", (d: Uint8Array) => feed(d));
    socket.on("error", () => {});
    socket.write("220 sink ready\r\n");
  });
  serveForParent(server);
}

async function send(port: number): Promise<void> {
  const rss = () => process.memoryUsage().rss;
  const { bytes, dots } = block();
  const growth: Record<string, number> = {};
  for (const chunking of [false, true]) {
    const client = await SmtpClient.connect({
      hostname: "127.0.0.1",
      port,
      tls: "none",
      chunking,
      timeout: 60_000,
    });
    let base = 0;
    for (const count of [80, 800]) { // 5 MiB (the warm-up), then 50 MiB
      if (count === 800) base = rss();
      let peak = rss();
      const timer = setInterval(() => peak = Math.max(peak, rss()), 2);
      const result = await client.sendMail({
        from: "a@mail.test",
        to: "b@mail.test",
        data: body(count),
      });
      clearInterval(timer);
      peak = Math.max(peak, rss());
      // DATA stuffs one dot per dot-led line; BDAT sends the bytes as they are.
      const want = count * (bytes.length + (chunking ? 0 : dots));
      const got = Number(/ok (\d+)/.exec(result.reply.text)?.[1]);
      if (got !== want) throw new Error(`sink got ${got} bytes, not ${want}`);
      if (count === 800) {
        growth[chunking ? "bdat" : "data"] = (peak - base) / MiB;
      }
    }
    await client.quit();
  }
  console.log(JSON.stringify(growth));
}

if (process.argv.includes("serve")) serve();
else if (process.argv.includes("send")) {
  await send(Number(process.argv[process.argv.indexOf("send") + 1]));
  process.exit(0);
}
