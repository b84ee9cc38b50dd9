import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AuthError,
  InvalidInputError,
  ProtocolError,
  TimeoutError,
} from "../errors.ts";
import { XOAuth2Mechanism } from "../auth/xoauth2.ts";
import type { LogEntry } from "../io/log.ts";
import { fakeServer } from "../tests/fakes/scripted.ts";
import type { Connector } from "../tls/conn.ts";
import { defaultConnector } from "../tls/connect.ts";
import { Pop3Client } from "./client.ts";
import {
  Pop3AuthenticationError,
  Pop3Error,
  Pop3NotSupportedError,
  Pop3ResponseError,
  Pop3ServerDisconnectedError,
} from "./errors.ts";
import {
  CA,
  RFC_GREETING,
  sleep,
  startFake,
  until,
} from "../tests/fakes/pop3_fake.ts";

const CAPA = ["USER", "UIDL", "TOP", "PIPELINING", "RESP-CODES"];

test("connect reads the greeting, its text and APOP timestamp", async () => {
  await using fake = await startFake({ capa: CAPA });
  const client = await Pop3Client.connect(fake.options());
  assert.equal(
    client.welcome,
    "POP3 server ready <1896.697170952@dbc.mtview.ca.us>",
  );
  assert.equal(client.timestamp, "<1896.697170952@dbc.mtview.ca.us>");
  assert.equal(client.connected, true);
  assert.equal(client.secure, false);
  await client.close();
  assert.equal(client.connected, false);
  assert.equal(fake.peer().text, ""); // tls: "none" sends nothing at connect
});

test("concurrent connect(): one socket; the second is 'already connected'", async () => {
  await using fake = await startFake({ capa: CAPA });
  let dialled = 0;
  const connector: Connector = (target, signal) => {
    dialled++;
    return defaultConnector(target, signal);
  };
  const client = new Pop3Client(fake.options({ connector }));
  const [a, b] = await Promise.allSettled([client.connect(), client.connect()]);
  assert.equal(a.status, "fulfilled");
  assert.equal(b.status, "rejected");
  assert.ok(b.reason instanceof Pop3Error, String(b.reason));
  assert.match(b.reason.message, /already connected/);
  assert.equal(client.connected, true);
  await sleep(100);
  assert.equal(dialled, 1);
  assert.equal(fake.server.peers.length, 1);
  await client.close();
  assert.ok(await fake.peer().waitClosed(2000));
  // After a close, connect() opens a new connection again.
  await client.connect();
  assert.equal(fake.server.peers.length, 2);
  await client.close();
});

test("a greeting other than +OK/-ERR is a ProtocolError and closes", async () => {
  for (const greeting of ["+ERR hello", "hello", "", "+OKAY", "-ERROR x"]) {
    await using fake = await startFake({ greeting });
    const client = new Pop3Client(fake.options());
    await assert.rejects(client.connect(), ProtocolError, greeting);
    assert.equal(client.connected, false);
    assert.ok(await fake.peer().waitClosed(2000), greeting);
  }
});

test("-ERR [SYS/TEMP] greeting: Pop3ResponseError, temporary, closed", async () => {
  await using fake = await startFake({ greeting: "-ERR [SYS/TEMP] too busy" });
  const client = new Pop3Client(fake.options());
  const err = await client.connect().catch((e) => e);
  assert.ok(err instanceof Pop3ResponseError);
  assert.equal(err.respCode, "SYS/TEMP");
  assert.equal(err.response, "too busy");
  assert.equal(err.temporary, true);
  assert.equal(client.connected, false);
});

test("login with USER/PASS; -ERR [AUTH] is Pop3AuthenticationError", async () => {
  await using fake = await startFake({ capa: CAPA });
  const client = await Pop3Client.connect(fake.options());
  const err = await client.login("tim", "wrong", { apop: false }).catch((e) =>
    e
  );
  assert.ok(err instanceof Pop3AuthenticationError);
  assert.ok(err instanceof Pop3ResponseError);
  assert.equal(err.respCode, "AUTH");
  assert.equal(err.invalidCredentials, true);
  assert.equal(err.temporary, false);
  assert.equal(client.authenticated, false);
  const ok = await client.login("tim", "secret", { apop: false });
  assert.equal(ok.ok, true);
  assert.equal(client.authenticated, true);
  await client.close();
  assert.equal(
    fake.peer().text,
    "CAPA\r\nUSER tim\r\nPASS wrong\r\nUSER tim\r\nPASS secret\r\n",
  );
});

