import { test } from "node:test";
import assert from "node:assert/strict";
import { Channel } from "./channel.ts";
import { Deadline } from "./deadline.ts";
import type { LogEntry } from "./log.ts";
import { readSmtpReply } from "./smtp_reply.ts";
import type { Conn, TlsOptions } from "../tls/conn.ts";
import {
  ConnectionClosedError,
  InvalidInputError,
  ProtocolError,
  TimeoutError,
  TlsError,
} from "../errors.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const none = new Deadline(undefined);

/** A scripted in-memory Conn: `incoming` is what the server sends. */
class FakeConn implements Conn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly secure: boolean;
  readonly written: Uint8Array[] = [];
  closeCalls = 0;
  closeError: unknown = undefined;
  startTlsCalls: {
    options: TlsOptions;
    readableLocked: boolean;
    writableLocked: boolean;
  }[] = [];
  /** What startTls resolves with (or rejects with, when an Error). */
  next: Promise<Conn> | FakeConn | Error | undefined;

  constructor(incoming: string[], secure = false) {
    this.secure = secure;
    let i = 0;
    this.readable = new ReadableStream<Uint8Array>({
      pull: (c) => {
        if (i < incoming.length) c.enqueue(enc.encode(incoming[i++]));
        else if (this.closeCalls) c.close();
        else return new Promise(() => {}); // the server says nothing more
      },
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => {
        this.written.push(chunk);
      },
    });
  }

  startTls(options: TlsOptions): Promise<Conn> {
    this.startTlsCalls.push({
      options,
      readableLocked: this.readable.locked,
      writableLocked: this.writable.locked,
    });
    if (this.next instanceof Error) return Promise.reject(this.next);
    if (this.next instanceof Promise) return this.next;
    return Promise.resolve(this.next ?? new FakeConn([], true));
  }

  close(): Promise<void> {
    this.closeCalls++;
    if (this.closeError) return Promise.reject(this.closeError);
    return Promise.resolve();
  }

  get sent(): string {
    return this.written.map((w) => dec.decode(w)).join("");
  }
}

const LIMITS = { maxLines: 100, maxBytes: 1 << 20 };

test("channel: reads replies and sends batches in one write", async () => {
  const conn = new FakeConn([
    "220 mx ready\r\n",
    "250-mx\r\n250 PIPELINING\r\n",
  ]);
  const ch = new Channel(conn, { maxLineLength: 512 });
  const greeting = await readSmtpReply(ch.reader, none, LIMITS, ch.abort);
  assert.equal(greeting.code, 220);
  await ch.send([Channel.line("EHLO me"), Channel.line("NOOP")], none);
  assert.equal(conn.written.length, 1);
  assert.equal(conn.sent, "EHLO me\r\nNOOP\r\n");
  const ehlo = await readSmtpReply(ch.reader, none, LIMITS, ch.abort);
  assert.deepEqual(ehlo.lines, ["mx", "PIPELINING"]);
  assert.equal(ch.secure, false);
  assert.equal(ch.closed, false);
});

test("channel: Channel.line appends CRLF", () => {
  assert.equal(dec.decode(Channel.line("QUIT")), "QUIT\r\n");
  assert.equal(dec.decode(Channel.line("")), "\r\n");
});

test("channel: startTls with bytes already buffered refuses and closes", async () => {
  // The STARTTLS injection: commands sent in clear right after the 220.
  const conn = new FakeConn(["220 go ahead\r\n250 injected\r\n"]);
  const log: LogEntry[] = [];
  const ch = new Channel(conn, {
    maxLineLength: 512,
    logger: (e) => log.push(e),
  });
  const r = await readSmtpReply(ch.reader, none, LIMITS, ch.abort);
  assert.equal(r.code, 220);
  assert.ok(ch.reader.buffered > 0);
  await assert.rejects(ch.startTls({ servername: "mx" }), (e: unknown) => {
    assert.ok(e instanceof ProtocolError);
    assert.match(e.message, /before the tls handshake/);
    return true;
  });
  assert.equal(conn.startTlsCalls.length, 0, "conn.startTls never called");
  assert.equal(conn.closeCalls, 1);
  assert.equal(ch.closed, true);
  assert.equal(ch.secure, false);
  assert.ok(log.some((e) => e.direction === "info" && /closing/.test(e.text)));
});

test("channel: a partial line buffered before startTls is refused too", async () => {
  const conn = new FakeConn(["220 go ahead\r\n2"]);
  const ch = new Channel(conn, { maxLineLength: 512 });
  await readSmtpReply(ch.reader, none, LIMITS, ch.abort);
  assert.equal(ch.reader.buffered, 1);
  await assert.rejects(ch.startTls({}), ProtocolError);
  assert.equal(conn.startTlsCalls.length, 0);
  assert.equal(conn.closeCalls, 1);
});

