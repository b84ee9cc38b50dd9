// Tests for the in-memory SMTP + POP3 test server (mail_server.mjs) at its edges, with raw clients: strict replies to bad
// input, STARTTLS injection, garbage TLS, tiny chunks, a 10 MiB message, implicit TLS, line caps, the CLI, and its speed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { startMailServer } from "./mail_server.mjs";
import {
  ALICE,
  ALICE_PW,
  b64,
  dataBody,
  DOTTY,
  note,
  popLogin,
  Raw,
  SERVER_SCRIPT,
  smtpLogin,
} from "./mail_server/raw_client.mjs";

test("smtp: strict replies to out-of-order, malformed and oversized input", async () => {
  const server = await startMailServer({ maxMessageSize: 1000 });
  try {
    const c = await smtpLogin(server);
    const cases = [
      ["RCPT TO:<bob@mail.test>", 503],
      ["DATA", 503],
      ["MAIL FROM:<alice@mail.test> SIZE=1001", 552],
      ["MAIL FROM:<alice@mail.test> FOO=1", 555],
      ["MAIL FROM:<alice@mail.test> BODY=BINARYMIME", 555],
      ["MAIL FROM:alice@mail.test", 501],
      ["MAIL FROM:<bad address@x>", 501],
      ["MAIL FROM:<ålice@mail.test>", 553],
      ["MAIL FROM:<ålice@mail.test> SMTPUTF8", 250],
      ["MAIL FROM:<alice@mail.test>", 503],
      ["RCPT TO:<>", 501],
      ["RCPT TO:<stranger@elsewhere.test>", 550],
      ["RCPT TO:<bob@mail.test> NOTIFY=NEVER,SUCCESS", 501],
      ["RCPT TO:<bob@mail.test> ORCPT=bob@mail.test", 501],
      ["RCPT TO:<BOB@MAIL.TEST> NOTIFY=NEVER", 250],
      ["AUTH PLAIN =", 503],
      ["RSET", 250],
      ["DATA", 503],
      ["VRFY bob", 252],
      ["VRFY", 501],
      ["EXPN list", 502],
      ["HELP", 214],
      ["NOOP", 250],
      ["STARTTLS", 503],
      ["FOO", 500],
      ["", 500],
    ];
    for (const [line, code] of cases) {
      assert.equal((await c.cmd(line)).code, code, line);
    }
    // lines too long, bare LF, NUL
    assert.equal(
      (await c.cmd("NOOP " + "x".repeat(5000))).text,
      "5.5.2 line too long",
    );
    c.write("NOOP\n");
    assert.equal((await c.reply()).code, 500);
    assert.equal((await c.cmd("NOOP\0")).code, 500);
    assert.equal((await c.cmd("NOOP")).code, 250, "still in sync");
    // message over the limit: 552 after the body, the session stays usable
    c.write(
      "MAIL FROM:<alice@mail.test>\r\nRCPT TO:<alice@mail.test>\r\nDATA\r\n",
    );
    assert.deepEqual(await c.codes(3), [250, 250, 354]);
    c.write("x".repeat(2000) + "\r\n.\r\n");
    assert.equal((await c.reply()).code, 552);
    // bare LF inside DATA is refused (SMTP smuggling class)
    c.write(
      "MAIL FROM:<alice@mail.test>\r\nRCPT TO:<alice@mail.test>\r\nDATA\r\n",
    );
    assert.deepEqual(await c.codes(3), [250, 250, 354]);
    c.write("a\nb\r\n.\r\n");
    assert.equal((await c.reply()).code, 554);
    c.write(
      "MAIL FROM:<alice@mail.test>\r\nRCPT TO:<alice@mail.test>\r\nDATA\r\n",
    );
    assert.deepEqual(await c.codes(3), [250, 250, 354]);
    c.write("a\rb\r\n.\r\n");
    assert.equal((await c.reply()).code, 554);
    // an empty message is fine
    c.write(
      "MAIL FROM:<alice@mail.test>\r\nRCPT TO:<alice@mail.test>\r\nDATA\r\n",
    );
    assert.deepEqual(await c.codes(3), [250, 250, 354]);
    c.write(".\r\n");
    assert.equal((await c.reply()).code, 250);
    assert.deepEqual(server.mailboxes.get(ALICE), [Buffer.alloc(0)]);
    // HELO: no ESMTP parameters
    assert.equal((await c.cmd("HELO client.test")).text, "mail.test");
    assert.equal(
      (await c.cmd("MAIL FROM:<alice@mail.test> SIZE=10")).code,
      555,
    );
    assert.equal((await c.cmd("QUIT")).code, 221);
    await c.closed();
  } finally {
    await server.close();
  }
});

test("starttls discards bytes pipelined behind it (command injection)", async () => {
  const server = await startMailServer();
  try {
    const c = await Raw.connect(server.smtpPort);
    await c.reply();
    await c.cmd("EHLO client.test");
    c.write("STARTTLS\r\nRSET\r\n");
    assert.equal((await c.reply()).code, 220);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(c.buf.length, 0);
    await c.startTls();
    assert.equal(
      (await c.cmd("NOOP")).code,
      250,
      "the first reply under tls is for NOOP, not RSET",
    );
    c.close();
  } finally {
    await server.close();
  }
});

