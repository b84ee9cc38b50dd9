// Tests for the in-memory SMTP + POP3 test server (mail_server.mjs), with raw node:net/node:tls
// clients so that nothing of mailwire is needed to trust the server. Run: node --test tests/fakes/
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { spawn } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startMailServer, stuffDots, unstuffDots } from "./mail_server.mjs";

const CA = readFileSync(
  fileURLToPath(new URL("../fixtures/ca.pem", import.meta.url)),
  "utf8",
);
const SERVER_SCRIPT = fileURLToPath(
  new URL("./mail_server.mjs", import.meta.url),
);
const ALICE = "alice@mail.test";
const ALICE_PW = "alice-secret-1";
const BOB = "bob@mail.test";
const b64 = (s) => Buffer.from(s).toString("base64");
/** test diagnostics; Bun's node:test has no t.diagnostic */
const note = (
  t,
  text,
) => (typeof t.diagnostic === "function"
  ? t.diagnostic(text)
  : console.log(`# ${text}`));

/** A tiny line client: write raw text, read lines / SMTP replies / POP3 multi-line bodies. */
class Raw {
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

async function smtpLogin(server, user = ALICE, password = ALICE_PW) {
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

async function popLogin(server, user = ALICE, password = ALICE_PW) {
  const c = await Raw.connect(server.pop3Port);
  assert.match(await c.line(), /^\+OK /);
  assert.equal(await c.pop("STLS"), "+OK begin tls");
  await c.startTls();
  assert.match(await c.pop(`USER ${user}`), /^\+OK/);
  assert.equal(await c.pop(`PASS ${password}`), "+OK logged in");
  return c;
}

/** The server sees a client's close a moment after the client does: wait for the lock to go */
async function unlocked(server, user = ALICE) {
  for (let i = 0; i < 200 && server.locks.has(user); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(!server.locks.has(user), "mailbox still locked");
}

/** SMTP-dot-stuff a CRLF message and terminate it, as a client would */
function dataBody(message) {
  return Buffer.concat([stuffDots(message), Buffer.from(".\r\n")]);
}

const DOTTY = Buffer.from(
  "From: alice@mail.test\r\nTo: bob@mail.test\r\nSubject: dots\r\n\r\n" +
    ".leading dot\r\n..two dots\r\n.\r\nline after a lone dot\r\n. space\r\nend\r\n",
);

test("smtp starttls + auth plain + pipelined send, pop3 stls + user/pass + list/retr gives identical bytes", async () => {
  const server = await startMailServer({ transcript: true });
  try {
    const c = await Raw.connect(server.smtpPort);
    assert.equal(
      (await c.reply()).text,
      "mail.test ESMTP mailwire test server",
    );
    const before = await c.cmd("EHLO client.test");
    assert.ok(before.lines.includes("STARTTLS"));
    assert.ok(before.lines.includes("PIPELINING"));
    assert.ok(before.lines.includes("SIZE 52428800"));
    assert.ok(
      !before.lines.some((l) => l.startsWith("AUTH")),
      "no auth offered in clear",
    );
    assert.equal((await c.cmd("STARTTLS")).text, "2.0.0 ready to start tls");
    await c.startTls();
    assert.equal(
      (await c.cmd("MAIL FROM:<alice@mail.test>")).code,
      503,
      "ehlo needed again after tls",
    );
    const after = await c.cmd("EHLO client.test");
    assert.ok(!after.lines.includes("STARTTLS"));
    for (
      const ext of [
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "CHUNKING",
        "DSN",
        "AUTH PLAIN LOGIN CRAM-MD5",
      ]
    ) {
      assert.ok(after.lines.includes(ext), ext);
    }
    assert.equal(
      (await c.cmd("MAIL FROM:<alice@mail.test>")).text,
      "5.7.0 authentication required",
    );
    assert.equal(
      (await c.cmd(`AUTH PLAIN ${b64(`\0${ALICE}\0${ALICE_PW}`)}`)).text,
      "2.7.0 authentication successful",
    );
    // one write: MAIL, two RCPTs (one unknown), DATA; then the body after 354
    c.write(
      "MAIL FROM:<alice@mail.test> SIZE=200 BODY=8BITMIME RET=HDRS ENVID=abc+2Bdef\r\n" +
        "RCPT TO:<bob@mail.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@mail.test\r\n" +
        "RCPT TO:<nobody@mail.test>\r\nDATA\r\n",
    );
    assert.deepEqual(await c.codes(4), [250, 250, 550, 354]);
    c.write(dataBody(DOTTY));
    const queued = await c.reply();
    assert.equal(queued.code, 250);
    assert.match(queued.text, /^2\.0\.0 ok queued as [0-9A-F]+$/);
    assert.equal((await c.cmd("QUIT")).code, 221);
    await c.closed();
    assert.deepEqual(server.mailboxes.get(BOB), [DOTTY]);

    const p = await popLogin(server, BOB, "bob-secret-2");
    assert.equal(await p.pop("STAT"), `+OK 1 ${DOTTY.length}`);
    assert.match(await p.pop("LIST"), /^\+OK 1 messages/);
    assert.equal((await p.multi()).toString(), `1 ${DOTTY.length}\r\n`);
    assert.equal(await p.pop("RETR 1"), `+OK ${DOTTY.length} octets`);
    assert.deepEqual(await p.multi(), DOTTY);
    assert.match(await p.pop("QUIT"), /^\+OK/);
    await p.closed();
    assert.ok(
      server.transcript.some((t) =>
        t.protocol === "pop3" && t.direction === "client" && t.line === "STAT"
      ),
    );
    assert.ok(
      !server.transcript.some((t) => t.line.includes("leading dot")),
      "no bodies in the transcript",
    );
  } finally {
    await server.close();
  }
});

test("pop3: dele + quit removes, dele + close keeps, rset undoes, top and uidl", async () => {
  const server = await startMailServer();
  try {
    const box = server.mailboxes.get(ALICE);
    const m1 = Buffer.from(
      "Subject: one\r\nX: y\r\n\r\nbody 1\r\n.dot line\r\nthird\r\n",
    );
    const m2 = Buffer.from("Subject: two\r\n\r\nbody 2\r\n");
    const m3 = Buffer.from("Subject: three\r\n\r\nbody 3\r\n");
    box.push(m1, m2, m3);

    let p = await popLogin(server);
    assert.equal(await p.pop("DELE 2"), "+OK message 2 deleted");
    assert.equal(await p.pop("RETR 2"), "-ERR message 2 already deleted");
    assert.equal(await p.pop("DELE 2"), "-ERR message 2 already deleted");
    assert.equal(await p.pop("STAT"), `+OK 2 ${m1.length + m3.length}`);
    p.close(); // no QUIT: nothing happens
    await p.closed();
    await unlocked(server);
    assert.deepEqual(box, [m1, m2, m3]);

    p = await popLogin(server);
    assert.equal(await p.pop("DELE 1"), "+OK message 1 deleted");
    assert.match(await p.pop("RSET"), /^\+OK/);
    assert.equal(await p.pop("LIST 1"), `+OK 1 ${m1.length}`);
    assert.equal(await p.pop("TOP 1 1"), "+OK top of message follows");
    assert.equal(
      (await p.multi()).toString(),
      "Subject: one\r\nX: y\r\n\r\nbody 1\r\n",
    );
    assert.equal(await p.pop("TOP 1 2"), "+OK top of message follows");
    assert.equal(
      (await p.multi()).toString(),
      "Subject: one\r\nX: y\r\n\r\nbody 1\r\n.dot line\r\n",
    );
    assert.equal(await p.pop("UIDL"), "+OK unique-id listing follows");
    const uids = (await p.multi()).toString().trim().split("\r\n").map((l) =>
      l.split(" ")[1]
    );
    assert.equal(new Set(uids).size, 3);
    assert.equal(await p.pop("UIDL 3"), `+OK 3 ${uids[2]}`);
    assert.equal(await p.pop("DELE 2"), "+OK message 2 deleted");
    assert.equal(await p.pop("RETR 4"), "-ERR no such message");
    assert.equal(await p.pop("RETR x"), "-ERR invalid message number");
    assert.equal(await p.pop("RETR 0"), "-ERR invalid message number");
    assert.equal(await p.pop("XYZZY"), "-ERR unknown command");
    assert.equal(
      await p.pop("QUIT"),
      "+OK mailwire test server signing off (2 messages left)",
    );
    await p.closed();
    assert.deepEqual(box, [m1, m3]);

    // uids survive the update; pipelined commands answer in order
    p = await popLogin(server);
    p.write("UIDL\r\nLIST\r\nNOOP\r\nRETR 2\r\n");
    assert.match(await p.line(), /^\+OK/);
    assert.deepEqual(
      (await p.multi()).toString().trim().split("\r\n").map((l) =>
        l.split(" ")[1]
      ),
      [uids[0], uids[2]],
    );
    assert.match(await p.line(), /^\+OK/);
    await p.multi();
    assert.equal(await p.line(), "+OK");
    assert.match(await p.line(), /^\+OK/);
    assert.deepEqual(await p.multi(), m3);
    p.close();
  } finally {
    await server.close();
  }
});

test("tls is required before credentials, on both sides", async () => {
  const server = await startMailServer();
  try {
    const c = await Raw.connect(server.smtpPort);
    await c.reply();
    assert.equal((await c.cmd("AUTH PLAIN")).code, 503, "ehlo first");
    await c.cmd("EHLO client.test");
    assert.equal(
      (await c.cmd(`AUTH PLAIN ${b64(`\0${ALICE}\0${ALICE_PW}`)}`)).text,
      "5.7.0 must issue starttls first",
    );
    assert.equal(
      (await c.cmd("MAIL FROM:<alice@mail.test>")).text,
      "5.7.0 must issue starttls first",
    );
    assert.equal((await c.cmd("RCPT TO:<bob@mail.test>")).code, 503);
    assert.equal((await c.cmd("DATA")).code, 503);
    c.close();

    const p = await Raw.connect(server.pop3Port);
    await p.line();
    assert.equal(await p.pop("CAPA"), "+OK capability list follows");
    let capa = (await p.multi()).toString().split("\r\n");
    assert.ok(
      capa.includes("STLS") && !capa.includes("USER") &&
        !capa.some((l) => l.startsWith("SASL")),
    );
    assert.match(await p.pop(`USER ${ALICE}`), /^-ERR \[AUTH\]/);
    assert.match(await p.pop(`PASS ${ALICE_PW}`), /^-ERR \[AUTH\]/);
    assert.match(
      await p.pop(`AUTH PLAIN ${b64(`\0${ALICE}\0${ALICE_PW}`)}`),
      /^-ERR \[AUTH\]/,
    );
    assert.equal(await p.pop("STAT"), "-ERR command not valid in this state");
    assert.equal(await p.pop("STLS"), "+OK begin tls");
    await p.startTls();
    assert.equal(await p.pop("CAPA"), "+OK capability list follows");
    capa = (await p.multi()).toString().split("\r\n");
    for (
      const cap of [
        "TOP",
        "UIDL",
        "USER",
        "SASL PLAIN LOGIN CRAM-MD5",
        "RESP-CODES",
        "PIPELINING",
        "AUTH-RESP-CODE",
        "IMPLEMENTATION mailwire-test",
      ]
    ) {
      assert.ok(capa.includes(cap), cap);
    }
    assert.ok(!capa.includes("STLS"));
    assert.equal(
      await p.pop("STLS"),
      "-ERR command not permitted when tls active",
    );
    p.close();
  } finally {
    await server.close();
  }
});

test("bad credentials: 535 on smtp, -ERR [AUTH] on pop3; a locked mailbox is IN-USE", async () => {
  const server = await startMailServer();
  try {
    const c = await Raw.connect(server.smtpPort);
    await c.reply();
    await c.cmd("EHLO client.test");
    await c.cmd("STARTTLS");
    await c.startTls();
    await c.cmd("EHLO client.test");
    assert.equal(
      (await c.cmd(`AUTH PLAIN ${b64(`\0${ALICE}\0wrong`)}`)).text,
      "5.7.8 authentication credentials invalid",
    );
    assert.equal(
      (await c.cmd(`AUTH PLAIN ${b64(`\0nobody@mail.test\0${ALICE_PW}`)}`))
        .code,
      535,
    );
    assert.equal(
      (await c.cmd(`AUTH PLAIN ${b64(`bob@mail.test\0${ALICE}\0${ALICE_PW}`)}`))
        .code,
      535,
      "authzid mismatch",
    );
    assert.equal((await c.cmd("AUTH PLAIN !!!")).code, 501);
    assert.equal((await c.cmd("AUTH GSSAPI")).code, 504);
    // PLAIN without initial response, then cancel
    assert.equal((await c.cmd("AUTH PLAIN")).text, "");
    assert.equal((await c.cmd("*")).code, 501);
    // PLAIN without initial response, then the right answer; "=" is an empty response
    assert.equal((await c.cmd("AUTH PLAIN")).code, 334);
    assert.equal((await c.cmd(b64(`\0${ALICE}\0${ALICE_PW}`))).code, 235);
    assert.equal(
      (await c.cmd("AUTH PLAIN =")).text,
      "5.5.1 already authenticated",
    );
    c.close();

    const p = await popLogin(server);
    const q = await Raw.connect(server.pop3Port);
    await q.line();
    await q.pop("STLS");
    await q.startTls();
    await q.pop(`USER ${ALICE}`);
    assert.equal(await q.pop("PASS nope"), "-ERR [AUTH] invalid credentials");
    assert.equal(
      await q.pop("PASS nope"),
      "-ERR no username given, send user first",
    );
    await q.pop(`USER ${ALICE}`);
    assert.equal(
      await q.pop(`PASS ${ALICE_PW}`),
      "-ERR [IN-USE] mailbox locked",
    );
    assert.match(await p.pop("QUIT"), /^\+OK/);
    await p.closed();
    await q.pop(`USER ${ALICE}`);
    assert.equal(
      await q.pop(`PASS ${ALICE_PW}`),
      "+OK logged in",
      "lock released by quit",
    );
    q.close();
    await q.closed();
    await unlocked(server);
    const r = await popLogin(server); // lock released by a plain close too
    r.close();
  } finally {
    await server.close();
  }
});

test("auth login and cram-md5 on smtp; sasl plain/login/cram-md5 and apop on pop3", async () => {
  const server = await startMailServer();
  try {
    const c = await Raw.connect(server.smtpPort);
    await c.reply();
    await c.cmd("EHLO client.test");
    await c.cmd("STARTTLS");
    await c.startTls();
    await c.cmd("EHLO client.test");
    let r = await c.cmd("AUTH CRAM-MD5");
    assert.equal(r.code, 334);
    const challenge = Buffer.from(r.text, "base64").toString();
    assert.match(challenge, /^<\d+\.\d+@mail\.test>$/);
    const digest = createHmac("md5", "wrong").update(challenge).digest("hex");
    assert.equal((await c.cmd(b64(`${ALICE} ${digest}`))).code, 535);
    r = await c.cmd("AUTH CRAM-MD5");
    const ch2 = Buffer.from(r.text, "base64").toString();
    assert.notEqual(ch2, challenge);
    assert.equal(
      (await c.cmd(
        b64(
          `${ALICE} ${createHmac("md5", ALICE_PW).update(ch2).digest("hex")}`,
        ),
      )).code,
      235,
    );
    c.close();

    const d = await Raw.connect(server.smtpPort);
    await d.reply();
    await d.cmd("EHLO client.test");
    await d.cmd("STARTTLS");
    await d.startTls();
    await d.cmd("EHLO client.test");
    assert.equal(
      Buffer.from((await d.cmd("AUTH LOGIN")).text, "base64").toString(),
      "Username:",
    );
    assert.equal(
      Buffer.from((await d.cmd(b64(ALICE))).text, "base64").toString(),
      "Password:",
    );
    assert.equal((await d.cmd(b64(ALICE_PW))).code, 235);
    d.close();

    const tlsPop = async () => {
      const p = await Raw.connect(server.pop3Port);
      await p.line();
      await p.pop("STLS");
      await p.startTls();
      return p;
    };
    let p = await tlsPop();
    const line = await p.pop("AUTH CRAM-MD5");
    assert.match(line, /^\+ /);
    const pch = Buffer.from(line.slice(2), "base64").toString();
    assert.equal(
      await p.pop(
        b64(
          `${ALICE} ${createHmac("md5", ALICE_PW).update(pch).digest("hex")}`,
        ),
      ),
      "+OK authenticated",
    );
    p.close();
    await p.closed();
    await unlocked(server);

    p = await tlsPop();
    assert.equal(await p.pop("AUTH LOGIN"), `+ ${b64("Username:")}`);
    assert.equal(await p.pop(b64(ALICE)), `+ ${b64("Password:")}`);
    assert.equal(await p.pop(b64("bad")), "-ERR [AUTH] invalid credentials");
    assert.equal(await p.pop("AUTH PLAIN"), "+ ");
    assert.equal(await p.pop("*"), "-ERR authentication cancelled");
    assert.equal(await p.pop("AUTH PLAIN"), "+ ");
    assert.equal(
      await p.pop(b64(`\0${ALICE}\0${ALICE_PW}`)),
      "+OK authenticated",
    );
    p.close();
    await p.closed();
    await unlocked(server);

    // APOP is not cleartext, so it works before STLS; the timestamp comes from the greeting
    p = await Raw.connect(server.pop3Port);
    const greeting = await p.line();
    const stamp = /<[^>]+>/.exec(greeting)[0];
    assert.match(stamp, /^<\d+\.\d+\.\d+@mail\.test>$/);
    assert.equal(
      await p.pop(
        `APOP ${ALICE} ${createHash("md5").update(stamp + "x").digest("hex")}`,
      ),
      "-ERR [AUTH] invalid credentials",
    );
    assert.equal(
      await p.pop(
        `APOP ${ALICE} ${
          createHash("md5").update(stamp + ALICE_PW).digest("hex")
        }`,
      ),
      "+OK logged in",
    );
    p.close();
  } finally {
    await server.close();
  }
});

test("smtp: bdat chunks, pipelined with mail/rcpt; refused bdat is still consumed", async () => {
  const server = await startMailServer();
  try {
    const c = await smtpLogin(server);
    const part1 = Buffer.from("Subject: bdat\r\n\r\n.no stuffing here\r\n");
    const part2 = Buffer.from("\r\n.\r\nnot an end marker\r\n");
    c.write(Buffer.concat([
      Buffer.from(
        `MAIL FROM:<alice@mail.test>\r\nRCPT TO:<alice@mail.test>\r\nBDAT ${part1.length}\r\n`,
      ),
      part1,
      Buffer.from(`BDAT ${part2.length} LAST\r\n`),
      part2,
    ]));
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await c.reply());
    assert.deepEqual(replies.map((r) => r.code), [250, 250, 250, 250]);
    assert.equal(replies[2].text, `2.0.0 ${part1.length} octets received`);
    assert.match(replies[3].text, /ok queued as/);
    assert.deepEqual(server.mailboxes.get(ALICE), [
      Buffer.concat([part1, part2]),
    ]);
    // BDAT without a transaction: the 5 bytes are read and refused, the next command still works
    c.write("BDAT 5 LAST\r\nhelloRSET\r\n");
    assert.deepEqual(await c.codes(2), [503, 250]);
    c.write("MAIL FROM:<>\r\nRCPT TO:<alice@mail.test>\r\nBDAT 0 LAST\r\n");
    assert.deepEqual(await c.codes(3), [250, 250, 250]);
    assert.equal(server.mailboxes.get(ALICE).at(-1).length, 0);
    // DATA after BDAT in one transaction is out of order
    c.write(
      "MAIL FROM:<>\r\nRCPT TO:<alice@mail.test>\r\nBDAT 2\r\nabDATA\r\nRSET\r\n",
    );
    assert.deepEqual(await c.codes(5), [250, 250, 250, 503, 250]);
    c.close();
  } finally {
    await server.close();
  }
});

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
