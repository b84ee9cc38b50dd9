// The benchmark's servers, in one Node process: a lean SMTP sink, a POP3 source, a delay proxy and a control port.
//
//   node bench/sink.mjs [--delay MS]
//
// Prints one JSON line with the ports, then serves until stdin ends. Not a
// mail server: it parses only what it must, hashes what it receives so the
// benchmark can check every byte, and never becomes the bottleneck.
// - SMTP: EHLO (PIPELINING, CHUNKING, 8BITMIME, SMTPUTF8, SIZE), MAIL, RCPT,
//   DATA (unstuffed), BDAT, RSET, NOOP, QUIT. Replies are written once per
//   read, however many commands it held.
// - POP3: USER/PASS (any password), CAPA (PIPELINING, UIDL, USER), STAT,
//   LIST, UIDL, RETR, DELE, NOOP, RSET, QUIT. Mailboxes: `small` (2,000 ×
//   4 KiB), `big` (1 × 50 MiB); every message has dot-led lines.
// - Delay proxy: every port also has a twin that delays each direction by
//   `--delay / 2` ms (default 10 ms of round trip).
// - Control (one JSON line per command): `stats` (SMTP totals since the
//   last `reset`), `reset`, `pop3 NAME` (count, bytes, hash of a mailbox).

import net from "node:net";
import process from "node:process";
import { fnv, makeMailbox } from "./data.mjs";

const args = process.argv.slice(2);
const delayIndex = args.indexOf("--delay");
const RTT = delayIndex >= 0 ? Number(args[delayIndex + 1]) : 10;

const MIB = 1024 * 1024;
const LF = 10;

let stats = { messages: 0, bytes: 0, hash: 0, rcpts: 0 };

const EHLO = Buffer.from(
  "250-sink greets you\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n" +
    "250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE 104857600\r\n",
);
const OK_MAIL = "250 2.1.0 ok\r\n";
const OK_RCPT = "250 2.1.5 ok\r\n";
const OK_DATA = "354 go ahead\r\n";
const OK_QUEUED = "250 2.0.0 queued\r\n";

/** One message's content as it arrives (already unstuffed for DATA). */
class Content {
  h = 0x811c9dc5;
  n = 0;
  add(buf, start, end) {
    this.h = fnv(buf, start, end, this.h);
    this.n += end - start;
  }
}

function deliver(c, rcpts) {
  stats.messages++;
  stats.bytes += c.n;
  stats.hash = (stats.hash + c.h) >>> 0;
  stats.rcpts += rcpts;
}

