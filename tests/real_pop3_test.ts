/**
 * POP3 against the real Dovecot from tests/servers/, on Deno and Bun:
 * every command, every login method, STLS/POP3S, and the byte-identity
 * round trip SMTP (Postfix) → Maildir (Dovecot) → POP3 RETR.
 *
 * dave@mail.test and erin@mail.test are reserved for this file (no other
 * test delivers to them): both mailboxes are emptied first. Every test
 * deletes what it delivered and finds its messages by a unique token, so a
 * failed run leaves nothing that breaks the next one.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Pop3AuthenticationError,
  Pop3Client,
  type Pop3ClientOptions,
  Pop3NotSupportedError,
  Pop3ResponseError,
  Pop3ServerDisconnectedError,
} from "../pop3/mod.ts";
import { LmtpClient, SmtpClient } from "../smtp/mod.ts";
import { AuthError } from "../auth/mod.ts";
import { TlsError } from "../tls/mod.ts";
import type { LogEntry } from "../io/log.ts";
import { fixture } from "./fakes/scripted.ts";
import {
  indexOf,
  realCa,
  realEnv,
  type RealUser,
  token,
  waitForDelivery,
} from "./real/env.ts";

const env = realEnv();
const ca = realCa(env);
const alice = user("alice@mail.test");
const dave = user("dave@mail.test");
const erin = user("erin@mail.test");
const enc = new TextEncoder();
const dec = new TextDecoder();
const CRLF = enc.encode("\r\n");
const HEADER_END = enc.encode("\r\n\r\n");
/** More chunks than any message of this file can give (10 MiB / 64 KiB = 160). */
const MAX_CHUNKS = 10_000;

function user(address: string): RealUser {
  const found = env.users.find((u) => u.address === address);
  if (!found) throw new Error(`env.json has no user ${address}`);
  return found;
}

/** POP3 on the plain port with STLS, logged in as `u`. */
function pop3(
  u: RealUser,
  extra: Partial<Pop3ClientOptions> = {},
): Pop3ClientOptions {
  return {
    hostname: env.host,
    port: env.pop3.plain,
    tls: "starttls",
    caCerts: [ca],
    servername: env.servername,
    timeout: 30_000,
    auth: { username: u.login, password: u.password },
    ...extra,
  };
}

/** POP3S (implicit TLS), logged in as `u`. */
function pop3s(
  u: RealUser,
  extra: Partial<Pop3ClientOptions> = {},
): Pop3ClientOptions {
  return pop3(u, { port: env.pop3.pop3s, tls: "implicit", ...extra });
}

function strictTarget(): { host: string; plain: number } {
  assert.ok(env.pop3Strict, "env.json describes the strict POP3 listener");
  return env.pop3Strict;
}

/** A message with Date and Message-ID (so Postfix adds nothing to it). */
function message(to: RealUser, id: string, body: string): string {
  return `From: Alice <${alice.address}>\r\nTo: <${to.address}>\r\n` +
    `Subject: ${id}\r\n${stamp(id)}\r\n${body}`;
}

function stamp(id: string): string {
  return `Date: ${new Date().toUTCString().replace("GMT", "+0000")}\r\n` +
    `Message-ID: <${id}@mail.test>\r\n`;
}

/** Deliver straight into the Maildir over LMTP (stored when it answers 250). */
async function deliver(to: RealUser, id: string, body: string) {
  await using c = await LmtpClient.connect({
    hostname: env.host,
    port: env.lmtp.tcp,
    timeout: 15_000,
  });
  const data = message(to, id, body);
  const result = await c.sendMail({
    from: alice.address,
    to: [to.address],
    data,
  });
  assert.deepEqual(result.accepted, [to.address]);
  assert.equal(result.deliveries?.get(to.address)?.code, 250);
  return data;
}

/** Submit through Postfix (port 587, STARTTLS + AUTH as alice). */
async function submit(
  to: RealUser,
  from: string,
  data: string | Uint8Array,
  log?: LogEntry[],
) {
  await using c = await SmtpClient.connect({
    hostname: env.host,
    port: env.smtp.submission,
    tls: "starttls",
    caCerts: [ca],
    servername: env.servername,
    timeout: 60_000,
    auth: { username: alice.login, password: alice.password },
    logger: log ? (e) => log.push(e) : undefined,
  });
  const result = await c.sendMail({
    from,
    to: [to.address],
    data,
  });
  assert.equal(result.reply.code, 250);
  assert.deepEqual(result.accepted, [to.address]);
}

/** Log in, DELE everything, QUIT; then check the mailbox is empty. */
async function clearMailbox(u: RealUser) {
  {
    await using c = await Pop3Client.connect(pop3(u));
    const ids = (await c.list()).map((m) => m.id);
    if (ids.length > 0) await c.deleMany(ids);
    await c.quit();
  }
  await using c = await Pop3Client.connect(pop3(u));
  assert.deepEqual(await c.stat(), { count: 0, size: 0 }, `${u.address}`);
  await c.quit();
}