test("-ERR [IN-USE] on PASS: temporary Pop3AuthenticationError", async () => {
  await using fake = await startFake({
    capa: CAPA,
    onCommand: (l) =>
      l.startsWith("PASS") ? "-ERR [IN-USE] mailbox locked\r\n" : undefined,
  });
  await using client = await Pop3Client.connect(fake.options());
  const err = await client.login("tim", "secret", { apop: false }).catch((e) =>
    e
  );
  assert.ok(err instanceof Pop3AuthenticationError);
  assert.equal(err.respCode, "IN-USE");
  assert.equal(err.temporary, true);
  assert.equal(err.invalidCredentials, false);
  assert.match(err.message, /-ERR \[IN-USE\] mailbox locked/);
});

test("a +ERR status to a command is a ProtocolError and closes", async () => {
  await using fake = await startFake({
    capa: CAPA,
    onCommand: (l) => l === "NOOP" ? "+ERR what\r\n" : undefined,
  });
  const client = await Pop3Client.connect(fake.options());
  await assert.rejects(client.noop(), ProtocolError);
  assert.equal(client.connected, false);
  await assert.rejects(client.noop(), Pop3ServerDisconnectedError);
});

test("an empty status line is a ProtocolError", async () => {
  await using fake = await startFake({
    onCommand: (l) => l === "NOOP" ? "\r\n" : undefined,
  });
  const client = await Pop3Client.connect(fake.options());
  await assert.rejects(client.noop(), ProtocolError);
  assert.equal(client.connected, false);
});

test("USER/PASS refused in clear without allowInsecureAuth: PASS never sent", async () => {
  await using fake = await startFake({ capa: CAPA });
  const client = await Pop3Client.connect(
    fake.options({ allowInsecureAuth: false }),
  );
  await assert.rejects(client.login("tim", "secret"), AuthError);
  await assert.rejects(client.user("tim"), AuthError);
  await assert.rejects(client.pass("secret"), AuthError);
  await assert.rejects(client.apop("tim", "secret"), AuthError);
  await assert.rejects(client.command("PASS secret"), AuthError);
  await client.close();
  assert.equal(fake.peer().text, "");
  // Also through connect's auth option.
  await using fake2 = await startFake({ capa: CAPA });
  const err = await Pop3Client.connect(fake2.options({
    allowInsecureAuth: false,
    auth: { username: "tim", password: "secret" },
  })).catch((e) => e);
  assert.ok(err instanceof AuthError, String(err));
  assert.equal(
    err.phase,
    "auth",
    "the refusal is the login's, not the greeting's",
  );
  assert.ok(await fake2.peer().waitClosed(2000));
  assert.doesNotMatch(fake2.peer().text, /PASS|USER/);
});

test("CR/LF/NUL in arguments: InvalidInputError, zero bytes sent", async () => {
  await using fake = await startFake({ capa: CAPA });
  await using client = await Pop3Client.connect(fake.options());
  await assert.rejects(
    client.login("tim\r\nDELE 1", "secret"),
    InvalidInputError,
  );
  await assert.rejects(client.login("tim", "se\ncret"), InvalidInputError);
  await assert.rejects(() => client.user("a\rb"), InvalidInputError);
  await assert.rejects(() => client.pass("a\0b"), InvalidInputError);
  await assert.rejects(() => client.apop("tim", "x\ny"), InvalidInputError);
  await assert.rejects(
    () => client.command("NOOP\r\nDELE 1"),
    InvalidInputError,
  );
  await assert.rejects(() => client.retr(0), InvalidInputError);
  await assert.rejects(() => client.retr(1.5), InvalidInputError);
  await assert.rejects(() => client.dele(-1), InvalidInputError);
  await assert.rejects(() => client.top(1, -1), InvalidInputError);
  await assert.rejects(
    () => client.retr("1\r\nDELE 2" as unknown as number),
    InvalidInputError,
  );
  await assert.rejects(() => client.list(Number.NaN), InvalidInputError);
  await assert.rejects(
    () => client.pipeline([{ command: "DELE", id: 0 }]),
    InvalidInputError,
  );
  await sleep(50);
  assert.equal(fake.peer().received.length, 0);
});