test("garbage instead of a tls handshake closes only that connection; onLine sees commands and replies", async () => {
  const seen = [];
  const server = await startMailServer({
    onLine: (direction, line, info) =>
      seen.push(`${info.protocol} ${direction} ${line}`),
  });
  try {
    const c = await Raw.connect(server.smtpPort);
    await c.reply();
    await c.cmd("EHLO client.test");
    assert.equal((await c.cmd("STARTTLS")).code, 220);
    c.write("this is not a client hello\r\n".repeat(20));
    await c.closed();
    const p = await Raw.connect(server.pop3Port);
    await p.line();
    assert.equal(await p.pop("STLS"), "+OK begin tls");
    p.write(Buffer.alloc(64, 0x16));
    await p.closed();
    const d = await smtpLogin(server); // the server is still fine
    assert.equal((await d.cmd("NOOP")).code, 250);
    d.close();
    assert.ok(seen.includes("smtp client EHLO client.test"));
    assert.ok(seen.includes("smtp server 220 2.0.0 ready to start tls"));
    assert.ok(seen.includes("pop3 server +OK begin tls"));
  } finally {
    await server.close();
  }
});

test("data split into tiny chunks: terminator and dots across chunk boundaries", async () => {
  const server = await startMailServer();
  try {
    const c = await smtpLogin(server);
    const messages = [
      DOTTY,
      Buffer.from(".\r\n"),
      Buffer.from("a\r\n.\r\n.\r\n"),
      Buffer.from("x\r\n"),
    ];
    for (const message of messages) {
      c.write(
        "MAIL FROM:<alice@mail.test>\r\nRCPT TO:<carol@mail.test>\r\nDATA\r\n",
      );
      assert.deepEqual(await c.codes(3), [250, 250, 354]);
      const body = dataBody(message);
      for (let i = 0; i < body.length; i++) {
        c.write(body.subarray(i, i + 1));
        await new Promise((r) => setImmediate(r));
      }
      assert.equal((await c.reply()).code, 250);
    }
    assert.deepEqual(server.mailboxes.get("carol@mail.test"), messages);
    c.close();
  } finally {
    await server.close();
  }
});

test("a 10 MiB message round-trips through smtp data and pop3 retr", async (t) => {
  const server = await startMailServer();
  try {
    const lines = ["Subject: big\r\n\r\n"];
    for (let i = 0; lines.length < 140000; i++) {
      lines.push(
        i % 97 === 0 ? `.dot line ${i}\r\n` : `line ${i} ${"x".repeat(66)}\r\n`,
      );
    }
    const big = Buffer.from(lines.join(""));
    assert.ok(big.length > 10 * 1024 * 1024);
    const c = await smtpLogin(server);
    c.write(
      `MAIL FROM:<alice@mail.test> SIZE=${big.length}\r\nRCPT TO:<alice@mail.test>\r\nDATA\r\n`,
    );
    assert.deepEqual(await c.codes(3), [250, 250, 354]);
    let t0 = performance.now();
    c.write(dataBody(big));
    assert.equal((await c.reply()).code, 250);
    const smtpMs = performance.now() - t0;
    assert.deepEqual(server.mailboxes.get(ALICE)[0], big);
    c.close();

    const p = await popLogin(server);
    t0 = performance.now();
    assert.equal(await p.pop("RETR 1"), `+OK ${big.length} octets`);
    assert.deepEqual(await p.multi(), big);
    const popMs = performance.now() - t0;
    p.close();
    note(
      t,
      `10 MiB: smtp data ${smtpMs.toFixed(0)} ms, pop3 retr ${
        popMs.toFixed(0)
      } ms`,
    );
  } finally {
    await server.close();
  }
});

test("implicit tls ports (smtps, pop3s)", async () => {
  const server = await startMailServer({ implicit: true });
  try {
    const c = await Raw.connect(server.smtpsPort, { implicit: true });
    assert.equal((await c.reply()).code, 220);
    const ehlo = await c.cmd("EHLO client.test");
    assert.ok(
      !ehlo.lines.includes("STARTTLS") &&
        ehlo.lines.includes("AUTH PLAIN LOGIN CRAM-MD5"),
    );
    assert.equal(
      (await c.cmd(`AUTH PLAIN ${b64(`\0${ALICE}\0${ALICE_PW}`)}`)).code,
      235,
    );
    c.close();
    const p = await Raw.connect(server.pop3sPort, { implicit: true });
    assert.match(await p.line(), /^\+OK/);
    assert.match(await p.pop(`USER ${ALICE}`), /^\+OK/);
    assert.equal(await p.pop(`PASS ${ALICE_PW}`), "+OK logged in");
    p.close();
  } finally {
    await server.close();
  }
});

