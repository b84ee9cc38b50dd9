/**
 * The byte-identity round trip SMTP (Postfix) → Maildir (Dovecot) → POP3
 * RETR and retrStream, over BDAT and over DATA (dot-stuffed), and what
 * DELE, RSET, QUIT and close() do to a real maildrop. On Deno and Bun.
 *
 * erin@mail.test is reserved for this file (no other test delivers to it):
 * the mailbox is emptied first, and every test deletes what it delivered and
 * finds its messages by a unique token.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Pop3Client, Pop3ResponseError } from "../pop3/mod.ts";
import type { LogEntry } from "../io/log.ts";
import { token, waitForDelivery } from "./real/env.ts";
import {
  alice,
  assertSameBytes,
  assertTracePrefix,
  clearMailbox,
  clientLines,
  deliver,
  erin,
  message,
  mustFind,
  normalise,
  pop3,
  pop3s,
  readAll,
  remove,
  stamp,
  submit,
} from "./real/pop3.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

await clearMailbox(erin);

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
        erin,
        id,
        ".x\r\n..y\r\n...z\r\n. space\r\n.\tTab\r\nafter\r\n..\r\n",
      ),
  },
  {
    name: "a lone dot line mid-message and at the end",
    build: (id) => message(erin, id, "before\r\n.\r\nafter\r\n.\r\n"),
  },
  {
    name: "a 5000-byte line",
    build: (id) =>
      message(
        erin,
        id,
        `short\r\n${"a".repeat(4999)}.\r\n.${"b".repeat(4999)}\r\n`,
      ),
  },
  {
    name: "a 100 000-byte line",
    build: (id) =>
      message(erin, id, `${"0123456789".repeat(10_000)}\r\ntail\r\n`),
  },
  {
    name: "8-bit UTF-8 (SMTPUTF8 sender, UTF-8 subject, 8BITMIME body)",
    from: "jörg@mail.test",
    build: (id) =>
      `From: Jörg <jörg@mail.test>\r\nTo: <${erin.address}>\r\n` +
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
    build: (id) => message(erin, id, "first line\r\nlast line without CRLF"),
  },
  {
    name: "bare LF line ends",
    build: (id) => message(erin, id, "one\ntwo\n.three\n\nfive\n"),
  },
  {
    name: "a 10 MiB body",
    build: (id) => enc.encode(message(erin, id, bigBody())),
  },
];

// Postfix offers CHUNKING, so in-memory bodies go over BDAT (no dot-stuffing)
// by default: every round trip runs over DATA too, dot-stuffed for real.
const transfers = [
  { chunking: true, via: "BDAT", verb: /^BDAT \d+ LAST/ },
  { chunking: false, via: "DATA, dot-stuffed", verb: /^DATA$/ },
];

for (const rt of roundTrips) {
  for (const t of transfers) {
    test(`byte identity via SMTP (${t.via}) → Dovecot → POP3: ${rt.name}`, async () => {
      const id = token("rt");
      const data = rt.build(id);
      const sentBytes = typeof data === "string" ? enc.encode(data) : data;
      const expected = normalise(sentBytes);
      const smtpLog: LogEntry[] = [];
      try {
        await submit(erin, rt.from ?? alice.address, data, smtpLog, t.chunking);
        rt.smtp?.(smtpLog);
        const sent = clientLines(smtpLog);
        assert.ok(sent.some((l) => t.verb.test(l)), `sent over ${t.via}`);
        assert.ok(
          !sent.some((l) => (t.chunking ? /^DATA$/ : /^BDAT /).test(l)),
          `only ${t.via}`,
        );
        await waitForDelivery(erin, `Message-ID: <${id}@mail.test>`, 30_000);

        await using c = await Pop3Client.connect(
          pop3(erin, { timeout: 60_000 }),
        );
        const n = await mustFind(c, `Message-ID: <${id}@mail.test>\r\n`);
        const raw = await c.retr(n);
        assert.ok(raw.length > expected.length, "trace headers were added");
        const prefix = raw.subarray(0, raw.length - expected.length);
        assertTracePrefix(prefix, erin);
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
          `  ${rt.name} (${t.via}): sent ${sentBytes.length} B, expected ${expected.length} B, ` +
            `RETR ${raw.length} B (trace headers ${prefix.length} B), ` +
            `retrStream ${bytes.length} B in ${chunks} chunks: identical`,
        );
      } finally {
        await remove(erin, `Message-ID: <${id}@mail.test>`);
      }
    });
  }
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

test("erin is left empty", async () => {
  await using c = await Pop3Client.connect(pop3s(erin));
  assert.deepEqual(await c.stat(), { count: 0, size: 0 }, erin.address);
  await c.quit();
});
