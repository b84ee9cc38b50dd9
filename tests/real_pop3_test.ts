/**
 * POP3 against the real Dovecot from tests/servers/, on Deno and Bun:
 * every command, every login method, STLS/POP3S and the strict listener.
 * The SMTP → POP3 byte-identity round trips and the deletion semantics are
 * in tests/real_roundtrip_test.ts.
 *
 * dave@mail.test is reserved for this file (no other test delivers to it):
 * the mailbox is emptied first. Every test deletes what it delivered and
 * finds its messages by a unique token, so a failed run leaves nothing that
 * breaks the next one.
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
import { AuthError } from "../auth/mod.ts";
import { TlsError } from "../tls/mod.ts";
import type { LogEntry } from "../io/log.ts";
import { fixture } from "./fakes/scripted.ts";
import { indexOf, token } from "./real/env.ts";
import {
  assertPipelined,
  assertSameBytes,
  assertTracePrefix,
  ca,
  clearMailbox,
  clientLines,
  CRLF,
  dave,
  dec,
  deliver,
  enc,
  env,
  find,
  HEADER_END,
  mustFind,
  pop3,
  pop3s,
  readAll,
  remove,
  strictTarget,
} from "./real/pop3.ts";

await clearMailbox(dave);

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

test("dave is left empty", async () => {
  await using c = await Pop3Client.connect(pop3s(dave));
  assert.deepEqual(await c.stat(), { count: 0, size: 0 }, dave.address);
  await c.quit();
});
