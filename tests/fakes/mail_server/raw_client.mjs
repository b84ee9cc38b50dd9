// Test-only: a raw node:net/node:tls line client and the logins the test mail server's own tests share (mail_server*_test.mjs).
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { stuffDots, unstuffDots } from "../mail_server.mjs";

export const CA = readFileSync(
  fileURLToPath(new URL("../../fixtures/ca.pem", import.meta.url)),
  "utf8",
);
export const SERVER_SCRIPT = fileURLToPath(
  new URL("../mail_server.mjs", import.meta.url),
);
export const ALICE = "alice@mail.test";
export const ALICE_PW = "alice-secret-1";
export const BOB = "bob@mail.test";
export const b64 = (s) => Buffer.from(s).toString("base64");
/** test diagnostics; Bun's node:test has no t.diagnostic */
export const note = (
  t,
  text,
) => (typeof t.diagnostic === "function"
  ? t.diagnostic(text)
  : console.log(`# ${text}`));

/** A tiny line client: write raw text, read lines / SMTP replies / POP3 multi-line bodies. */
export class Raw {
  static connect(port, { implicit = false } = {}) {
    return new Promise((resolve, reject) => {
      const socket = implicit
        ? tls.connect({
          port,
          host: "127.0.0.1",
          ca: CA,
          servername: "localhost",
        })
        : net.connect({ port, host: "127.0.0.1" });
      socket.once(
        implicit ? "secureConnect" : "connect",
        () => resolve(new Raw(socket)),
      );
      socket.once("error", reject);
    });
  }

  constructor(socket) {
    this.buf = Buffer.alloc(0);
    this.ended = false;
    this.waiter = null;
    this.bind(socket);
  }

  bind(socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk) => {
      this.append(chunk);
      this.wake();
    });
    socket.on("end", () => {
      this.ended = true;
      this.wake();
    });
    socket.on("close", () => {
      this.ended = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  /** Growable buffer (this.buf is a view into this.store), so 10 MiB replies are not quadratic */
  append(chunk) {
    if (this.buf.length === 0) {
      this.buf = chunk;
      return;
    }
    const need = this.buf.length + chunk.length;
    const store = this.store;
    if (
      store !== undefined && this.buf.buffer === store.buffer &&
      this.buf.byteOffset + need <= store.byteOffset + store.length
    ) {
      // room after the current view
      const start = this.buf.byteOffset - store.byteOffset;
      chunk.copy(store, start + this.buf.length);
      this.buf = store.subarray(start, start + need);
      return;
    }
    this.store = Buffer.allocUnsafe(Math.max(need * 2, 65536));
    this.buf.copy(this.store, 0);
    chunk.copy(this.store, this.buf.length);
    this.buf = this.store.subarray(0, need);
  }

  wake() {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async more() {
    if (this.ended) throw new Error("connection closed");
    await new Promise((resolve) => (this.waiter = resolve));
  }

  write(data) {
    this.socket.write(data);
  }

  async line() {
    for (;;) {
      const i = this.buf.indexOf("\r\n");
      if (i !== -1) {
        const line = this.buf.toString("utf8", 0, i);
        this.buf = this.buf.subarray(i + 2);
        return line;
      }
      await this.more();
    }
  }

  /** One SMTP reply → { code, lines, text } */
  async reply() {
    const lines = [];
    for (;;) {
      const line = await this.line();
      lines.push(line.slice(4));
      if (line[3] !== "-") {
        return {
          code: Number(line.slice(0, 3)),
          lines,
          text: lines.join("\n"),
        };
      }
    }
  }

  /** Several pipelined SMTP replies → their codes */
  async codes(n) {
    const codes = [];
    for (let i = 0; i < n; i++) codes.push((await this.reply()).code);
    return codes;
  }

  async cmd(line) {
    this.write(line + "\r\n");
    return await this.reply();
  }

  async pop(line) {
    this.write(line + "\r\n");
    return await this.line();
  }

  /** POP3 multi-line body after the status line: bytes, unstuffed, CRLF kept */
  async multi() {
    let from = 0;
    for (;;) {
      const end =
        this.buf[0] === 0x2e && this.buf[1] === 13 && this.buf[2] === 10
          ? 0
          : this.buf.indexOf("\r\n.\r\n", from);
      if (end !== -1) {
        const body = end === 0
          ? Buffer.alloc(0)
          : Buffer.from(this.buf.subarray(0, end + 2));
        this.buf = this.buf.subarray(end === 0 ? 3 : end + 5);
        return unstuffDots(body);
      }
      from = Math.max(0, this.buf.length - 4);
      await this.more();
    }
  }

  async startTls() {
    assert.equal(this.buf.length, 0, "bytes buffered before tls");
    const plain = this.socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("end");
    plain.removeAllListeners("close");
    const secure = tls.connect({
      socket: plain,
      ca: CA,
      servername: "localhost",
    });
    await new Promise((resolve, reject) => {
      secure.once("secureConnect", resolve);
      secure.once("error", reject);
    });
    this.ended = false;
    this.bind(secure);
  }

  async closed() {
    while (!this.ended) await this.more().catch(() => {});
  }

  close() {
    this.socket.destroy();
  }
}

export async function smtpLogin(server, user = ALICE, password = ALICE_PW) {
  const c = await Raw.connect(server.smtpPort);
  assert.equal((await c.reply()).code, 220);
  assert.equal((await c.cmd("EHLO client.test")).code, 250);
  assert.equal((await c.cmd("STARTTLS")).code, 220);
  await c.startTls();
  const ehlo = await c.cmd("EHLO client.test");
  assert.equal(ehlo.code, 250);
  assert.equal(
    (await c.cmd(`AUTH PLAIN ${b64(`\0${user}\0${password}`)}`)).code,
    235,
  );
  return c;
}

export async function popLogin(server, user = ALICE, password = ALICE_PW) {
  const c = await Raw.connect(server.pop3Port);
  assert.match(await c.line(), /^\+OK /);
  assert.equal(await c.pop("STLS"), "+OK begin tls");
  await c.startTls();
  assert.match(await c.pop(`USER ${user}`), /^\+OK/);
  assert.equal(await c.pop(`PASS ${password}`), "+OK logged in");
  return c;
}

/** The server sees a client's close a moment after the client does: wait for the lock to go */
export async function unlocked(server, user = ALICE) {
  for (let i = 0; i < 200 && server.locks.has(user); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(!server.locks.has(user), "mailbox still locked");
}

/** SMTP-dot-stuff a CRLF message and terminate it, as a client would */
export function dataBody(message) {
  return Buffer.concat([stuffDots(message), Buffer.from(".\r\n")]);
}

export const DOTTY = Buffer.from(
  "From: alice@mail.test\r\nTo: bob@mail.test\r\nSubject: dots\r\n\r\n" +
    ".leading dot\r\n..two dots\r\n.\r\nline after a lone dot\r\n. space\r\nend\r\n",
);
