// The OAuth token provider on both clients against fakes: a failed token login decoded, the provider asked once more, one retry.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { test } from "node:test";
import { parseOAuthError } from "./oauth.ts";
import { SmtpAuthenticationError, SmtpClient } from "../smtp/mod.ts";
import { Pop3AuthenticationError, Pop3Client } from "../pop3/mod.ts";
import { smtpFake } from "../tests/fakes/smtp_fake.ts";
import { startFake } from "../tests/fakes/pop3_fake.ts";

const ERROR_JSON =
  '{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}';
const b64 = (s: string) => Buffer.from(s).toString("base64");
const token = (line: string) => {
  const text = Buffer.from(line.split(" ").at(-1)!, "base64").toString();
  const at = text.indexOf("auth=Bearer ");
  return at < 0 ? undefined : text.slice(at + 12, text.indexOf("\x01", at));
};

test("oauth: parseOAuthError decodes RFC 7628 JSON, keeps anything else raw", () => {
  const e = parseOAuthError(ERROR_JSON);
  assert.equal(e.status, "401");
  assert.equal(e.scope, "https://mail.google.com/");
  assert.equal(e.schemes, "bearer");
  assert.deepEqual(parseOAuthError("not json"), { raw: "not json" });
  assert.deepEqual(parseOAuthError("[1]"), { raw: "[1]" });
  assert.equal(parseOAuthError("x".repeat(10_000)).raw.length, 4096);
});

/** An SMTP fake taking only token `good`; an old one gets the JSON error, then 535. */
async function smtpTokenFake() {
  return await smtpFake({
    features: ["AUTH XOAUTH2"],
    hook: (line) => {
      if (line.startsWith("AUTH XOAUTH2")) {
        return token(line) === "good"
          ? "235 2.7.0 accepted\r\n"
          : `334 ${b64(ERROR_JSON)}\r\n`;
      }
      if (line === "") return "535 5.7.8 invalid credentials\r\n";
      return undefined;
    },
  });
}

test("oauth (smtp): an expired token: the provider is asked again and the login retried once", async () => {
  await using fake = await smtpTokenFake();
  const tokens = ["expired", "good"];
  let asked = 0;
  await using client = await SmtpClient.connect({
    hostname: "127.0.0.1",
    port: fake.port,
    tls: "none",
    allowInsecureAuth: true,
    auth: {
      username: "me@x.test",
      accessToken: () => Promise.resolve(tokens[asked++]),
    },
  });
  assert.equal(asked, 2);
  assert.ok(client.authenticated);
  assert.equal(fake.commands.filter((c) => c.startsWith("AUTH")).length, 2);
});

test("oauth (smtp): still refused after the retry: the server's JSON error on the error, no third try", async () => {
  await using fake = await smtpTokenFake();
  let asked = 0;
  await using client = await SmtpClient.connect({
    hostname: "127.0.0.1",
    port: fake.port,
    tls: "none",
    allowInsecureAuth: true,
  });
  const err = await client.loginWithToken("me@x.test", () => {
    asked++;
    return Promise.resolve("stale");
  }).then(() => undefined, (e) => e);
  assert.ok(err instanceof SmtpAuthenticationError, String(err));
  assert.equal(err.oauth?.status, "401");
  assert.equal(err.oauth?.scope, "https://mail.google.com/");
  assert.equal(asked, 2);
  assert.equal(fake.commands.filter((c) => c.startsWith("AUTH")).length, 2);
});

test("oauth (smtp): a fixed token is tried once; a provider resolving to a bad token is refused before a byte", async () => {
  await using fake = await smtpTokenFake();
  await using client = await SmtpClient.connect({
    hostname: "127.0.0.1",
    port: fake.port,
    tls: "none",
    allowInsecureAuth: true,
  });
  const err = await client.loginWithToken("me@x.test", "stale").catch((e) => e);
  assert.ok(err instanceof SmtpAuthenticationError);
  assert.equal(err.oauth?.status, "401");
  assert.equal(fake.commands.filter((c) => c.startsWith("AUTH")).length, 1);
  await assert.rejects(
    client.loginWithToken("me@x.test", () => Promise.resolve("a\r\nQUIT")),
    /cr, lf or nul/i,
  );
  assert.equal(fake.commands.filter((c) => c.startsWith("AUTH")).length, 1);
});

test("oauth (pop3): an expired token: the provider is asked again and the login retried once", async () => {
  const fake = await startFake({
    capa: ["SASL XOAUTH2", "USER"],
    onCommand: (line) => {
      if (line.startsWith("AUTH XOAUTH2")) {
        return token(line) === "good"
          ? "+OK logged in\r\n"
          : `+ ${b64(ERROR_JSON)}\r\n`;
      }
      if (line === "") return "-ERR [AUTH] invalid token\r\n";
      return undefined;
    },
  });
  try {
    const tokens = ["expired", "good"];
    let asked = 0;
    const client = new Pop3Client(fake.options());
    await client.connect();
    await client.loginWithToken(
      "me@x.test",
      () => Promise.resolve(tokens[asked++]),
    );
    assert.equal(asked, 2);
    assert.ok(client.authenticated);
    await client.close();
    const client2 = new Pop3Client(fake.options());
    await client2.connect();
    const err = await client2.loginWithToken(
      "me@x.test",
      () => Promise.resolve("stale"),
    ).catch((e) => e);
    assert.ok(err instanceof Pop3AuthenticationError, String(err));
    assert.equal(err.oauth?.status, "401");
    await client2.close();
  } finally {
    await fake.close();
  }
});
