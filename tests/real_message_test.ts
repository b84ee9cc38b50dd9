/**
 * Composed messages through the real servers and back: compose → submit to
 * Postfix (587, STARTTLS + AUTH, the SmtpClient) → Dovecot → fetch over
 * POP3 (STLS, the Pop3Client) → parseMessage, for every part type, the
 * encoded-word and SMTPUTF8 variants and a DKIM-signed message (verified by
 * dkimpy after the trip). Runs on Deno and Bun.
 *
 * Delivers to carol@mail.test and deletes over POP3 only the messages it
 * sent (found by their Message-ID): other tests read carol's Maildir by
 * their own tokens.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SmtpClient } from "../smtp/mod.ts";
import { Pop3Client } from "../pop3/mod.ts";
import {
  type ComposedMessage,
  composeMessage,
  dkimDnsRecord,
  dkimSign,
  parseMessage,
} from "../message/mod.ts";
import {
  realCa,
  realEnv,
  type RealUser,
  token,
  waitForDelivery,
} from "./real/env.ts";
import { repoFile } from "./repo.ts";

const env = realEnv();
const ca = realCa(env);
const user = (a: string): RealUser => {
  const u = env.users.find((x) => x.address === a);
  if (!u) throw new Error(`env.json has no user ${a}`);
  return u;
};
const alice = user("alice@mail.test");
const carol = user("carol@mail.test");
const dec = new TextDecoder();

async function send(m: ComposedMessage): Promise<void> {
  await using c = await SmtpClient.connect({
    hostname: env.host,
    port: env.smtp.submission,
    tls: "starttls",
    caCerts: [ca],
    servername: env.servername,
    timeout: 30_000,
    auth: { username: alice.login, password: alice.password },
  });
  const r = await c.sendMail({
    from: m.envelope.from,
    to: m.envelope.to,
    data: m.stream(),
    mailOptions: {
      smtputf8: m.smtputf8,
      body: m.eightBit ? "8BITMIME" : undefined,
      size: m.size,
    },
  });
  assert.deepEqual(r.accepted, m.envelope.to);
}

/** Fetch (and delete) carol's messages with these Message-IDs over POP3. */
async function fetchAll(ids: string[]): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  await using pop = await Pop3Client.connect({
    hostname: env.host,
    port: env.pop3.plain,
    tls: "starttls",
    caCerts: [ca],
    servername: env.servername,
    timeout: 30_000,
    auth: { username: carol.login, password: carol.password },
  });
  const listing = await pop.listing();
  for (const { id } of listing) {
    const head = dec.decode(await pop.top(id, 0));
    const want = ids.find((mid) => head.includes(`Message-ID: ${mid}`));
    if (!want) continue;
    out.set(want, await pop.retr(id));
    await pop.dele(id);
  }
  await pop.quit();
  return out;
}