/** The message number whose headers contain `needle`, or undefined. */
async function find(
  c: Pop3Client,
  needle: string,
): Promise<number | undefined> {
  for (const { id } of await c.list()) {
    if (dec.decode(await c.top(id, 0)).includes(needle)) return id;
  }
  return undefined;
}

async function mustFind(c: Pop3Client, needle: string): Promise<number> {
  const id = await find(c, needle);
  assert.ok(id !== undefined, `a message with ${needle} is in the mailbox`);
  return id;
}

/** Delete every message whose headers contain `needle` (cleanup). */
async function remove(u: RealUser, needle: string) {
  await using c = await Pop3Client.connect(pop3(u));
  const ids: number[] = [];
  for (const { id } of await c.list()) {
    if (dec.decode(await c.top(id, 0)).includes(needle)) ids.push(id);
  }
  if (ids.length > 0) await c.deleMany(ids);
  await c.quit();
}

async function readAll(
  stream: ReadableStream<Uint8Array>,
): Promise<{ bytes: Uint8Array; chunks: number }> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  // Bounded: the client caps a message at maxMessageBytes (256 MiB).
  for (let i = 0; i <= MAX_CHUNKS; i++) {
    const { done, value } = await reader.read();
    if (done) {
      return { bytes: concat(parts, total), chunks: parts.length };
    }
    parts.push(value);
    total += value.length;
  }
  await reader.cancel();
  throw new Error(`retrStream gave more than ${MAX_CHUNKS} chunks`);
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Exact byte equality, failing with the first differing offset. */
function assertSameBytes(
  actual: Uint8Array,
  expected: Uint8Array,
  what: string,
) {
  const n = Math.min(actual.length, expected.length);
  let i = 0;
  while (i < n && actual[i] === expected[i]) i++;
  if (i === n && actual.length === expected.length) return;
  const show = (b: Uint8Array) =>
    JSON.stringify(dec.decode(b.subarray(Math.max(0, i - 40), i + 40)));
  assert.fail(
    `${what}: ${actual.length} vs ${expected.length} bytes, first difference at ${i}\n` +
      `actual:   ${show(actual)}\nexpected: ${show(expected)}`,
  );
}

/** What the sender's bytes must look like in RETR: CRLF line ends, final CRLF. */
function normalise(sent: Uint8Array): Uint8Array {
  let lf = 0;
  for (let i = 0; i < sent.length; i++) {
    if (sent[i] === 0x0a && (i === 0 || sent[i - 1] !== 0x0d)) lf++;
  }
  const endsCrlf = sent.length >= 2 && sent[sent.length - 2] === 0x0d &&
    sent[sent.length - 1] === 0x0a;
  const endsLf = sent.length >= 1 && sent[sent.length - 1] === 0x0a;
  const out = new Uint8Array(
    sent.length + lf + (endsCrlf || endsLf ? 0 : 2),
  );
  let at = 0;
  for (let i = 0; i < sent.length; i++) {
    if (sent[i] === 0x0a && (i === 0 || sent[i - 1] !== 0x0d)) {
      out[at++] = 0x0d;
    }
    out[at++] = sent[i];
  }
  if (!endsCrlf && !endsLf) out.set(CRLF, at);
  return out;
}

/**
 * The bytes before the submitted message are only the trace headers Postfix
 * and Dovecot add: Return-Path, Delivered-To, Received (folded).
 */
function assertTracePrefix(prefix: Uint8Array, to: RealUser) {
  const text = dec.decode(prefix);
  assert.ok(text.endsWith("\r\n"), "prefix is whole header lines");
  const lines = text.slice(0, -2).split("\r\n");
  const names: string[] = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      assert.ok(names.length > 0, "no continuation line before a header");
      continue;
    }
    const m = /^([A-Za-z-]+):/.exec(line);
    assert.ok(m, `a header line: ${JSON.stringify(line)}`);
    names.push(m[1].toLowerCase());
  }
  assert.equal(names[0], "return-path", text);
  assert.ok(names.includes("delivered-to"), text);
  assert.ok(names.includes("received"), text);
  for (const name of names) {
    assert.ok(
      ["return-path", "delivered-to", "received"].includes(name),
      `only trace headers are added, got ${name}:\n${text}`,
    );
  }
  assert.match(text, new RegExp(`^Delivered-To: ${to.address}\r$`, "m"));
}

function clientLines(log: LogEntry[]): string[] {
  return log.filter((e) => e.direction === "client").map((e) => e.text);
}

/** Index of the first entry from `from` on that satisfies `pred`. */
function findFrom(
  log: LogEntry[],
  from: number,
  pred: (e: LogEntry) => boolean,
): number {
  for (let i = from; i < log.length; i++) if (pred(log[i])) return i;
  return -1;
}

