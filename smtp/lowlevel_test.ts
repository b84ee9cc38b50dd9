/**
 * The low-level SMTP calls follow the same rules as sendMail: SMTPUTF8
 * for non-ASCII addresses, QUIT's reply kept, what the client learned
 * forgotten when the connection ends.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient } from "./client.ts";
import { SmtpNotSupportedError } from "./errors.ts";
import { type SmtpFake, smtpFake } from "../tests/fakes/smtp_fake.ts";

function connect(fake: SmtpFake): Promise<SmtpClient> {
  return SmtpClient.connect({
    hostname: "127.0.0.1",
    port: fake.port,
    tls: "none",
    timeout: 5000,
  });
}

test("mail(): a non-ASCII sender gets SMTPUTF8 when offered", async () => {
  await using fake = await smtpFake({ features: ["SMTPUTF8"] });
  await using client = await connect(fake);
  await client.mail("jörg@x.test");
  assert.equal(fake.commands.at(-1), "MAIL FROM:<jörg@x.test> SMTPUTF8");
  // ...and then a non-ASCII recipient may follow.
  await client.rcpt("müller@x.test");
  assert.equal(fake.commands.at(-1), "RCPT TO:<müller@x.test>");
});

test("mail()/rcpt(): non-ASCII without SMTPUTF8 is refused before a byte is sent", async () => {
  await using fake = await smtpFake({ features: ["PIPELINING"] });
  await using client = await connect(fake);
  const before = fake.commands.length;
  await assert.rejects(client.mail("jörg@x.test"), SmtpNotSupportedError);
  await client.mail("a@x.test");
  const after = fake.commands.length;
  await assert.rejects(
    client.rcpt("müller@x.test"),
    /server does not offer smtputf8, needed for a non-ascii address/,
  );
  assert.equal(before + 1, after);
  assert.equal(fake.commands.length, after);
});

test("rcpt(): a non-ASCII recipient after a MAIL without SMTPUTF8 is refused, with the fix named", async () => {
  await using fake = await smtpFake({ features: ["SMTPUTF8"] });
  await using client = await connect(fake);
  await client.mail("a@x.test");
  const sent = fake.commands.length;
  await assert.rejects(
    client.rcpt("müller@x.test"),
    /pass \{ smtputf8: true \} to mail\(\)/,
  );
  assert.equal(fake.commands.length, sent);
  await client.rset();
  await client.mail("a@x.test", { smtputf8: true });
  await client.rcpt("müller@x.test");
  assert.equal(fake.commands.at(-1), "RCPT TO:<müller@x.test>");
});

test("quit(): a 421 answer is returned, not lost", async () => {
  await using fake = await smtpFake({
    hook: (line) => line === "QUIT" ? "421 4.3.2 shutting down\r\n" : undefined,
  });
  const client = await connect(fake);
  const reply = await client.quit();
  assert.equal(reply?.code, 421);
  assert.equal(reply?.text, "4.3.2 shutting down");
  assert.equal(client.connected, false);
});

test("after quit() the client forgets the server's features, EHLO reply and login", async () => {
  await using fake = await smtpFake({ features: ["PIPELINING", "SIZE 1000"] });
  const client = await connect(fake);
  assert.equal(client.hasExtension("SIZE"), true);
  await client.quit();
  assert.equal(client.features.size, 0);
  assert.equal(client.hasExtension("PIPELINING"), false);
  assert.equal(client.heloReply, undefined);
  assert.equal(client.authenticated, false);
  assert.equal(client.esmtp, false);
});