test("command() refuses multi-line and state-changing commands", async () => {
  await using fake = await startFake({ capa: CAPA });
  await using client = await Pop3Client.connect(fake.options());
  for (
    const c of [
      "RETR 1",
      "TOP 1 0",
      "capa",
      "LIST",
      "UIDL",
      "STLS",
      "AUTH PLAIN",
      "QUIT",
    ]
  ) {
    await assert.rejects(() => client.command(c), InvalidInputError, c);
  }
  const st = await client.command("LIST 9");
  assert.equal(st.ok, false);
  assert.equal(st.text, "no such message");
  assert.equal(fake.peer().text, "LIST 9\r\n");
});

test("APOP: RFC 1939 digest on the wire; transcript redacted", async () => {
  await using fake = await startFake({
    capa: CAPA,
    onCommand: (l) =>
      l.startsWith("APOP ") ? "+OK maildrop locked\r\n" : undefined,
  });
  const log: LogEntry[] = [];
  await using client = await Pop3Client.connect(
    fake.options({ logger: (e) => log.push(e) }),
  );
  await client.apop("mrose", "tanstaaf");
  assert.equal(client.authenticated, true);
  assert.equal(
    fake.peer().text,
    "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
  );
  const sent = log.filter((e) => e.direction === "client").map((e) => e.text);
  assert.deepEqual(sent, ["APOP mrose <redacted>"]);
});

test("APOP without a greeting timestamp: Pop3NotSupportedError, nothing sent", async () => {
  await using fake = await startFake({ greeting: "+OK ready", capa: CAPA });
  await using client = await Pop3Client.connect(fake.options());
  assert.equal(client.timestamp, undefined);
  await assert.rejects(client.apop("mrose", "tanstaaf"), Pop3NotSupportedError);
  await assert.rejects(
    client.login("mrose", "tanstaaf", { mechanism: "APOP" }),
    Pop3NotSupportedError,
  );
  await sleep(30);
  assert.doesNotMatch(fake.peer().text, /APOP/);
});

test("login picks APOP only when asked", async () => {
  await using fake = await startFake({
    capa: CAPA,
    onCommand: (l) => l.startsWith("APOP ") ? "+OK\r\n" : undefined,
  });
  // In clear: USER/PASS even with a timestamp...
  const a = await Pop3Client.connect(fake.options());
  await a.login("tim", "secret");
  await a.close();
  assert.match(fake.server.peers[0].text, /USER tim\r\nPASS secret/);
  // ...APOP when asked.
  const b = await Pop3Client.connect(fake.options());
  await b.login("tim", "secret", { apop: true });
  await b.close();
  assert.match(
    fake.server.peers[1].text,
    /^CAPA\r\nAPOP tim [0-9a-f]{32}\r\n$/,
  );
});

test("login prefers SASL; AUTH PLAIN with initial response; redacted", async () => {
  await using fake = await startFake({ capa: [...CAPA, "SASL PLAIN LOGIN"] });
  const log: LogEntry[] = [];
  await using client = await Pop3Client.connect(
    fake.options({ logger: (e) => log.push(e) }),
  );
  await client.login("tim", "secret", { apop: true });
  assert.equal(
    fake.peer().text,
    "CAPA\r\nAUTH PLAIN AHRpbQBzZWNyZXQ=\r\n",
  );
  const sent = log.filter((e) => e.direction === "client").map((e) => e.text);
  assert.deepEqual(sent, ["CAPA", "AUTH PLAIN <redacted>"]);
  assert.ok(!log.some((e) => e.text.includes("AHRpbQBzZWNyZXQ")));
});