/** The commands were written together: all of them before the first answer. */
function assertPipelined(log: LogEntry[], commands: string[]) {
  const first = log.findIndex((e) =>
    e.direction === "client" && e.text === commands[0]
  );
  assert.ok(first >= 0, `${commands[0]} sent`);
  const answer = findFrom(log, first, (e) => e.direction === "server");
  let at = first;
  for (const command of commands) {
    at = findFrom(
      log,
      at,
      (e) => e.direction === "client" && e.text === command,
    );
    assert.ok(
      at >= 0 && (answer < 0 || at < answer),
      `${command} sent before the first answer`,
    );
  }
}

await clearMailbox(dave);
await clearMailbox(erin);

// --- greeting, TLS ---------------------------------------------------------

test("greeting: welcome text and a fresh APOP timestamp per connection", async () => {
  const stamps: string[] = [];
  for (let i = 0; i < 2; i++) {
    await using c = await Pop3Client.connect(pop3(dave, { auth: undefined }));
    assert.match(c.welcome ?? "", /^Dovecot .*ready\./);
    assert.match(c.timestamp ?? "", /^<[^<>@\s]+@[^<>\s]+>$/);
    assert.ok(
      c.welcome!.includes(c.timestamp!),
      "timestamp is in the greeting",
    );
    assert.equal(c.authenticated, false);
    stamps.push(c.timestamp!);
    await c.quit();
  }
  assert.notEqual(stamps[0], stamps[1]);
});

test("STLS with the test CA: CAPA asked again, STLS gone, USER and SASL offered", async () => {
  const log: LogEntry[] = [];
  await using c = await Pop3Client.connect(
    pop3(dave, { auth: undefined, logger: (e) => log.push(e) }),
  );
  assert.equal(c.secure, true);
  assert.equal(clientLines(log).filter((l) => l === "CAPA").length, 2);
  assert.equal(c.hasCapability("STLS"), false);
  assert.ok(c.hasCapability("USER"));
  assert.deepEqual(c.capabilities.get("SASL"), ["PLAIN", "LOGIN", "CRAM-MD5"]);
  await c.login(dave.login, dave.password);
  assert.equal(c.authenticated, true);
  await c.quit();
});

test("STLS by hand: tls none, then stls() with the CA", async () => {
  await using c = await Pop3Client.connect(
    pop3(dave, { tls: "none", caCerts: undefined, auth: undefined }),
  );
  assert.equal(c.secure, false);
  assert.ok((await c.capa()).has("STLS"));
  const status = await c.stls({ caCerts: [ca], servername: env.servername });
  assert.equal(status.ok, true);
  assert.equal(c.secure, true);
  assert.equal(c.hasCapability("STLS"), false);
  await c.login(dave.login, dave.password, { mechanism: "USER" });
  assert.equal(c.authenticated, true);
  await c.quit();
});

test("POP3S: implicit TLS, login, no STLS offered", async () => {
  await using c = await Pop3Client.connect(pop3s(dave));
  assert.equal(c.secure, true);
  assert.equal(c.authenticated, true);
  assert.match(c.timestamp ?? "", /^<.+>$/);
  const capa = await c.capa();
  assert.equal(capa.has("STLS"), false);
  assert.ok(capa.has("TOP") && capa.has("UIDL") && capa.has("PIPELINING"));
  await c.noop();
  await c.quit();
});

for (const mode of ["starttls", "implicit"] as const) {
  const opts = (extra: Partial<Pop3ClientOptions>) =>
    mode === "starttls" ? pop3(dave, extra) : pop3s(dave, extra);
  const cases: [string, Partial<Pop3ClientOptions>][] = [
    ["no CA given (verification on by default)", { caCerts: undefined }],
    ["a CA that did not sign it (other-ca.pem)", {
      caCerts: [fixture("other-ca.pem")],
    }],
    ["a wrong servername", { servername: "wrong.test" }],
  ];
  for (const [name, extra] of cases) {
    test(`${mode}: ${name} → TlsError, no credentials sent`, async () => {
      const log: LogEntry[] = [];
      const err = await Pop3Client.connect(
        opts({ ...extra, logger: (e) => log.push(e) }),
      ).then(() => null, (e) => e);
      assert.ok(err instanceof TlsError, String(err));
      assert.ok(
        !clientLines(log).some((l) => /^(USER|PASS|APOP|AUTH)\b/.test(l)),
        "no login attempted",
      );
    });
  }
}

// --- login -----------------------------------------------------------------

