/**
 * Session discipline: one operation at a time, unexpected replies,
 * broken AUTH exchanges, STARTTLS refusals, transcript redaction of raw
 * AUTH commands.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient, type SmtpClientOptions } from "./client.ts";
import { SmtpNotSupportedError, SmtpResponseError } from "./errors.ts";
import { AuthError } from "../auth/errors.ts";
import type { LogEntry } from "../io/log.ts";
import { ProtocolError } from "../tls/errors.ts";
import { failure, type SmtpFake, smtpFake } from "../tests/fakes/smtp_fake.ts";

function opts(
  fake: SmtpFake,
  extra: SmtpClientOptions = {},
): SmtpClientOptions {
  return {
    hostname: "127.0.0.1",
    port: fake.port,
    tls: "none",
    allowInsecureAuth: true,
    timeout: 3000,
    ...extra,
  };
}

test("session: concurrent calls on one client run one at a time, in call order", async () => {
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
  assert.deepEqual(order.map((c) => c.split(/[ :]/)[0]), [
    "MAIL",
    "NOOP",
    "MAIL",
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

test("session: a raw AUTH command is redacted in the transcript", async () => {
  await using fake = await smtpFake({
    features: ["AUTH PLAIN"],
    hook: (line) => line.startsWith("AUTH PLAIN ") ? "235 ok\r\n" : undefined,
  });
  const log: LogEntry[] = [];
  await using client = await SmtpClient.connect(
    opts(fake, { logger: (e) => log.push(e) }),
  );
  const blob = btoa("\0user\0secret-pw");
  assert.equal((await client.command(`AUTH PLAIN ${blob}`)).code, 235);
  const text = log.map((e) => e.text).join("\n");
  assert.ok(!text.includes(blob));
  assert.ok(text.includes("AUTH PLAIN <redacted>"));
});
