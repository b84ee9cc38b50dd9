import { test } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient } from "./client.ts";
import type { SmtpClientOptions } from "./options.ts";
import { composeMessage } from "../message/compose.ts";
import { parseMessage } from "../message/parse.ts";
import { InvalidInputError } from "../errors.ts";
import { type SmtpFake, smtpFake } from "../tests/fakes/smtp_fake.ts";

function opts(
  fake: SmtpFake,
  extra: SmtpClientOptions = {},
): SmtpClientOptions {
  return {
    hostname: "127.0.0.1",
    port: fake.port,
    tls: "none",
    timeout: 5000,
    ...extra,
  };
}

const ALL = ["PIPELINING", "CHUNKING", "8BITMIME", "SMTPUTF8", "SIZE 10000000"];

test("send(): nodemailer-shaped options compose a message with From, Date and Message-ID; Bcc only in the envelope", async () => {
  await using fake = await smtpFake({ features: ALL });
  await using client = await SmtpClient.connect(opts(fake));
  const res = await client.send({
    from: { name: "Jörg Müller", address: "jorg@x.test" },
    to: "you@x.test",
    bcc: "boss@x.test",
    subject: "Grüße",
    text: "Hello\n",
    html: "<p>Hello</p>",
  });
  assert.deepEqual(res.accepted, ["you@x.test", "boss@x.test"]);
  assert.equal(fake.messages.length, 1);
  const m = fake.messages[0];
  assert.deepEqual(m.to.map((l) => /<(.*)>/.exec(l)![1]), [
    "you@x.test",
    "boss@x.test",
  ]);
  assert.match(m.data, /^Date: /m);
  assert.match(m.data, /^Message-ID: <[^>]+@x\.test>/m);
  // The result names the Message-ID that went out.
  assert.match(res.messageId!, /^<[^>]+@x\.test>$/);
  assert.ok(m.data.includes(`Message-ID: ${res.messageId}\r\n`));
  assert.doesNotMatch(m.data, /^Bcc:/mi);
  assert.doesNotMatch(m.data, /boss@x\.test/);
  // Encoded words, not raw UTF-8: nothing needed SMTPUTF8.
  assert.doesNotMatch(m.from, /SMTPUTF8/);
  assert.match(m.data, /^Subject: =\?utf-8\?/mi);
  const parsed = await parseMessage(new TextEncoder().encode(m.data));
  assert.equal(parsed.subject, "Grüße");
  assert.equal(parsed.from?.name, "Jörg Müller");
  assert.equal(parsed.html, "<p>Hello</p>");
});

test("send(): unknown composer options are refused before a byte is sent", async () => {
  await using fake = await smtpFake({ features: ALL });
  await using client = await SmtpClient.connect(opts(fake));
  const before = fake.commands.length;
  await assert.rejects(
    client.send(
      {
        from: "a@x.test",
        to: "b@x.test",
        body: "x",
      } as unknown as Parameters<SmtpClient["send"]>[0],
    ),
    /text/,
  );
  await assert.rejects(
    client.send({ from: "a@x.test", to: "b@x.test", subject: "a\r\nBcc: x" }),
    InvalidInputError,
  );
  assert.equal(fake.commands.length, before);
});

test("sendMessage(composed): SMTPUTF8, BODY=8BITMIME and SIZE as the message needs", async () => {
  await using fake = await smtpFake({ features: ALL });
  await using client = await SmtpClient.connect(opts(fake));
  const message = composeMessage({
    from: "jörg@x.test",
    to: "you@x.test",
    subject: "ü",
    text: "8-bit ü\n",
  });
  assert.equal(message.smtputf8, true);
  await client.sendMessage(message);
  const mail = fake.messages[0].from;
  assert.match(mail, /SMTPUTF8/);
  assert.match(mail, /BODY=8BITMIME/);
  assert.match(mail, new RegExp(`SIZE=${message.size}`));
  assert.equal(
    fake.messages[0].data,
    new TextDecoder().decode(await message.bytes()),
  );
});

test("sendMessage(composed) to a server without SMTPUTF8: refused before a byte", async () => {
  await using fake = await smtpFake({ features: ["PIPELINING", "8BITMIME"] });
  await using client = await SmtpClient.connect(opts(fake));
  const before = fake.commands.length;
  const message = composeMessage({
    from: "jörg@x.test",
    to: "y@x.test",
    text: "x",
  });
  await assert.rejects(client.sendMessage(message), /smtputf8/);
  assert.equal(fake.commands.length, before);
});

test("sendMessage(composed): a large message with a stream attachment streams through DATA, byte-identical", async () => {
  await using fake = await smtpFake({ features: ["PIPELINING", "8BITMIME"] });
  await using client = await SmtpClient.connect(opts(fake));
  const chunk = new Uint8Array(64 << 10).map((_, i) => i * 7);
  let left = 40; // 2.5 MiB
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (left-- > 0) c.enqueue(chunk.slice());
      else c.close();
    },
  });
  const message = composeMessage({
    from: "a@x.test",
    to: "b@x.test",
    subject: "big",
    text: "see attachment",
    attachments: [{ filename: "big.bin", content: stream }],
  });
  assert.equal(message.replayable, false);
  await client.sendMessage(message);
  const parsed = await parseMessage(
    new TextEncoder().encode(fake.messages[0].data),
  );
  const bytes = parsed.attachments[0].content;
  assert.equal(bytes.length, 40 * chunk.length);
  assert.deepEqual(bytes.subarray(0, chunk.length), chunk);
  assert.ok(fake.commands.includes("DATA"));
});

test("send() with the client's dkim option signs the message", async () => {
  await using fake = await smtpFake({ features: ALL });
  const keys = await crypto.subtle.generateKey(
    { name: "Ed25519" },
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  await using client = await SmtpClient.connect(opts(fake, {
    dkim: {
      domain: "x.test",
      selector: "s1",
      privateKey: keys.privateKey,
      algorithm: "ed25519-sha256",
    },
  }));
  await client.send({
    from: "a@x.test",
    to: "b@x.test",
    subject: "s",
    text: "t",
  });
  assert.match(
    fake.messages[0].data,
    /^DKIM-Signature: v=1; a=ed25519-sha256;/m,
  );
  assert.match(fake.messages[0].data, /d=x\.test/);
});

test("sendMessage(): a composed message whose bytes never arrive fails at the deadline, nothing sent", async () => {
  await using fake = await smtpFake({ features: ALL });
  await using client = await SmtpClient.connect(opts(fake));
  // Size known and small: the client reads the whole message before MAIL.
  const stuck = {
    envelope: { from: "a@x.test", to: ["b@x.test"] },
    smtputf8: false,
    eightBit: false,
    size: 100,
    stream: () =>
      new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) }),
    bytes: () => new Promise<Uint8Array>(() => {}), // never settles
  };
  const start = Date.now();
  await assert.rejects(
    client.sendMessage(stuck, { timeout: 300 }),
    (err: Error) =>
      err.name === "TimeoutError" && /preparing the message/.test(err.message),
  );
  assert.ok(Date.now() - start < 3000, `${Date.now() - start} ms`);
  assert.ok(
    !fake.commands.some((c) => c.startsWith("MAIL")),
    fake.commands.join("\n"),
  );
  // Nothing went out, so the connection is still good for the next message.
  const res = await client.send({
    from: "a@x.test",
    to: "b@x.test",
    subject: "ok",
    text: "t",
  });
  assert.deepEqual(res.accepted, ["b@x.test"]);
  assert.equal(fake.messages.length, 1);
});