const methods: [string, (l: string[]) => void][] = [
  ["USER", (l) => {
    assert.ok(l.includes(`USER ${dave.login}`));
    assert.ok(l.includes("PASS <redacted>"));
  }],
  ["APOP", (l) => assert.ok(l.includes(`APOP ${dave.login} <redacted>`))],
  ["PLAIN", (l) => assert.ok(l.includes("AUTH PLAIN <redacted>"))],
  ["LOGIN", (l) => assert.ok(l.some((x) => x.startsWith("AUTH LOGIN")))],
  ["CRAM-MD5", (l) => assert.ok(l.includes("AUTH CRAM-MD5"))],
];
for (const [mechanism, check] of methods) {
  test(`login with ${mechanism} after STLS; no secret in the transcript`, async () => {
    const log: LogEntry[] = [];
    await using c = await Pop3Client.connect(
      pop3(dave, {
        auth: { username: dave.login, password: dave.password, mechanism },
        logger: (e) => log.push(e),
      }),
    );
    assert.equal(c.authenticated, true);
    const lines = clientLines(log);
    check(lines);
    const logins = lines.filter((l) => /^(USER|PASS|APOP|AUTH)\b/.test(l));
    assert.equal(logins.length, mechanism === "USER" ? 2 : 1, logins.join());
    const text = log.map((e) => e.text).join("\n");
    assert.ok(!text.includes(dave.password), "password not in transcript");
    assert.ok(
      !text.includes(btoa(`\0${dave.login}\0${dave.password}`)) &&
        !text.includes(btoa(dave.password)),
      "no encoded secret in transcript",
    );
    assert.ok((await c.stat()).count >= 0);
    await c.quit();
  });
}

test("login methods called directly: user() + pass(), apop()", async () => {
  {
    await using c = await Pop3Client.connect(pop3(dave, { auth: undefined }));
    assert.equal((await c.user(dave.login)).ok, true);
    const status = await c.pass(dave.password);
    assert.equal(status.ok, true);
    assert.equal(c.authenticated, true);
    await c.quit();
  }
  await using c = await Pop3Client.connect(pop3(dave, { auth: undefined }));
  assert.equal((await c.apop(dave.login, dave.password)).ok, true);
  assert.equal(c.authenticated, true);
  await c.quit();
});

test("default login picks SASL CRAM-MD5 (STLS and POP3S)", async () => {
  for (const opts of [pop3, pop3s]) {
    const log: LogEntry[] = [];
    await using c = await Pop3Client.connect(
      opts(dave, { logger: (e) => log.push(e) }),
    );
    assert.equal(c.authenticated, true);
    const logins = clientLines(log).filter((l) =>
      /^(USER|PASS|APOP|AUTH)\b/.test(l)
    );
    assert.deepEqual(logins, ["AUTH CRAM-MD5"]);
    await c.quit();
  }
});

for (const mechanism of [undefined, "USER", "APOP", "PLAIN", "LOGIN"]) {
  test(`wrong password (${mechanism ?? "default"}) → Pop3AuthenticationError [AUTH], tried once`, async () => {
    const log: LogEntry[] = [];
    const err = await Pop3Client.connect(
      pop3(dave, {
        auth: { username: dave.login, password: "wrong-password", mechanism },
        logger: (e) => log.push(e),
      }),
    ).then(() => null, (e) => e);
    assert.ok(err instanceof Pop3AuthenticationError, String(err));
    assert.equal(err.respCode, "AUTH");
    assert.equal(err.invalidCredentials, true);
    assert.equal(err.temporary, false);
    assert.match(err.response, /Authentication failed/);
    assert.equal(
      clientLines(log).filter((l) => /^(PASS|APOP|AUTH)\b/.test(l)).length,
      1,
      "no second method tried with the same secret",
    );
  });
}

test("after a failed login the session stays usable: the right password then works", async () => {
  await using c = await Pop3Client.connect(pop3(dave, { auth: undefined }));
  await assert.rejects(
    c.login(dave.login, "wrong-password", { mechanism: "USER" }),
    (e) => e instanceof Pop3AuthenticationError && e.respCode === "AUTH",
  );
  assert.equal(c.authenticated, false);
  await c.login(dave.login, dave.password, { mechanism: "USER" });
  assert.equal(c.authenticated, true);
  await c.quit();
});

test("strict listener before STLS: the client refuses to send credentials; STLS then login works", async () => {
  const strict = strictTarget();
  const log: LogEntry[] = [];
  await using c = await Pop3Client.connect({
    hostname: strict.host,
    port: strict.plain,
    tls: "none",
    servername: env.servername,
    caCerts: [ca],
    timeout: 15_000,
    logger: (e) => log.push(e),
  });
  assert.equal(c.secure, false);
  const capa = await c.capa();
  assert.ok(capa.has("STLS"));
  assert.equal(capa.has("USER"), false);
  assert.deepEqual(capa.get("SASL"), ["CRAM-MD5"]);
  for (
    const attempt of [
      () => c.login(dave.login, dave.password, { mechanism: "USER" }),
      () => c.login(dave.login, dave.password),
      () => c.login(dave.login, dave.password, { mechanism: "CRAM-MD5" }),
      () => c.login(dave.login, dave.password, { mechanism: "APOP" }),
      () => c.user(dave.login),
      () => c.pass(dave.password),
      () => c.apop(dave.login, dave.password),
    ]
  ) await assert.rejects(attempt(), AuthError);
  assert.ok(
    !clientLines(log).some((l) => /^(USER|PASS|APOP|AUTH)\b/i.test(l)),
    `nothing sent: ${clientLines(log).join(" | ")}`,
  );
  assert.ok(!log.some((e) => e.text.includes(dave.password)));
  await c.stls();
  assert.equal(c.secure, true);
  assert.ok(c.hasCapability("USER"));
  assert.deepEqual(c.capabilities.get("SASL"), ["PLAIN", "LOGIN", "CRAM-MD5"]);
  await c.login(dave.login, dave.password, { mechanism: "USER" });
  assert.equal(c.authenticated, true);
  assert.ok((await c.stat()).count >= 0);
  await c.quit();
});