test("AUTH -ERR: Pop3AuthenticationError; no fallback to USER/PASS", async () => {
  await using fake = await startFake({ capa: [...CAPA, "SASL PLAIN"] });
  await using client = await Pop3Client.connect(fake.options());
  const err = await client.login("tim", "bad").catch((e) => e);
  assert.ok(err instanceof Pop3AuthenticationError);
  assert.equal(err.respCode, "AUTH");
  assert.equal(fake.peer().text, "CAPA\r\nAUTH PLAIN AHRpbQBiYWQ=\r\n");
});

test("a broken SASL exchange is an AuthError and closes the connection", async () => {
  // LOGIN answers any prompt (its prompts are only ordering); CRAM-MD5
  // needs a valid challenge.
  const replies: Record<string, [string, string]> = {
    "+OK right after AUTH LOGIN": ["LOGIN", "+OK welcome\r\n"],
    "an invalid base64 challenge": ["CRAM-MD5", "+ !!not base64!!\r\n"],
  };
  for (const [what, [mechanism, reply]] of Object.entries(replies)) {
    await using fake = await startFake({
      capa: ["USER", "SASL LOGIN PLAIN CRAM-MD5"],
      onCommand: (line) =>
        line === `AUTH ${mechanism}`
          ? reply
          : line === "*"
          ? "-ERR cancelled\r\n"
          : undefined,
    });
    const client = await Pop3Client.connect(fake.options());
    const err = await client.login("tim", "secret", { mechanism })
      .catch((e) => e);
    assert.ok(err instanceof AuthError, `${what}: ${err}`);
    assert.equal(client.connected, false, what);
    assert.equal(client.authenticated, false, what);
    assert.ok(await fake.peer().waitClosed(2000), what);
  }
  // Refused before AUTH was sent (an invalid mechanism name): nothing to close.
  await using fake = await startFake({ capa: null });
  const client = await Pop3Client.connect(fake.options());
  const bad = new XOAuth2Mechanism({ username: "tim", accessToken: "t" });
  Object.defineProperty(bad, "name", { value: "BAD NAME" });
  await assert.rejects(client.auth(bad), AuthError);
  assert.equal(client.connected, true);
  assert.equal(fake.peer().text, "CAPA\r\n");
  await client.close();
});

test("SASL offered but unusable: falls back to USER/PASS", async () => {
  await using fake = await startFake({ capa: [...CAPA, "SASL GSSAPI"] });
  await using client = await Pop3Client.connect(fake.options());
  await client.login("tim", "secret");
  assert.match(fake.peer().text, /^CAPA\r\nUSER tim\r\nPASS secret\r\n/);
});

test("a long XOAUTH2 token waits for the empty + challenge (RFC 5034 255 octets)", async () => {
  const token = "ya29." + "x".repeat(400);
  let authLine = "";
  let response = "";
  await using fake = await startFake({
    capa: [...CAPA, "SASL XOAUTH2"],
    onCommand: async (l, peer) => {
      if (!l.startsWith("AUTH")) return undefined;
      authLine = l;
      await peer.write("+ \r\n");
      response = (await peer.readLine()) ?? "";
      return "+OK welcome\r\n";
    },
  });
  await using client = await Pop3Client.connect(fake.options());
  await client.loginWithToken("tim@example.com", token);
  assert.equal(authLine, "AUTH XOAUTH2");
  assert.equal(
    atob(response),
    `user=tim@example.com\x01auth=Bearer ${token}\x01\x01`,
  );
  assert.equal(client.authenticated, true);
});

test("a short token rides on the AUTH line; the line limit is 255 with CRLF", async () => {
  const lines: string[] = [];
  await using fake = await startFake({
    capa: [...CAPA, "SASL XOAUTH2"],
    onCommand: async (l, peer) => {
      if (!l.startsWith("AUTH")) return undefined;
      lines.push(l);
      if (l === "AUTH XOAUTH2") {
        await peer.write("+ \r\n");
        lines.push((await peer.readLine()) ?? "");
      }
      return "+OK\r\n";
    },
  });
  // "user=u\x01auth=Bearer <token>\x01\x01" is 21 + n bytes, 4 * ceil((21 + n) / 3)
  // in base64. "AUTH XOAUTH2 " is 13: 13 + 240 = 253 fits (255 with CRLF),
  // 13 + 244 does not.
  const fits = "t".repeat(180 - 21); // 240 base64 chars
  const over = "t".repeat(183 - 21); // 244 base64 chars
  for (const token of [fits, over]) {
    const client = await Pop3Client.connect(fake.options());
    await client.auth(
      new XOAuth2Mechanism({ username: "u", accessToken: token }),
    );
    await client.close();
  }
  assert.equal(lines[0].length, 253);
  assert.equal(lines[1], "AUTH XOAUTH2");
  assert.equal(lines[2].length, 244);
});

