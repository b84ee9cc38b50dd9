// Pop3Client against the in-memory test mail server (tests/fakes/mail_server.mjs):
// a strict, independent POP3 implementation (STLS, SASL, APOP, RESP-CODES,
// PIPELINING, 255-octet command lines).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { startMailServer } from "../tests/fakes/mail_server.mjs";
import type { LogEntry } from "../io/log.ts";
import { Pop3Client } from "./client.ts";
import type { Pop3ClientOptions } from "./options.ts";
import { Pop3AuthenticationError } from "./errors.ts";
import { CA } from "../tests/fakes/pop3_fake.ts";

const USER = "alice@mail.test";
const PASSWORD = "alice-secret-1";
const dec = new TextDecoder();

const MESSAGES = [
  "From: a@mail.test\r\nSubject: one\r\n\r\nfirst\r\n.dot line\r\n",
  "From: b@mail.test\r\nSubject: two\r\n\r\nsecond\r\nmore\r\nlines\r\n",
  `From: c@mail.test\r\nSubject: three\r\n\r\n${"x".repeat(200_000)}\r\n`,
];

/** What these tests use of the server (its module is plain JS). */
interface MailServer {
  pop3Port: number;
  pop3sPort: number;
  mailboxes: Map<string, Buffer[]>;
  close(): Promise<void>;
}

async function server(implicit = false) {
  const s = (await startMailServer({
    users: { [USER]: PASSWORD, "bob@mail.test": "bob-secret-2" },
    implicit,
  })) as unknown as MailServer;
  const box = s.mailboxes.get(USER)!;
  for (const m of MESSAGES) box.push(Buffer.from(m));
  return {
    s,
    box,
    options: (extra: Pop3ClientOptions = {}): Pop3ClientOptions => ({
      hostname: "127.0.0.1",
      port: s.pop3Port,
      caCerts: [CA],
      timeout: 5000,
      ...extra,
    }),
    [Symbol.asyncDispose]: () => s.close(),
  };
}

test("mail server: STLS, SASL login, listing, retr/top/stream, dele, quit", async () => {
  await using srv = await server();
  const log: LogEntry[] = [];
  const client = await Pop3Client.connect(srv.options({
    auth: { username: USER, password: PASSWORD },
    logger: (e) => log.push(e),
  }));
  assert.equal(client.secure, true);
  assert.equal(client.authenticated, true);
  assert.ok(client.hasCapability("PIPELINING"));
  assert.ok(
    log.some((e) => e.text === "AUTH CRAM-MD5"),
    "the strongest offered mechanism",
  );
  assert.ok(!log.some((e) => e.text.includes(PASSWORD)));

  assert.deepEqual(await client.stat(), {
    count: 3,
    size: MESSAGES.reduce((n, m) => n + m.length, 0),
  });
  const listing = await client.listing();
  assert.deepEqual(listing.map((m) => m.size), MESSAGES.map((m) => m.length));
  assert.equal(new Set(listing.map((m) => m.uid)).size, 3);
  const all = await client.retrMany(listing.map((m) => m.id));
  assert.deepEqual(all.map((b) => dec.decode(b)), MESSAGES);
  assert.equal(dec.decode(await client.retr(2)), MESSAGES[1]);
  assert.equal(
    dec.decode(await client.top(2, 1)),
    "From: b@mail.test\r\nSubject: two\r\n\r\nsecond\r\n",
  );
  const streamed = await new Response(await client.retrStream(3)).text();
  assert.equal(streamed, MESSAGES[2]);
  assert.deepEqual(await client.uidl(1), { id: 1, uid: listing[0].uid });

  await client.deleMany([1, 3]);
  assert.equal(srv.box.length, 3, "nothing removed before QUIT");
  await client.quit();
  assert.deepEqual(srv.box.map((b) => b.toString()), [MESSAGES[1]]);
});

test("mail server: close() without QUIT keeps every message", async () => {
  await using srv = await server();
  {
    await using client = await Pop3Client.connect(srv.options({
      auth: { username: USER, password: PASSWORD },
    }));
    await client.deleMany([1, 2, 3]);
  }
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(srv.box.length, 3);
  // The lock was released: a new session gets in.
  const again = await Pop3Client.connect(srv.options({
    auth: { username: USER, password: PASSWORD },
  }));
  assert.equal((await again.stat()).count, 3);
  await again.quit();
});

test("mail server: a second session gets [IN-USE] (temporary)", async () => {
  await using srv = await server();
  await using first = await Pop3Client.connect(srv.options({
    auth: { username: USER, password: PASSWORD },
  }));
  const err = await Pop3Client.connect(srv.options({
    auth: { username: USER, password: PASSWORD },
  })).catch((e) => e);
  assert.ok(err instanceof Pop3AuthenticationError);
  assert.equal(err.respCode, "IN-USE");
  assert.equal(err.temporary, true);
  assert.equal((await first.noop()).ok, true);
});

test("mail server: wrong password is [AUTH]; APOP and USER/PASS forced", async () => {
  await using srv = await server();
  const err = await Pop3Client.connect(srv.options({
    auth: { username: USER, password: "nope" },
  })).catch((e) => e);
  assert.ok(err instanceof Pop3AuthenticationError);
  assert.equal(err.invalidCredentials, true);
  for (const mechanism of ["APOP", "USER", "PLAIN", "LOGIN"]) {
    const client = await Pop3Client.connect(srv.options({
      auth: { username: USER, password: PASSWORD, mechanism },
    }));
    assert.equal(client.authenticated, true, mechanism);
    await client.quit();
  }
});

test("mail server: implicit TLS (POP3S)", async () => {
  await using srv = await server(true);
  const client = await Pop3Client.connect(srv.options({
    port: srv.s.pop3sPort,
    tls: "implicit",
    auth: { username: USER, password: PASSWORD },
  }));
  assert.equal(client.secure, true);
  assert.equal((await client.list()).length, 3);
  await client.quit();
});
