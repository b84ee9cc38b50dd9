/**
 * Session discipline: one operation at a time, unexpected replies,
 * broken AUTH exchanges, STARTTLS refusals, transcript redaction of raw
 * AUTH commands.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient } from "./client.ts";
import {
  SmtpNotSupportedError,
  SmtpOutcomeUnknownError,
  SmtpResponseError,
} from "./errors.ts";
import {
  AbortedError,
  AuthError,
  InvalidInputError,
  ProtocolError,
} from "../errors.ts";
import {
  failure,
  fakeClientOptions,
  smtpFake,
} from "../tests/fakes/smtp_fake.ts";

const opts = fakeClientOptions;

test("session: concurrent calls run one at a time, in call order; concurrent sends join one pipeline", async () => {
  await using fake = await smtpFake({ features: ["PIPELINING", "CHUNKING"] });
  await using client = await SmtpClient.connect(opts(fake));
  const results = await Promise.all([
    client.sendMail({
      from: "a@x.test",
      to: "b@x.test",
      data: "Subject: 1\r\n\r\none\r\n",
    }),
    client.noop(),
    client.sendMail({
      from: "a@x.test",
      to: ["c@x.test", "d@x.test"],
      data: "Subject: 2\r\n\r\ntwo\r\n",
    }),
    client.rset(),
  ]);
  assert.equal(results[1].code, 250);
  assert.equal(results[3].code, 250);
  assert.equal(fake.messages.length, 2);
  assert.deepEqual(
    fake.messages.map((m) =>
      m.to.map((l) => l.replace(/^RCPT TO:<(.*)>.*$/, "$1"))
    ),
    [["b@x.test"], [
      "c@x.test",
      "d@x.test",
    ]],
  );
  const order = fake.commands.filter((c) => /^(MAIL|NOOP|RSET)/.test(c));
  // The second send joined the first one's pipeline; NOOP and RSET wait
  // their turn behind it, in call order.
  assert.deepEqual(order.map((c) => c.split(/[ :]/)[0]), [
    "MAIL",
    "MAIL",
    "NOOP",
    "RSET",
  ]);
});

test("session: a failed call does not block the calls queued behind it", async () => {
  await using fake = await smtpFake();
  await using client = await SmtpClient.connect(opts(fake));
  const [bad, good] = await Promise.allSettled([
    client.sendMail({ from: "a\r\n@x.test", to: "b@x.test", data: "x" }),
    client.noop(),
  ]);
  assert.equal(bad.status, "rejected");
  assert.equal(good.status, "fulfilled");
});

test("session: a reply nobody asked for closes the connection with ProtocolError", async () => {
  await using fake = await smtpFake({
    hook: (line) => line === "NOOP" ? "250 ok\r\n250 surprise\r\n" : undefined,
  });
  await using client = await SmtpClient.connect(opts(fake));
  assert.equal((await client.noop()).code, 250);
  await new Promise((r) => setTimeout(r, 50)); // let the extra reply arrive
  // The extra reply is only seen when the next reply is read; the next
  // command then refuses to go out behind it.
  const { err } = await failure(
    client.noop().then(() => client.noop()),
    ProtocolError,
  );
  assert.match(err.message, /unexpected reply/);
  assert.equal(client.connected, false);
});

test("session: an AUTH exchange broken by the server closes the connection", async () => {
  await using fake = await smtpFake({
    features: ["AUTH LOGIN"],
    // 235 after the username: success before the password was sent
    hook: (line, _ctx) =>
      line.startsWith("AUTH LOGIN")
        ? "334 VXNlcm5hbWU6\r\n"
        : line === "dXNlcg=="
        ? "235 ok\r\n"
        : undefined,
  });
  const client = await SmtpClient.connect(opts(fake));
  await failure(client.login("user", "pw", { mechanism: "LOGIN" }), AuthError);
  assert.equal(client.connected, false);
  assert.equal(client.authenticated, false);
});

test("session: 454 to STARTTLS keeps the server's reply as the cause", async () => {
  await using fake = await smtpFake({
    features: ["STARTTLS"],
    hook: (line) =>
      line === "STARTTLS" ? "454 4.7.0 tls not available\r\n" : undefined,
  });
  const { err } = await failure(
    SmtpClient.connect(opts(fake, { tls: "starttls" })),
    SmtpNotSupportedError,
  );
  assert.ok(err.cause instanceof SmtpResponseError);
  assert.equal(err.cause.code, 454);
  assert.equal(err.cause.enhancedCode, "4.7.0");
});

test("session: command() refuses verbs that change the session's state", async () => {
  await using fake = await smtpFake({
    features: ["AUTH PLAIN", "STARTTLS", "CHUNKING"],
  });
  await using client = await SmtpClient.connect(opts(fake));
  const before = fake.commands.length;
  for (
    const line of [
      "AUTH PLAIN AHUAcA==",
      "auth login",
      "STARTTLS",
      "DATA",
      "BDAT 3 LAST",
      "QUIT",
    ]
  ) {
    await failure(client.command(line), InvalidInputError);
  }
  assert.equal(fake.commands.length, before, "nothing sent");
  assert.equal((await client.command("NOOP")).code, 250);
});

test("session: a call aborted while queued gives up its turn without closing the connection", async () => {
  await using fake = await smtpFake({
    hook: async (line) => {
      if (line === "HELP") {
        await new Promise((r) => setTimeout(r, 600));
        return "214 slow help\r\n";
      }
    },
  });
  await using client = await SmtpClient.connect(opts(fake));
  const slow = client.help();
  const ac = new AbortController();
  const queued = client.noop({ signal: ac.signal });
  setTimeout(() => ac.abort("changed my mind"), 100);
  const { err, ms } = await failure(queued, AbortedError);
  assert.equal(err.cause, "changed my mind");
  assert.ok(ms < 400, `rejected in ${ms} ms, before the slow call ended`);
  assert.equal((await slow).code, 214);
  assert.equal(client.connected, true);
  assert.ok(!fake.commands.includes("NOOP"));
  assert.equal((await client.noop()).code, 250);
});

test("session: the client's signal closes an idle connection", async () => {
  await using fake = await smtpFake();
  const ac = new AbortController();
  const client = await SmtpClient.connect(opts(fake, { signal: ac.signal }));
  const peer = await fake.peer();
  ac.abort();
  assert.ok(await peer.waitClosed(2000), "server saw the close");
  assert.equal(client.connected, false);
});

test("session: a garbled reply after the final dot is an unknown outcome, not a plain error", async () => {
  await using fake = await smtpFake({
    hook: (line) => line === "." ? "2x0 what\r\n" : undefined,
  });
  await using client = await SmtpClient.connect(
    opts(fake, { chunking: false }),
  );
  const { err } = await failure(
    client.sendMail({ from: "a@x.test", to: "b@x.test", data: "x\r\n" }),
    SmtpOutcomeUnknownError,
  );
  assert.ok(err.cause instanceof ProtocolError);
  assert.equal(client.connected, false);
});

test("session: an AUTH line over 512 octets waits for the challenge (RFC 4954 §4)", async () => {
  await using fake = await smtpFake({
    features: ["AUTH XOAUTH2"],
    hook: (line) =>
      line === "AUTH XOAUTH2"
        ? "334 \r\n"
        : line.startsWith("AUTH XOAUTH2 ") || line.length > 400
        ? "235 ok\r\n"
        : undefined,
  });
  await using client = await SmtpClient.connect(opts(fake));
  await client.loginWithToken("user@x.test", "t".repeat(2000));
  const auth = fake.commands.filter((c) => c.startsWith("AUTH"));
  assert.deepEqual(auth, ["AUTH XOAUTH2"]);
  assert.ok(fake.commands.every((c) => c.length <= 12288));
  // a short token still goes on the AUTH line
  await using fake2 = await smtpFake({
    features: ["AUTH XOAUTH2"],
    hook: (line) => line.startsWith("AUTH XOAUTH2 ") ? "235 ok\r\n" : undefined,
  });
  await using c2 = await SmtpClient.connect(opts(fake2));
  await c2.loginWithToken("user@x.test", "short-token");
  assert.ok(
    fake2.commands.some((c) =>
      c.startsWith("AUTH XOAUTH2 ") && c.length <= 510
    ),
  );
});

test("session: credentials refused in clear name the auth step, at connect and at login()", async () => {
  await using fake = await smtpFake({ features: ["AUTH PLAIN"] });
  const { err } = await failure(
    SmtpClient.connect(opts(fake, {
      allowInsecureAuth: false,
      auth: { username: "tim", password: "secret" },
    })),
    AuthError,
  );
  assert.equal(err.phase, "auth", "the refusal is the login's, not the ehlo's");
  assert.match(err.message, /, auth\)$/);
  assert.deepEqual(fake.commands, ["EHLO localhost"]);
  await using client = await SmtpClient.connect(
    opts(fake, { allowInsecureAuth: false }),
  );
  const again = await failure(client.login("tim", "secret"), AuthError);
  assert.equal(again.err.phase, "auth");
});

test("session: an abort during QUIT is an AbortedError (cause = the reason), not a silent undefined", async () => {
  const ac = new AbortController();
  const reason = new Error("stop");
  await using fake = await smtpFake({
    // Aborted as the QUIT arrives (the fake hangs up right after it).
    hook: (l) => l === "QUIT" ? (ac.abort(reason), null) : undefined,
  });
  const client = await SmtpClient.connect(opts(fake));
  const { err, ms } = await failure(
    client.quit({ signal: ac.signal }),
    AbortedError,
  );
  assert.equal(err.cause, reason);
  assert.equal(err.phase, "quit");
  assert.ok(ms < 1000, `${ms} ms`);
  assert.equal(client.connected, false);
  // A server that is simply gone still isn't a failure of QUIT.
  assert.equal(await client.quit(), undefined);
});