test("loginWithToken without SASL: Pop3NotSupportedError, nothing sent but CAPA", async () => {
  await using fake = await startFake({ capa: CAPA });
  await using client = await Pop3Client.connect(fake.options());
  await assert.rejects(
    client.loginWithToken("tim", "tok"),
    Pop3NotSupportedError,
  );
  assert.equal(fake.peer().text, "CAPA\r\n");
});

test("starttls: CAPA, STLS, TLS, CAPA again, then AUTH under TLS", async () => {
  await using fake = await startFake({
    capa: [...CAPA, "STLS"],
    capaAfterTls: [...CAPA, "SASL PLAIN"],
  });
  const client = await Pop3Client.connect({
    hostname: "127.0.0.1",
    port: fake.port,
    caCerts: [CA],
    timeout: 5000,
    auth: { username: "tim", password: "secret" },
  });
  assert.equal(client.secure, true);
  assert.equal(client.authenticated, true);
  assert.equal(client.hasCapability("STLS"), false);
  assert.deepEqual(client.capabilities.get("SASL"), ["PLAIN"]);
  await client.quit();
  assert.equal(
    fake.peer().text,
    "CAPA\r\nSTLS\r\nCAPA\r\nAUTH PLAIN AHRpbQBzZWNyZXQ=\r\nQUIT\r\n",
  );
});

test("starttls without STLS in CAPA: error, closed, no USER/PASS", async () => {
  await using fake = await startFake({ capa: CAPA });
  const t0 = Date.now();
  const err = await Pop3Client.connect({
    hostname: "127.0.0.1",
    port: fake.port,
    timeout: 5000,
    auth: { username: "tim", password: "secret" },
  }).catch((e) => e);
  assert.ok(err instanceof Pop3NotSupportedError, String(err));
  assert.equal(err.phase, "stls", "named as the stls step, not the greeting");
  assert.ok(Date.now() - t0 < 2000);
  assert.ok(await fake.peer().waitClosed(2000));
  assert.equal(fake.peer().text, "CAPA\r\n");
});

test("starttls when CAPA is refused: error, nothing else sent", async () => {
  await using fake = await startFake({ capa: null });
  await assert.rejects(
    Pop3Client.connect({
      hostname: "127.0.0.1",
      port: fake.port,
      timeout: 5000,
    }),
    Pop3NotSupportedError,
  );
  assert.ok(await fake.peer().waitClosed(2000));
  assert.equal(fake.peer().text, "CAPA\r\n");
});

test("STLS refused with -ERR: error, closed, never continues in clear", async () => {
  await using fake = await startFake({
    capa: [...CAPA, "STLS"],
    onCommand: (l) =>
      l === "STLS" ? "-ERR [SYS/TEMP] no tls today\r\n" : undefined,
  });
  const err = await Pop3Client.connect({
    hostname: "127.0.0.1",
    port: fake.port,
    timeout: 5000,
    auth: { username: "tim", password: "secret" },
  }).catch((e) => e);
  assert.ok(err instanceof Pop3NotSupportedError);
  assert.ok(err.cause instanceof Pop3ResponseError);
  assert.equal((err.cause as Pop3ResponseError).respCode, "SYS/TEMP");
  assert.ok(await fake.peer().waitClosed(2000));
  assert.equal(fake.peer().text, "CAPA\r\nSTLS\r\n");
});

test("bytes injected after +OK to STLS: ProtocolError, nothing sent afterwards", async () => {
  await using fake = await startFake({
    capa: [...CAPA, "STLS"],
    onCommand: (l) =>
      l === "STLS" ? "+OK begin tls\r\n+OK injected\r\n" : undefined,
  });
  const t0 = Date.now();
  await assert.rejects(
    Pop3Client.connect({
      hostname: "127.0.0.1",
      port: fake.port,
      caCerts: [CA],
      timeout: 5000,
      auth: { username: "tim", password: "secret" },
    }),
    ProtocolError,
  );
  assert.ok(Date.now() - t0 < 2000);
  assert.ok(await fake.peer().waitClosed(2000));
  assert.equal(fake.peer().text, "CAPA\r\nSTLS\r\n");
});

