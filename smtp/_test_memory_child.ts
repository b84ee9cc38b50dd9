// Test helper run in fresh processes by tests/memory_test.ts: `serve` (an SMTP sink that counts the body bytes it receives, with DATA and BDAT), `send PORT` (sendMail's RSS growth for a 50 MiB stream over DATA and over BDAT, after a 5 MiB warm-up of each).
import { createServer, type Socket } from "node:net";
import process from "node:process";
import { serveForParent } from "../tests/fakes/child_server.ts";
import { SmtpClient } from "./client.ts";

const MiB = 1024 * 1024;

/** Just under 64 KiB of CRLF lines, every eighth dot-led, and the number of dot-led lines in it. */
const BLOCK = (() => {
  let text = "";
  let dots = 0;
  for (let n = 0; text.length < 64 * 1024 - 80; n++) {
    if (n % 8 === 7) dots++;
    text += (n % 8 === 7 ? "." : "x") + "y".repeat(77) + "\r\n";
  }
  return { bytes: new TextEncoder().encode(text), dots };
})();

/**
 * A body of `count` blocks as a byte stream, as a file's stream is on Deno
 * (`Deno.open().readable`): read into the reader's own buffers when it
 * brings them, so only the client's memory is measured, not a source's
 * garbage.
 */
function body(count: number): ReadableStream<Uint8Array> {
  const { bytes } = BLOCK;
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

const TERMINATOR = Buffer.from("\r\n.\r\n");

function serve(): void {
  const server = createServer((socket: Socket) => {
    let line: Uint8Array = new Uint8Array(0); // a command line not ended yet
    let mode: "command" | "data" | "bdat" = "command";
    let counted = 0; // body bytes of the message
    let bdatLeft = 0;
    let bdatLast = false;
    // DATA: the last (up to 4) bytes seen, for a terminator split across reads.
    let tail: Uint8Array = new Uint8Array(0);
    const reply = (text: string) => socket.write(text + "\r\n");
    /** Command lines; returns the rest of `chunk` when data begins. */
    const commands = (chunk: Uint8Array): Uint8Array | undefined => {
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10)) {
        const text = Buffer.concat([line, chunk.subarray(0, nl)])
          .toString("latin1").replace(/\r$/, "");
        line = new Uint8Array(0);
        chunk = chunk.subarray(nl + 1);
        const [verb, ...args] = text.split(" ");
        switch (verb.toUpperCase()) {
          case "EHLO":
            reply(
              "250-sink\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n250 SIZE 1073741824",
            );
            break;
          case "DATA":
            reply("354 go ahead");
            mode = "data";
            counted = 0;
            tail = Buffer.from("\r\n"); // an empty body ends at once
            return chunk;
          case "BDAT":
            bdatLeft = Number(args[0]);
            bdatLast = args[1]?.toUpperCase() === "LAST";
            if (bdatLeft > 0) {
              mode = "bdat";
              return chunk;
            }
            reply(`250 ok ${counted}`); // BDAT 0 LAST
            if (bdatLast) counted = 0;
            break;
          case "QUIT":
            socket.end("221 bye\r\n");
            return undefined;
          default:
            reply("250 ok");
        }
      }
      line = Buffer.concat([line, chunk]);
      return undefined;
    };
    /** DATA: where the body ends in `chunk` (its index), or -1. */
    const dataEnd = (chunk: Uint8Array): number => {
      // A terminator that starts in the tail: found in tail + 4 bytes.
      const head = Buffer.concat([tail, chunk.subarray(0, 4)]);
      const split = head.indexOf(TERMINATOR);
      if (split >= 0 && split < tail.length) return split - tail.length;
      return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        .indexOf(TERMINATOR);
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
            reply(`250 ok ${counted}`);
            if (bdatLast) counted = 0;
            mode = "command";
          }
        } else {
          const at = dataEnd(chunk);
          if (at === -1) {
            counted += chunk.length;
            tail = Buffer.concat([tail, chunk.subarray(-4)]).subarray(-4);
            return;
          }
          // The body ends with the terminator's CRLF (the last line's end);
          // `at` is negative when the terminator began in the tail.
          counted += at + 2;
          reply(`250 ok ${counted}`);
          mode = "command";
          chunk = chunk.subarray(at + TERMINATOR.length);
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
  const { bytes, dots } = BLOCK;
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