test("strict listener with allowInsecureAuth: Dovecot itself refuses USER [AUTH]; CRAM-MD5 and APOP work in clear", async () => {
  const strict = strictTarget();
  const base: Pop3ClientOptions = {
    hostname: strict.host,
    port: strict.plain,
    tls: "none",
    allowInsecureAuth: true,
    timeout: 15_000,
  };
  {
    const log: LogEntry[] = [];
    await using c = await Pop3Client.connect({
      ...base,
      logger: (e) => log.push(e),
    });
    const err = await c.login(dave.login, dave.password, { mechanism: "USER" })
      .then(() => null, (e) => e);
    assert.ok(err instanceof Pop3AuthenticationError, String(err));
    assert.equal(err.respCode, "AUTH");
    assert.match(err.response, /Plaintext authentication disallowed/);
    assert.ok(!clientLines(log).some((l) => l.startsWith("PASS")));
    await c.quit();
  }
  for (const mechanism of [undefined, "APOP"]) {
    const log: LogEntry[] = [];
    await using c = await Pop3Client.connect({
      ...base,
      auth: { username: dave.login, password: dave.password, mechanism },
      logger: (e) => log.push(e),
    });
    assert.equal(c.authenticated, true);
    assert.equal(c.secure, false);
    const sent = clientLines(log);
    assert.ok(
      sent.some((l) =>
        l.startsWith(mechanism === "APOP" ? "APOP " : "AUTH CRAM-MD5")
      ),
    );
    await c.quit();
  }
});

test("strict listener with tls: starttls and USER: logs in after STLS", async () => {
  const strict = strictTarget();
  await using c = await Pop3Client.connect(
    pop3(dave, {
      hostname: strict.host,
      port: strict.plain,
      auth: {
        username: dave.login,
        password: dave.password,
        mechanism: "USER",
      },
    }),
  );
  assert.equal(c.secure, true);
  assert.equal(c.authenticated, true);
  await c.quit();
});

// --- every command ---------------------------------------------------------

test("every command: capa, stat, list, uidl, listing, top, retr, retrStream, retrMany, noop, deleMany, quit", async () => {
  const tag = token("cmds");
  const ids = [1, 2, 3].map((i) => `${tag}-${i}`);
  const sent: string[] = [];
  for (const [i, id] of ids.entries()) {
    const body = Array.from(
      { length: 5 + i },
      (_, n) => `body line ${n + 1} of ${id}`,
    ).join("\r\n") + "\r\n";
    sent.push(await deliver(dave, id, body));
  }
  try {
    const log: LogEntry[] = [];
    await using c = await Pop3Client.connect(
      pop3(dave, { logger: (e) => log.push(e) }),
    );

    const capa = await c.capa();
    for (const k of ["TOP", "UIDL", "RESP-CODES", "PIPELINING"]) {
      assert.ok(capa.has(k), k);
    }

    const stat = await c.stat();
    const list = await c.list();
    assert.equal(stat.count, list.length);
    assert.equal(stat.size, list.reduce((a, m) => a + m.size, 0));
    assert.deepEqual(list.map((m) => m.id), list.map((_, i) => i + 1));
    for (const m of list) assert.deepEqual(await c.list(m.id), m);

    const uidl = await c.uidl();
    assert.deepEqual(uidl.map((m) => m.id), list.map((m) => m.id));
    assert.equal(new Set(uidl.map((m) => m.uid)).size, uidl.length);
    for (const m of uidl) {
      assert.match(m.uid, /^[0-9a-f]{16}$/, "Dovecot UIDL: 16 lowercase hex");
      assert.deepEqual(await c.uidl(m.id), m);
    }

    log.length = 0;
    const listing = await c.listing();
    assertPipelined(log, ["UIDL", "LIST"]);
    assert.deepEqual(
      listing,
      uidl.map((u, i) => ({ id: u.id, uid: u.uid, size: list[i].size })),
    );

    const mine: number[] = [];
    for (const [i, id] of ids.entries()) {
      const n = await mustFind(c, `Subject: ${id}\r\n`);
      mine.push(n);
      const raw = await c.retr(n);
      assert.equal(
        raw.length,
        (await c.list(n)).size,
        "LIST size = RETR bytes",
      );
      assertTracePrefix(
        raw.subarray(0, raw.length - enc.encode(sent[i]).length),
        dave,
      );
      assertSameBytes(
        raw.subarray(raw.length - enc.encode(sent[i]).length),
        enc.encode(sent[i]),
        "retr",
      );
      const { bytes } = await readAll(await c.retrStream(n));
      assertSameBytes(bytes, raw, "retrStream vs retr");

      const end = indexOf(raw, HEADER_END) + HEADER_END.length;
      assertSameBytes(await c.top(n, 0), raw.subarray(0, end), "top(n, 0)");
      let three = end;
      for (let k = 0; k < 3; k++) {
        three = indexOf(raw.subarray(three), CRLF) + three + 2;
      }
      const top3 = await c.top(n, 3);
      assertSameBytes(top3, raw.subarray(0, three), "top(n, 3)");
      assert.ok(dec.decode(top3).endsWith(`body line 3 of ${id}\r\n`));
      assert.ok(!dec.decode(top3).includes("body line 4"));
    }

    log.length = 0;
    const many = await c.retrMany(mine);
    assertPipelined(log, mine.map((n) => `RETR ${n}`));
    for (const [i, n] of mine.entries()) {
      assertSameBytes(many[i], await c.retr(n), `retrMany[${i}]`);
    }

    assert.equal((await c.noop()).ok, true);

    log.length = 0;
    const deleted = await c.deleMany(mine);
    assertPipelined(log, mine.map((n) => `DELE ${n}`));
    assert.equal(deleted.length, 3);
    assert.ok(deleted.every((s) => s.ok));
    assert.equal((await c.stat()).count, stat.count - 3);
    const quit = await c.quit();
    assert.equal(quit.ok, true);
    assert.equal(c.connected, false);
    await assert.rejects(c.noop(), Pop3ServerDisconnectedError);

    await using again = await Pop3Client.connect(pop3(dave));
    for (const id of ids) {
      assert.equal(await find(again, `Subject: ${id}\r\n`), undefined, id);
    }
    assert.equal((await again.stat()).count, stat.count - 3);
    await again.quit();
  } finally {
    await remove(dave, tag);
  }
});