test("stls() only before login and only once", async () => {
  await using fake = await startFake({ capa: [...CAPA, "STLS"] });
  await using client = await Pop3Client.connect(
    fake.options({ caCerts: [CA] }),
  );
  await client.stls();
  assert.equal(client.secure, true);
  await assert.rejects(client.stls(), /tls is already active/);
  // Under TLS with a greeting timestamp and no SASL: USER/PASS, not APOP
  // (servers with a timestamp in every greeting often have no APOP secret).
  await client.login("tim", "secret");
  assert.equal(client.authenticated, true);
  assert.match(
    fake.peer().text,
    /^CAPA\r\nSTLS\r\nCAPA\r\nUSER tim\r\nPASS secret\r\n$/,
  );
  // Logged in without TLS: too late for STLS, nothing sent.
  await using fake2 = await startFake({ capa: [...CAPA, "STLS"] });
  await using clear = await Pop3Client.connect(fake2.options());
  await clear.login("tim", "secret");
  const sent = fake2.peer().text;
  await assert.rejects(clear.stls(), /stls is only allowed before login/);
  assert.equal(fake2.peer().text, sent);
});

test("capa() maps keywords (upper-cased) to arguments; -ERR throws", async () => {
  await using fake = await startFake({
    capa: [
      "top",
      "SASL PLAIN  XOAUTH2",
      "IMPLEMENTATION Shlemazle Plus",
      "EXPIRE 60 USER",
    ],
  });
  await using client = await Pop3Client.connect(fake.options());
  const capa = await client.capa();
  assert.deepEqual([...capa], [
    ["TOP", []],
    ["SASL", ["PLAIN", "XOAUTH2"]],
    ["IMPLEMENTATION", ["Shlemazle", "Plus"]],
    ["EXPIRE", ["60", "USER"]],
  ]);
  await using fake2 = await startFake({ capa: null });
  await using client2 = await Pop3Client.connect(fake2.options());
  await assert.rejects(client2.capa(), Pop3ResponseError);
  assert.equal(client2.connected, true);
});

test("utf8() needs the UTF8 capability", async () => {
  await using fake = await startFake({ capa: CAPA });
  await using client = await Pop3Client.connect(fake.options());
  await assert.rejects(client.utf8(), Pop3NotSupportedError);
  assert.equal(fake.peer().text, "CAPA\r\n");
  await using fake2 = await startFake({
    capa: [...CAPA, "UTF8 USER"],
    onCommand: (l) => l === "UTF8" ? "+OK utf8 on\r\n" : undefined,
  });
  await using client2 = await Pop3Client.connect(fake2.options());
  await client2.utf8();
  assert.equal(client2.utf8Enabled, true);
});

test("a silent server: greeting times out within the bound, closed", async () => {
  await using silent = await fakeServer(async (peer) => {
    await peer.waitClosed(5000);
  });
  const t0 = Date.now();
  await assert.rejects(
    Pop3Client.connect({
      hostname: "127.0.0.1",
      port: silent.port,
      tls: "none",
      timeout: 300,
    }),
    TimeoutError,
  );
  const took = Date.now() - t0;
  assert.ok(took >= 250 && took < 1500, `took ${took} ms`);
  assert.ok(await silent.peers[0].waitClosed(2000));
});

test("close() without QUIT: QUIT never sent; asyncDispose neither", async () => {
  await using fake = await startFake({ capa: CAPA, messages: ["a\r\n"] });
  {
    await using client = await Pop3Client.connect(fake.options());
    await client.login("tim", "secret");
    await client.dele(1);
  }
  assert.ok(await fake.server.peers[0].waitClosed(2000));
  const b = await Pop3Client.connect(fake.options());
  await b.login("tim", "secret");
  await b.dele(1);
  await b.close();
  await b.close(); // idempotent
  assert.ok(await fake.server.peers[1].waitClosed(2000));
  for (const p of fake.server.peers) assert.doesNotMatch(p.text, /QUIT/);
  assert.deepEqual(fake.committed, []);
});