test("round trip through Postfix and Dovecot: every part type, encoded words, SMTPUTF8, DKIM", async () => {
  const png = new Uint8Array(3000).map((_, i) => (i * 31) & 0xff);
  const pdf = new Uint8Array(300_000).map((_, i) => (i * 7 + (i >> 8)) & 0xff);
  const streamed = new Uint8Array(200_000).map((_, i) => (i * 13) & 0xff);
  const { privateKey, publicKey } = await crypto.subtle.generateKey(
    { name: "Ed25519" },
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  const t = token("msg");
  const cases = {
    text: composeMessage({
      from: alice.address,
      to: carol.address,
      subject: `${t} plain`,
      text: "Just text.\n.leading dot line\n",
      messageId: `${t}.text@mail.test`,
    }),
    alternative: composeMessage({
      from: { name: "Jörg Müller-Lüdenscheidt", address: alice.address },
      to: { name: 'Carol "C" Doe, Esq.', address: carol.address },
      subject:
        `${t} Grüße aus Köln — encoded words and a subject long enough to be folded`,
      text: "Grüße, Carol!\n",
      html: "<p>Grüße, <b>Carol</b>!</p>",
      messageId: `${t}.alt@mail.test`,
    }),
    mixed: composeMessage({
      from: alice.address,
      to: carol.address,
      cc: "Carol Again <carol@mail.test>",
      bcc: carol.address,
      subject: `${t} related and mixed`,
      text: "see the attachments",
      html: '<p>logo: <img src="cid:logo@mail.test"></p>',
      attachments: [
        { filename: "logo.png", content: png, cid: "logo@mail.test" },
        {
          filename: "Bericht März 2025 — sehr langer Dateiname äöü.pdf",
          content: new Blob([pdf]),
        },
        { filename: "notes.txt", content: "plain\nnotes\n" },
        { filename: "streamed.bin", content: new Blob([streamed]).stream() },
      ],
      messageId: `${t}.mixed@mail.test`,
    }),
    smtputf8: composeMessage({
      from: { name: "Jörg", address: "jörg@mail.test" },
      to: carol.address,
      subject: `${t} SMTPUTF8 grüße 日本語`,
      text: "Äpfel, Öl, Übermut — 日本語 ✓\n",
      attachments: [{ filename: "dätei.txt", content: "ü" }],
      messageId: `${t}.utf8@mail.test`,
    }),
    dkim: await dkimSign(
      composeMessage({
        from: alice.address,
        to: carol.address,
        subject: `${t} signed`,
        text: "signed body\n",
        attachments: [{ filename: "a.bin", content: png }],
        messageId: `${t}.dkim@mail.test`,
      }),
      {
        domain: "mail.test",
        selector: "sel",
        privateKey,
        algorithm: "ed25519-sha256",
      },
    ),
  };
  assert.equal(cases.smtputf8.smtputf8, true);
  assert.equal(cases.mixed.size, undefined); // a stream attachment
  for (const m of Object.values(cases)) await send(m);
  // Wait (bounded) until every message is stored, then fetch them in one session.
  for (const m of Object.values(cases)) {
    await waitForDelivery(carol, m.messageId, 30_000);
  }
  const got = await fetchAll(Object.values(cases).map((m) => m.messageId));
  assert.equal(got.size, Object.keys(cases).length);
  const parse = async (m: ComposedMessage) =>
    await parseMessage(got.get(m.messageId)!);

  const text = await parse(cases.text);
  assert.equal(text.subject, `${t} plain`);
  assert.equal(text.text, "Just text.\r\n.leading dot line\r\n");
  assert.deepEqual(text.from, { name: "", address: alice.address });

  const alt = await parse(cases.alternative);
  assert.equal(
    alt.subject,
    `${t} Grüße aus Köln — encoded words and a subject long enough to be folded`,
  );
  assert.deepEqual(alt.from, {
    name: "Jörg Müller-Lüdenscheidt",
    address: alice.address,
  });
  assert.deepEqual(alt.to, [{
    name: 'Carol "C" Doe, Esq.',
    address: carol.address,
  }]);
  assert.equal(alt.root.contentType, "multipart/alternative");
  assert.equal(alt.text, "Grüße, Carol!\r\n");
  assert.equal(alt.html, "<p>Grüße, <b>Carol</b>!</p>");

  const mixed = await parse(cases.mixed);
  assert.equal(mixed.root.contentType, "multipart/mixed");
  assert.equal(mixed.text, "see the attachments");
  assert.equal(mixed.html, '<p>logo: <img src="cid:logo@mail.test"></p>');
  assert.equal(mixed.header("bcc"), undefined);
  assert.deepEqual(mixed.attachments.map((a) => a.filename), [
    "logo.png",
    "Bericht März 2025 — sehr langer Dateiname äöü.pdf",
    "notes.txt",
    "streamed.bin",
  ]);
  assert.equal(mixed.attachments[0].contentId, "logo@mail.test");
  assert.equal(mixed.attachments[0].contentType, "image/png");
  assert.deepEqual(mixed.attachments[0].content, png);
  assert.deepEqual(mixed.attachments[1].content, pdf);
  assert.equal(dec.decode(mixed.attachments[2].content), "plain\nnotes\n");
  assert.deepEqual(mixed.attachments[3].content, streamed);

  const utf8 = await parse(cases.smtputf8);
  assert.equal(utf8.subject, `${t} SMTPUTF8 grüße 日本語`);
  assert.deepEqual(utf8.from, { name: "Jörg", address: "jörg@mail.test" });
  assert.equal(utf8.text, "Äpfel, Öl, Übermut — 日本語 ✓\r\n");
  assert.equal(utf8.attachments[0].filename, "dätei.txt");
  assert.equal(dec.decode(utf8.attachments[0].content), "ü");

  const signed = got.get(cases.dkim.messageId)!;
  const verdict = spawnSync("/usr/bin/python3", [
    fileURLToPath(repoFile("tests/fixtures/messages/dkim_verify.py")),
    "sel._domainkey.mail.test",
    await dkimDnsRecord(publicKey),
  ], { input: signed });
  assert.equal(
    verdict.stdout.toString().trim(),
    "pass",
    `dkimpy after the trip: ${verdict.stdout}${verdict.stderr}`,
  );
  const parsedSigned = await parseMessage(signed);
  assert.deepEqual(parsedSigned.attachments[0].content, png);
});