function smtpSession(socket) {
  socket.setNoDelay(true);
  let buf = null; // unconsumed bytes
  let mode = 0; // 0 commands, 1 data, 2 bdat
  let content = null;
  let rcpts = 0;
  let bdatLeft = 0;
  let bdatLast = false;
  let lineStart = true; // DATA: at the start of a line
  let out = "";
  socket.write("220 sink ESMTP\r\n");
  const command = (b, s, e) => {
    // [s, e) is the line without CRLF
    const c0 = b[s] | 0x20, c1 = b[s + 1] | 0x20;
    if (c0 === 0x6d) { // MAIL
      rcpts = 0;
      out += OK_MAIL;
    } else if (c0 === 0x72 && c1 === 0x63) { // RCPT
      rcpts++;
      out += OK_RCPT;
    } else if (c0 === 0x64) { // DATA
      out += OK_DATA;
      mode = 1;
      content = new Content();
      lineStart = true;
    } else if (c0 === 0x62) { // BDAT n [LAST]
      const text = b.toString("latin1", s + 5, e);
      const sp = text.indexOf(" ");
      bdatLeft = Number(sp < 0 ? text : text.slice(0, sp));
      bdatLast = sp >= 0;
      content ??= new Content();
      mode = 2;
      if (bdatLeft === 0) endChunk();
    } else if (c0 === 0x65 || c0 === 0x68 || c0 === 0x6c) { // EHLO/HELO/LHLO
      socket.write(out);
      out = "";
      socket.write(EHLO);
    } else if (c0 === 0x72) { // RSET
      content = null;
      out += "250 2.0.0 ok\r\n";
    } else if (c0 === 0x6e) out += "250 2.0.0 ok\r\n"; // NOOP
    else if (c0 === 0x71) { // QUIT
      out += "221 2.0.0 bye\r\n";
      socket.end(out);
      out = "";
    } else out += "500 5.5.1 unknown\r\n";
  };
  const endChunk = () => {
    mode = 0;
    if (bdatLast) {
      deliver(content, rcpts);
      content = null;
      out += OK_QUEUED;
    } else out += "250 2.0.0 chunk ok\r\n";
  };
  /** DATA bytes from p; returns the position after the terminator, or -1 (all consumed). */
  const data = (b, p) => {
    // Lines: a line "." ends; a line starting with "." loses it.
    const n = b.length;
    while (p < n) {
      if (lineStart) {
        if (b[p] === 0x2e) {
          if (p + 2 < n + 0 && b[p + 1] === 13 && b[p + 2] === LF) {
            deliver(content, rcpts);
            content = null;
            out += OK_QUEUED;
            mode = 0;
            return p + 3;
          }
          if (p + 1 >= n || (b[p + 1] === 13 && p + 2 >= n)) return -2 - p; // need more
          p++; // unstuff
        }
      }
      const lf = b.indexOf(LF, p);
      if (lf < 0) {
        content.add(b, p, n);
        lineStart = false;
        return -1;
      }
      content.add(b, p, lf + 1);
      lineStart = true;
      p = lf + 1;
    }
    return -1;
  };
  socket.on("data", (chunk) => {
    const b = buf ? Buffer.concat([buf, chunk]) : chunk;
    buf = null;
    let p = 0;
    const n = b.length;
    while (p < n) {
      if (mode === 1) {
        const r = data(b, p);
        if (r === -1) {
          p = n;
          break;
        }
        if (r <= -2) {
          buf = b.subarray(-2 - r);
          p = n;
          break;
        }
        p = r;
        continue;
      }
      if (mode === 2) {
        const take = Math.min(bdatLeft, n - p);
        content.add(b, p, p + take);
        bdatLeft -= take;
        p += take;
        if (bdatLeft === 0) endChunk();
        continue;
      }
      const lf = b.indexOf(LF, p);
      if (lf < 0) {
        buf = b.subarray(p);
        break;
      }
      command(b, p, lf - 1);
      p = lf + 1;
    }
    if (out) {
      socket.write(out);
      out = "";
    }
  });
  socket.on("error", () => {});
}

// ---- POP3 --------------------------------------------------------------

const mailboxes = new Map(); // name -> { messages: Buffer[] (stuffed), sizes, hash, bytes }
function mailbox(name) {
  let m = mailboxes.get(name);
  if (!m) {
    m = makeMailbox(name);
    mailboxes.set(name, m);
  }
  return m;
}