test("dele + quit: QUIT sent, deletion committed, connection closed", async () => {
  await using fake = await startFake({
    capa: CAPA,
    messages: ["a\r\n", "b\r\n"],
  });
  const client = await Pop3Client.connect(fake.options());
  await client.login("tim", "secret");
  await client.dele(2);
  const bye = await client.quit();
  assert.equal(bye.text, "bye");
  assert.equal(client.connected, false);
  assert.match(fake.peer().text, /DELE 2\r\nQUIT\r\n$/);
  assert.deepEqual(fake.committed, [2]);
  await assert.rejects(client.quit(), Pop3ServerDisconnectedError);
});

test("QUIT answered -ERR: Pop3ResponseError, closed", async () => {
  await using fake = await startFake({
    capa: CAPA,
    onCommand: (l) =>
      l === "QUIT"
        ? "-ERR [SYS/PERM] some deleted messages not removed\r\n"
        : undefined,
  });
  const client = await Pop3Client.connect(fake.options());
  const err = await client.quit().catch((e) => e);
  assert.ok(err instanceof Pop3ResponseError);
  assert.equal(err.permanent, true);
  assert.equal(client.connected, false);
});

test("server hangs up mid-session: Pop3ServerDisconnectedError", async () => {
  await using fake = await startFake({
    capa: CAPA,
    onCommand: (l) => l === "NOOP" ? null : undefined,
  });
  const client = await Pop3Client.connect(fake.options());
  await assert.rejects(client.noop(), Pop3ServerDisconnectedError);
  assert.equal(client.connected, false);
});

test("the transcript redacts PASS", async () => {
  await using fake = await startFake({ capa: CAPA });
  const log: LogEntry[] = [];
  await using client = await Pop3Client.connect(
    fake.options({ logger: (e) => log.push(e) }),
  );
  await client.user("tim");
  await client.pass("secret");
  await client.command("NOOP");
  const text = log.map((e) => `${e.direction} ${e.text}`).join("\n");
  assert.doesNotMatch(text, /secret/);
  assert.match(text, /client PASS <redacted>/);
  assert.match(text, /client USER tim/);
  assert.match(text, /server \+OK logged in/);
});

test("calls run one at a time, in order", async () => {
  await using fake = await startFake({
    capa: CAPA,
    messages: ["a\r\n", "b\r\n"],
  });
  await using client = await Pop3Client.connect(fake.options());
  await client.login("tim", "secret");
  const [one, two, stat] = await Promise.all([
    client.list(1),
    client.uidl(2),
    client.stat(),
  ]);
  assert.deepEqual(one, { id: 1, size: 3 });
  assert.deepEqual(two, { id: 2, uid: "uid-2" });
  assert.deepEqual(stat, { count: 2, size: 6 });
  await until(() => fake.peer().text.endsWith("STAT\r\n"));
});

test("implicit TLS on connect", async () => {
  await using server = await fakeServer(async (peer) => {
    await peer.write(RFC_GREETING + "\r\n");
    if ((await peer.readLine()) === "NOOP") await peer.write("+OK\r\n");
    await peer.waitClosed(3000);
  }, { implicitTls: true });
  await using client = await Pop3Client.connect({
    hostname: "127.0.0.1",
    port: server.port,
    tls: "implicit",
    caCerts: [CA],
    timeout: 5000,
  });
  assert.equal(client.secure, true);
  assert.equal((await client.noop()).ok, true);
});

test("login: USER and PASS in one write when CAPA lists PIPELINING", async () => {
  await using fake = await startFake({ capa: [...CAPA, "PIPELINING"] });
  await using client = await Pop3Client.connect(fake.options());
  await client.login("tim", "secret");
  assert.ok(fake.chunks.includes("USER tim\r\nPASS secret\r\n"));
  assert.equal(fake.peer().text, "CAPA\r\nUSER tim\r\nPASS secret\r\n");
  const err = await client.login("tim", "secret").catch((e) => e);
  assert.match(String(err), /already authenticated/);
});