test("channel: startTls with nothing buffered upgrades with locks released", async () => {
  const conn = new FakeConn(["220 go ahead\r\n"]);
  const tlsConn = new FakeConn(["250-mx\r\n250 AUTH PLAIN\r\n"], true);
  conn.next = tlsConn;
  const log: LogEntry[] = [];
  const ch = new Channel(conn, {
    maxLineLength: 512,
    logger: (e) => log.push(e),
  });
  assert.equal(conn.readable.locked, true);
  assert.equal(conn.writable.locked, true);
  await readSmtpReply(ch.reader, none, LIMITS, ch.abort);
  assert.equal(ch.reader.buffered, 0);
  const opts = { servername: "mx.example" };
  await ch.startTls(opts);
  assert.equal(conn.startTlsCalls.length, 1);
  const call = conn.startTlsCalls[0];
  assert.equal(call.options, opts);
  assert.equal(call.readableLocked, false, "readable released before startTls");
  assert.equal(call.writableLocked, false, "writable released before startTls");
  assert.equal(conn.closeCalls, 0, "the old conn is handed over, not closed");
  assert.equal(ch.secure, true);
  assert.equal(ch.closed, false);
  // reads and writes now go through the new connection
  await ch.send([Channel.line("EHLO me")], none);
  assert.equal(tlsConn.sent, "EHLO me\r\n");
  assert.equal(conn.written.length, 0);
  const ehlo = await readSmtpReply(ch.reader, none, LIMITS, ch.abort);
  assert.deepEqual(ehlo.lines, ["mx", "AUTH PLAIN"]);
  await ch.close();
  assert.equal(tlsConn.closeCalls, 1);
  assert.equal(conn.closeCalls, 0);
});

test("channel: a failed handshake closes and rethrows", async () => {
  const conn = new FakeConn(["220 go ahead\r\n"]);
  conn.next = new TlsError("certificate not trusted");
  const ch = new Channel(conn, { maxLineLength: 512 });
  await readSmtpReply(ch.reader, none, LIMITS, ch.abort);
  await assert.rejects(ch.startTls({}), TlsError);
  assert.equal(conn.closeCalls, 1);
  assert.equal(ch.closed, true);
});

test("channel: a close during the handshake also closes the new connection", async () => {
  const conn = new FakeConn(["220 go ahead\r\n"]);
  const tlsConn = new FakeConn([], true);
  let finish!: (c: Conn) => void;
  conn.next = new Promise<Conn>((r) => finish = r);
  const ch = new Channel(conn, { maxLineLength: 512 });
  await readSmtpReply(ch.reader, none, LIMITS, ch.abort);
  const upgrading = ch.startTls({});
  await Promise.resolve();
  assert.equal(conn.startTlsCalls.length, 1);
  const closing = ch.close(); // e.g. the handshake deadline fired
  finish(tlsConn); // the handshake completes anyway
  await assert.rejects(upgrading, ConnectionClosedError);
  await closing;
  assert.equal(tlsConn.closeCalls, 1, "the upgraded connection is not leaked");
  assert.equal(ch.closed, true);
});

test("channel: close is idempotent and swallows close errors", async () => {
  const conn = new FakeConn([]);
  conn.closeError = new Error("already gone");
  const ch = new Channel(conn, { maxLineLength: 512 });
  const a = ch.close();
  const b = ch.close();
  assert.equal(a, b, "the same close promise");
  await a;
  await ch.close();
  ch.abort();
  assert.equal(conn.closeCalls, 1);
  assert.equal(ch.closed, true);
  assert.equal(conn.readable.locked, false, "locks released on close");
  assert.equal(conn.writable.locked, false);
});

test("channel: a protocol failure while reading closes the channel", async () => {
  const conn = new FakeConn(["250-a\r\n251 b\r\n"]);
  const ch = new Channel(conn, { maxLineLength: 512 });
  await assert.rejects(
    readSmtpReply(ch.reader, none, LIMITS, ch.abort),
    ProtocolError,
  );
  assert.equal(ch.closed, true);
  assert.equal(conn.closeCalls, 1);
});

test("channel: an endless line closes the channel", async () => {
  const conn = new FakeConn(["x".repeat(600)]);
  const ch = new Channel(conn, { maxLineLength: 512 });
  await assert.rejects(ch.reader.readLine(none), ProtocolError);
  assert.equal(ch.closed, true);
  assert.equal(conn.closeCalls, 1);
});

