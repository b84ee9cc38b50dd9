// Tests for the in-memory SMTP + POP3 test server (mail_server.mjs) with raw node:net/node:tls clients, so
// nothing of mailwire is needed to trust it: sends and retrievals, deletions, TLS before credentials, logins, BDAT.
// The strict-input, injection, chunking, size, CLI and speed cases are in mail_server_edge_test.mjs. Run: node --test tests/fakes/
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { startMailServer } from "./mail_server.mjs";
import {
  ALICE,
  ALICE_PW,
  b64,
  BOB,
  dataBody,
  DOTTY,
  popLogin,
  Raw,
  smtpLogin,
  unlocked,
} from "./mail_server/raw_client.mjs";

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