test("-ERR answers: no such message → Pop3ResponseError, session goes on", async () => {
  await using c = await Pop3Client.connect(pop3(dave));
  const { count } = await c.stat();
  const missing = count + 1000;
  for (
    const call of [
      () => c.retr(missing),
      () => c.list(missing),
      () => c.uidl(missing),
      () => c.top(missing, 0),
      () => c.dele(missing),
      () => c.retrStream(missing),
    ]
  ) {
    await assert.rejects(call(), (e) => {
      assert.ok(e instanceof Pop3ResponseError, String(e));
      assert.ok(!(e instanceof Pop3AuthenticationError));
      return true;
    });
  }
  await assert.rejects(c.retrMany([missing]), Pop3ResponseError);
  assert.equal((await c.noop()).ok, true);
  await c.quit();
});

test("without pipelining: listing, retrMany, deleMany go one command at a time, same results", async () => {
  const tag = token("nopipe");
  const ids = [1, 2].map((i) => `${tag}-${i}`);
  for (const id of ids) await deliver(dave, id, `body of ${id}\r\n`);
  try {
    const log: LogEntry[] = [];
    await using c = await Pop3Client.connect(
      pop3(dave, { pipelining: false, logger: (e) => log.push(e) }),
    );
    assert.ok(c.hasCapability("PIPELINING"), "offered, but not used");
    const mine: number[] = [];
    for (const id of ids) mine.push(await mustFind(c, `Subject: ${id}\r\n`));
    const uidl = await c.uidl();
    const list = await c.list();
    log.length = 0;
    assert.deepEqual(
      await c.listing(),
      uidl.map((u, i) => ({ id: u.id, uid: u.uid, size: list[i].size })),
    );
    const many = await c.retrMany(mine);
    for (const [i, n] of mine.entries()) {
      assertSameBytes(many[i], await c.retr(n), `retrMany[${i}]`);
    }
    await c.deleMany(mine);
    // each command waited for the previous answer
    for (let i = 1; i < log.length; i++) {
      if (log[i].direction === "client") {
        assert.notEqual(log[i - 1].direction, "client", log[i].text);
      }
    }
    await c.quit();
    await using again = await Pop3Client.connect(pop3(dave));
    for (const id of ids) {
      assert.equal(await find(again, `Subject: ${id}\r\n`), undefined, id);
    }
    await again.quit();
  } finally {
    await remove(dave, tag);
  }
});