test("channel: a read timeout closes the channel", async () => {
  const conn = new FakeConn([]); // the server never says anything
  const ch = new Channel(conn, { maxLineLength: 512 });
  await assert.rejects(ch.reader.readLine(new Deadline(30)), TimeoutError);
  assert.equal(ch.closed, true);
  assert.equal(conn.closeCalls, 1);
});

test("channel: logging only when a logger is set", () => {
  const conn = new FakeConn([]);
  const quiet = new Channel(conn, { maxLineLength: 512 });
  assert.equal(quiet.logging, false);
  quiet.log("client", "x"); // no logger: no throw
  quiet.logReceived(enc.encode("y"));

  const log: LogEntry[] = [];
  const loud = new Channel(new FakeConn([]), {
    maxLineLength: 512,
    logger: (e) => log.push(e),
  });
  assert.equal(loud.logging, true);
  loud.log("client", "EHLO me");
  loud.logReceived(enc.encode("250 ok"));
  assert.deepEqual(
    log.map((e) => [e.direction, e.text]),
    [["client", "EHLO me"], ["server", "250 ok"]],
  );
  assert.ok(log[0].time instanceof Date);
});

test("channel: sendCommands writes lines (and extra bytes) in one write, logging `log` instead", async () => {
  const conn = new FakeConn([]);
  const log: LogEntry[] = [];
  const ch = new Channel(conn, {
    maxLineLength: 100,
    logger: (e) => log.push(e),
  });
  await ch.sendCommands(["MAIL FROM:<a@x>", "BDAT 3 LAST"], none, {
    extra: [enc.encode("abc")],
    log: ["MAIL FROM:<a@x>", "BDAT 3 LAST <3 bytes>"],
  });
  assert.equal(conn.written.length, 1);
  assert.equal(conn.sent, "MAIL FROM:<a@x>\r\nBDAT 3 LAST\r\nabc");
  assert.deepEqual(log.map((e) => e.text), [
    "MAIL FROM:<a@x>",
    "BDAT 3 LAST <3 bytes>",
  ]);
});

test("channel: sendCommands refuses CR/LF/NUL in any line before anything is sent (backstop)", async () => {
  for (
    const bad of [
      "NOOP\r\nDELE 1",
      "NOOP\nDELE 1",
      "NOOP\rX",
      "NO\0OP",
      42 as unknown as string,
    ]
  ) {
    const conn = new FakeConn([]);
    const ch = new Channel(conn, { maxLineLength: 100 });
    await assert.rejects(ch.sendCommands(["STAT", bad], none), (e: unknown) => {
      assert.ok(e instanceof InvalidInputError, JSON.stringify(bad));
      assert.doesNotMatch(e.message, /DELE/); // the value is never echoed
      return true;
    });
    assert.equal(conn.written.length, 0);
  }
});

test("channel: sendCommands with unread server bytes closes with ProtocolError (unless midBatch)", async () => {
  const conn = new FakeConn(["250 ok\r\n250 surprise\r\n"]);
  const ch = new Channel(conn, { maxLineLength: 100 });
  await readSmtpReply(ch.reader, none, LIMITS, ch.abort);
  await ch.sendCommands(["RCPT TO:<b@x>"], none, { midBatch: true });
  await assert.rejects(ch.sendCommands(["NOOP"], none), ProtocolError);
  assert.equal(conn.written.length, 1, "only the mid-batch line went out");
  assert.equal(ch.closed, true);
});

test("channel: open past its deadline aborts the connect and closes a connection that arrives late", async () => {
  const late = new FakeConn([]);
  let signal: AbortSignal | undefined;
  const connector = (_t: unknown, s?: AbortSignal) => {
    signal = s;
    return new Promise<Conn>((r) => setTimeout(() => r(late), 150));
  };
  await assert.rejects(
    Channel.open(
      connector,
      { hostname: "h", port: 1, tls: "none" },
      new Deadline(50),
      {
        maxLineLength: 100,
      },
    ),
    TimeoutError,
  );
  assert.equal(signal?.aborted, true);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(late.closeCalls, 1);
});

test("channel: open logs where it connected", async () => {
  const log: LogEntry[] = [];
  const ch = await Channel.open(
    () => Promise.resolve(new FakeConn([], true)),
    { hostname: "mail.test", port: 465, tls: "implicit" },
    none,
    { maxLineLength: 100, logger: (e) => log.push(e) },
  );
  assert.deepEqual(log.map((e) => e.text), [
    "connected to mail.test:465 (tls)",
  ]);
  await ch.close();
});