function pop3Session(socket) {
  socket.setNoDelay(true);
  let box = null;
  let user = "";
  let buf = null;
  socket.write("+OK sink POP3 ready\r\n");
  const parts = [];
  let text = "";
  const flushText = () => {
    if (text) {
      parts.push(Buffer.from(text, "latin1"));
      text = "";
    }
  };
  const line = (l) => {
    const sp = l.indexOf(" ");
    const verb = (sp < 0 ? l : l.slice(0, sp)).toUpperCase();
    const arg = sp < 0 ? "" : l.slice(sp + 1);
    switch (verb) {
      case "CAPA":
        text += "+OK\r\nPIPELINING\r\nUIDL\r\nUSER\r\nTOP\r\n.\r\n";
        return;
      case "USER":
        user = arg;
        text += "+OK\r\n";
        return;
      case "PASS":
        box = mailbox(user);
        text += "+OK logged in\r\n";
        return;
      case "STAT":
        text += `+OK ${box.messages.length} ${box.bytes}\r\n`;
        return;
      case "LIST": {
        if (arg) {
          text += `+OK ${arg} ${box.sizes[Number(arg) - 1]}\r\n`;
          return;
        }
        text += box.listText;
        return;
      }
      case "UIDL":
        text += box.uidlText;
        return;
      case "RETR": {
        const i = Number(arg) - 1;
        text += `+OK ${box.sizes[i]} octets\r\n`;
        flushText();
        parts.push(box.messages[i]);
        text += ".\r\n";
        return;
      }
      case "DELE":
      case "NOOP":
      case "RSET":
        text += "+OK\r\n";
        return;
      case "QUIT":
        text += "+OK bye\r\n";
        flushText();
        for (const p of parts.splice(0)) socket.write(p);
        socket.end();
        return;
      default:
        text += "-ERR unknown\r\n";
    }
  };
  socket.on("data", (chunk) => {
    const b = buf ? Buffer.concat([buf, chunk]) : chunk;
    buf = null;
    let p = 0;
    for (;;) {
      const lf = b.indexOf(LF, p);
      if (lf < 0) {
        if (p < b.length) buf = b.subarray(p);
        break;
      }
      line(b.toString("latin1", p, lf - 1));
      p = lf + 1;
    }
    flushText();
    if (parts.length) {
      socket.cork();
      for (const part of parts.splice(0)) socket.write(part);
      socket.uncork();
    }
  });
  socket.on("error", () => {});
}

// ---- delay proxy ---------------------------------------------------------

/** Forward `from` to `to`, each chunk `ms` later, in order. */
function delayed(from, to, ms) {
  const queue = [];
  let timer = null;
  const pump = () => {
    timer = null;
    const now = performance.now();
    while (queue.length && queue[0].due <= now + 0.5) {
      to.write(queue.shift().chunk);
    }
    if (queue.length) {
      timer = setTimeout(pump, Math.max(0, queue[0].due - performance.now()));
    }
  };
  from.on("data", (chunk) => {
    queue.push({ chunk, due: performance.now() + ms });
    if (!timer) timer = setTimeout(pump, ms);
  });
  from.on("end", () => {
    const end = () => queue.length ? setTimeout(end, ms) : to.end();
    end();
  });
  from.on("error", () => to.destroy());
  from.on("close", () => setTimeout(() => to.destroy(), ms + 5));
}

function proxy(port) {
  return net.createServer((client) => {
    client.setNoDelay(true);
    const server = net.connect({ port, host: "127.0.0.1", noDelay: true });
    delayed(client, server, RTT / 2);
    delayed(server, client, RTT / 2);
  });
}

// ---- control -------------------------------------------------------------

function control(socket) {
  let buf = "";
  socket.on("data", (d) => {
    buf += d.toString();
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const [cmd, arg] = buf.slice(0, nl).trim().split(" ");
      buf = buf.slice(nl + 1);
      if (cmd === "stats") socket.write(JSON.stringify(stats) + "\n");
      else if (cmd === "reset") {
        stats = { messages: 0, bytes: 0, hash: 0, rcpts: 0 };
        socket.write("{}\n");
      } else if (cmd === "pop3") {
        const m = mailbox(arg);
        socket.write(
          JSON.stringify({
            count: m.messages.length,
            bytes: m.rawBytes,
            hash: m.hash,
          }) + "\n",
        );
      } else socket.write('{"error":"unknown"}\n');
    }
  });
  socket.on("error", () => {});
}

function listen(server) {
  return new Promise((r) =>
    server.listen(0, "127.0.0.1", () => r(server.address().port))
  );
}

const smtp = await listen(net.createServer(smtpSession));
const pop3 = await listen(net.createServer(pop3Session));
const ports = {
  smtp,
  pop3,
  smtpDelayed: await listen(proxy(smtp)),
  pop3Delayed: await listen(proxy(pop3)),
  control: await listen(net.createServer(control)),
  rtt: RTT,
};
// Build the mailboxes before anyone times a RETR.
mailbox("small");
mailbox("big");
process.stdout.write(JSON.stringify(ports) + "\n");
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
void MIB;