test("retrStream cancelled early: a small rest is drained and the session goes on; a large rest closes, DELE not committed", async () => {
  const small = token("cancel-small");
  const large = token("cancel-large");
  const line = "x".repeat(998) + "\r\n";
  await deliver(dave, small, line.repeat(300)); // ~300 KB: under the 1 MiB drain limit
  await deliver(dave, large, line.repeat(4000)); // ~4 MB: over it
  try {
    {
      await using c = await Pop3Client.connect(pop3(dave));
      const n = await mustFind(c, `Subject: ${small}\r\n`);
      const stream = await c.retrStream(n);
      await assert.rejects(c.noop(), /stream is open/);
      const reader = stream.getReader();
      const first = await reader.read();
      assert.ok(!first.done && first.value.length > 0);
      await reader.cancel();
      assert.equal(c.connected, true, "drained, still connected");
      assert.equal((await c.noop()).ok, true);
      const raw = await c.retr(n);
      assert.ok(dec.decode(raw).includes(`Subject: ${small}\r\n`));
      await c.quit();
    }
    {
      const c = await Pop3Client.connect(pop3(dave));
      const n = await mustFind(c, `Subject: ${large}\r\n`);
      const { uid } = await c.uidl(n);
      await c.dele(await mustFind(c, `Subject: ${small}\r\n`));
      const reader = (await c.retrStream(n)).getReader();
      assert.equal((await reader.read()).done, false);
      await reader.cancel();
      assert.equal(c.connected, false, "too much to drain: closed");
      await assert.rejects(c.noop(), Pop3ServerDisconnectedError);
      await c.close();
      await using again = await Pop3Client.connect(pop3(dave));
      assert.ok((await again.uidl()).some((m) => m.uid === uid));
      assert.ok(await find(again, `Subject: ${small}\r\n`) !== undefined);
      await again.quit();
    }
  } finally {
    await remove(dave, small);
    await remove(dave, large);
  }
});

test("what Dovecot lacks or forbids: UTF8 (nothing sent), STLS after TLS or login", async () => {
  const log: LogEntry[] = [];
  await using c = await Pop3Client.connect(
    pop3(dave, { auth: undefined, logger: (e) => log.push(e) }),
  );
  assert.equal(c.hasCapability("UTF8"), false);
  await assert.rejects(c.utf8(), Pop3NotSupportedError);
  assert.ok(!clientLines(log).includes("UTF8"));
  await assert.rejects(c.stls(), /already active/);
  await c.login(dave.login, dave.password);
  await assert.rejects(c.stls(), /already active|before login/);
  assert.equal((await c.noop()).ok, true);
  await c.quit();
});

// --- byte identity: SMTP → Dovecot → POP3 ------------------------------------

interface RoundTrip {
  name: string;
  /** The message as submitted (a string, or bytes for the big one). */
  build: (id: string) => string | Uint8Array;
  /** Envelope sender (default alice). */
  from?: string;
  /** Extra checks on the SMTP transcript. */
  smtp?: (log: LogEntry[]) => void;
}

function bigBody(): string {
  const lines = [
    "0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789",
    ".a line starting with a dot",
    "..two dots",
    ".",
    "ünïcödé ✓ 日本語",
  ];
  const target = 10 << 20;
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < target; i++) {
    const line = `${i.toString().padStart(8, "0")} ${lines[i % lines.length]}`;
    parts.push(line);
    size += enc.encode(line).length + 2;
  }
  return parts.join("\r\n") + "\r\n";
}

const roundTrips: RoundTrip[] = [
  {
    name: "lines starting with dots",
    build: (id) =>
      message(
        dave,
        id,
        ".x\r\n..y\r\n...z\r\n. space\r\n.\tTab\r\nafter\r\n..\r\n",
      ),
  },
  {
    name: "a lone dot line mid-message and at the end",
    build: (id) => message(dave, id, "before\r\n.\r\nafter\r\n.\r\n"),
  },
  {
    name: "a 5000-byte line",
    build: (id) =>
      message(
        dave,
        id,
        `short\r\n${"a".repeat(4999)}.\r\n.${"b".repeat(4999)}\r\n`,
      ),
  },
  {
    name: "a 100 000-byte line",
    build: (id) =>
      message(dave, id, `${"0123456789".repeat(10_000)}\r\ntail\r\n`),
  },
  {
    name: "8-bit UTF-8 (SMTPUTF8 sender, UTF-8 subject, 8BITMIME body)",
    from: "jörg@mail.test",
    build: (id) =>
      `From: Jörg <jörg@mail.test>\r\nTo: <${dave.address}>\r\n` +
      `Subject: ${id} grüße 日本\r\n${stamp(id)}` +
      `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Transfer-Encoding: 8bit\r\n\r\n` +
      `Äpfel, Öl, Übermut — 日本語 ✓ 🚀\r\n.ünïcödé after a dot\r\n`,
    smtp: (log) => {
      const mail = log.find((e) =>
        e.direction === "client" && e.text.startsWith("MAIL FROM:")
      );
      assert.match(mail?.text ?? "", /SMTPUTF8/);
      assert.match(mail?.text ?? "", /BODY=8BITMIME/);
    },
  },
  {
    name: "no final CRLF",
    build: (id) => message(dave, id, "first line\r\nlast line without CRLF"),
  },
  {
    name: "bare LF line ends",
    build: (id) => message(dave, id, "one\ntwo\n.three\n\nfive\n"),
  },
  {
    name: "a 10 MiB body",
    build: (id) => enc.encode(message(dave, id, bigBody())),
  },
];