test("pop3 command lines are capped at 255 octets (RFC 2449), sasl responses are not", async () => {
  const server = await startMailServer();
  try {
    const p = await Raw.connect(server.pop3Port);
    await p.line();
    await p.pop("STLS");
    await p.startTls();
    assert.equal(await p.pop("NOOP " + "x".repeat(300)), "-ERR line too long");
    assert.equal(await p.pop("AUTH PLAIN"), "+ ");
    assert.equal(
      await p.pop(b64(`\0${ALICE}\0${"y".repeat(400)}`)),
      "-ERR [AUTH] invalid credentials",
    );
    p.close();
  } finally {
    await server.close();
  }
});

test("cli: prints one json line, serves, exits when stdin ends", async () => {
  const child = spawn(process.execPath, [
    SERVER_SCRIPT,
    "--no-auth",
    "--no-tls",
  ], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise((resolve) =>
    child.once("exit", (code) => resolve(code))
  );
  let out = "";
  for await (const chunk of child.stdout) {
    out += chunk;
    if (out.includes("\n")) break;
  }
  const info = JSON.parse(out);
  assert.equal(typeof info.smtpPort, "number");
  assert.equal(typeof info.pop3Port, "number");
  const c = await Raw.connect(info.smtpPort);
  await c.reply();
  const ehlo = await c.cmd("EHLO client.test");
  assert.ok(!ehlo.lines.includes("STARTTLS"));
  c.write("MAIL FROM:<a@b.test>\r\nRCPT TO:<bob@mail.test>\r\nDATA\r\n");
  assert.deepEqual(await c.codes(3), [250, 250, 354]);
  c.write("hi\r\n.\r\nQUIT\r\n");
  assert.deepEqual(await c.codes(2), [250, 221]);
  child.stdin.end();
  assert.equal(await exited, 0);
});

test("cli: sigterm stops it; --help", async () => {
  const child = spawn(process.execPath, [
    SERVER_SCRIPT,
    "--implicit",
    "--port",
    "0",
  ], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal))
  );
  let out = "";
  for await (const chunk of child.stdout) {
    out += chunk;
    if (out.includes("\n")) break;
  }
  const info = JSON.parse(out);
  assert.equal(typeof info.smtpsPort, "number");
  child.kill("SIGTERM");
  // under `deno test` the spawned runtime reports the signal rather than the handler's exit code
  assert.ok(
    [0, ...(globalThis.Deno ? ["SIGTERM"] : [])].includes(await exited),
  );
  const help = spawn(process.execPath, [SERVER_SCRIPT, "--help"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let text = "";
  for await (const chunk of help.stdout) text += chunk;
  assert.match(text, /^usage:/);
});

// --- throughput -------------------------------------------------------------------------------

const N = 500;
const SMALL = "From: a@b.test\r\nTo: bob@mail.test\r\nSubject: bench\r\n\r\n" +
  "hello world, this is a small message\r\n".repeat(10);

test(`speed: nodemailer pooled vs raw pipelined client, ${N} small messages`, async (t) => {
  const server = await startMailServer({
    auth: false,
    requireTls: false,
    starttls: false,
    store: false,
  });
  try {
    // raw, fully pipelined: MAIL/RCPT/DATA+body in one write per message, never waiting
    const c = await Raw.connect(server.smtpPort);
    await c.reply();
    await c.cmd("EHLO bench.test");
    const msg = Buffer.from(
      `MAIL FROM:<a@b.test>\r\nRCPT TO:<bob@mail.test>\r\nDATA\r\n${SMALL}.\r\n`,
    );
    let t0 = performance.now();
    for (let i = 0; i < N; i++) c.write(msg);
    const codes = await c.codes(4 * N);
    const rawMs = performance.now() - t0;
    assert.ok(codes.every((code, i) => code === (i % 4 === 2 ? 354 : 250)));

    // raw, one message per round trip (what an RFC-strict 1-RTT client does)
    t0 = performance.now();
    for (let i = 0; i < N; i++) {
      c.write(msg);
      await c.codes(4);
    }
    const rttMs = performance.now() - t0;
    c.close();

    const { default: nodemailer } = await import("nodemailer");
    const transport = nodemailer.createTransport({
      host: "127.0.0.1",
      port: server.smtpPort,
      secure: false,
      ignoreTLS: true,
      pool: true,
      maxConnections: 1,
      maxMessages: Infinity,
    });
    await transport.sendMail({
      from: "a@b.test",
      to: "bob@mail.test",
      raw: SMALL,
    }); // warm-up
    t0 = performance.now();
    await Promise.all(
      Array.from({ length: N }, () =>
        transport.sendMail({
          from: "a@b.test",
          to: "bob@mail.test",
          raw: SMALL,
        })),
    );
    const nmMs = performance.now() - t0;
    transport.close();
    assert.equal(server.stats.messages, 3 * N + 1);

    const rate = (ms) => Math.round(N / (ms / 1000));
    const report =
      `raw pipelined ${rate(rawMs)} msg/s (${rawMs.toFixed(0)} ms), raw 1-rtt ${
        rate(rttMs)
      } msg/s (${rttMs.toFixed(0)} ms), ` +
      `nodemailer pooled ${rate(nmMs)} msg/s (${nmMs.toFixed(0)} ms)`;
    note(t, report);
    assert.ok(nmMs < 10000, "nodemailer run should be quick");
  } finally {
    await server.close();
  }
});