for (const rt of roundTrips) {
  test(`byte identity via SMTP → Dovecot → POP3: ${rt.name}`, async () => {
    const id = token("rt");
    const data = rt.build(id);
    const sentBytes = typeof data === "string" ? enc.encode(data) : data;
    const expected = normalise(sentBytes);
    const smtpLog: LogEntry[] = [];
    try {
      await submit(dave, rt.from ?? alice.address, data, smtpLog);
      rt.smtp?.(smtpLog);
      await waitForDelivery(dave, `Message-ID: <${id}@mail.test>`, 30_000);

      await using c = await Pop3Client.connect(pop3(dave, { timeout: 60_000 }));
      const n = await mustFind(c, `Message-ID: <${id}@mail.test>\r\n`);
      const raw = await c.retr(n);
      assert.ok(raw.length > expected.length, "trace headers were added");
      const prefix = raw.subarray(0, raw.length - expected.length);
      assertTracePrefix(prefix, dave);
      assertSameBytes(
        raw.subarray(prefix.length),
        expected,
        "RETR suffix = sent bytes",
      );
      assert.equal(
        raw.length,
        (await c.list(n)).size,
        "LIST size = RETR bytes",
      );

      const { bytes, chunks } = await readAll(await c.retrStream(n));
      assertSameBytes(bytes, raw, "retrStream = retr");

      await c.dele(n);
      await c.quit();
      console.log(
        `  ${rt.name}: sent ${sentBytes.length} B, expected ${expected.length} B, ` +
          `RETR ${raw.length} B (trace headers ${prefix.length} B), ` +
          `retrStream ${bytes.length} B in ${chunks} chunks: identical`,
      );
    } finally {
      await remove(dave, `Message-ID: <${id}@mail.test>`);
    }
  });
}

// --- deletion semantics (erin) -----------------------------------------------

/** Deliver one message to erin; return its token and UIDL. */
async function erinMessage(
  label: string,
): Promise<{ id: string; uid: string }> {
  const id = token(label);
  await deliver(erin, id, `for ${label}\r\n`);
  await using c = await Pop3Client.connect(pop3(erin));
  const n = await mustFind(c, `Subject: ${id}\r\n`);
  const { uid } = await c.uidl(n);
  await c.quit();
  return { id, uid };
}

/** Where `uid` is in a new session (undefined: gone). */
async function erinHas(uid: string): Promise<number | undefined> {
  await using c = await Pop3Client.connect(pop3(erin));
  const found = (await c.uidl()).find((m) => m.uid === uid);
  await c.quit();
  return found?.id;
}

test("DELE + QUIT removes the message: a new session doesn't see it", async () => {
  const { id, uid } = await erinMessage("dele-quit");
  try {
    await using c = await Pop3Client.connect(pop3(erin));
    const before = await c.stat();
    const n = await mustFind(c, `Subject: ${id}\r\n`);
    assert.equal((await c.dele(n)).ok, true);
    const after = await c.stat();
    assert.equal(after.count, before.count - 1, "STAT skips deleted messages");
    await assert.rejects(c.retr(n), Pop3ResponseError);
    await c.quit();
    assert.equal(await erinHas(uid), undefined);
  } finally {
    await remove(erin, id);
  }
});

test("DELE + close() (no QUIT) keeps the message, same UIDL", async () => {
  const { id, uid } = await erinMessage("dele-close");
  try {
    const c = await Pop3Client.connect(pop3(erin));
    const n = await mustFind(c, `Subject: ${id}\r\n`);
    await c.dele(n);
    await c.close();
    assert.equal(c.connected, false);
    const again = await erinHas(uid);
    assert.ok(again !== undefined, "still there after close()");
    await using c2 = await Pop3Client.connect(pop3(erin));
    assert.equal((await c2.uidl(again)).uid, uid);
    assert.ok(dec.decode(await c2.retr(again)).includes(`Subject: ${id}\r\n`));
    await c2.quit();
  } finally {
    await remove(erin, id);
  }
});

test("DELE inside `await using` without QUIT keeps the message", async () => {
  const { id, uid } = await erinMessage("dele-using");
  try {
    {
      await using c = await Pop3Client.connect(pop3(erin));
      const n = await mustFind(c, `Subject: ${id}\r\n`);
      await c.dele(n);
    }
    assert.ok(await erinHas(uid) !== undefined, "still there after dispose");
  } finally {
    await remove(erin, id);
  }
});

test("RSET undoes DELE, QUIT then commits nothing", async () => {
  const { id, uid } = await erinMessage("rset");
  try {
    await using c = await Pop3Client.connect(pop3(erin));
    const before = await c.stat();
    const n = await mustFind(c, `Subject: ${id}\r\n`);
    await c.dele(n);
    await assert.rejects(c.list(n), Pop3ResponseError);
    assert.equal((await c.rset()).ok, true);
    assert.deepEqual(await c.stat(), before);
    assert.equal((await c.uidl(n)).uid, uid);
    await c.quit();
    assert.equal(await erinHas(uid), n);
  } finally {
    await remove(erin, id);
  }
});

test("erin and dave are left empty", async () => {
  for (const u of [dave, erin]) {
    await using c = await Pop3Client.connect(pop3s(u));
    assert.deepEqual(await c.stat(), { count: 0, size: 0 }, u.address);
    await c.quit();
  }
});
