// What SmtpClient puts on the wire for a message: DATA (dot-stuffed, CRLF only, one terminator), BDAT chunks, and the transcript of both.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import fc from "fast-check";
import { SmtpRecipientsRefusedError } from "./errors.ts";
import type { LogEntry } from "../io/log.ts";
import {
  after,
  failure,
  sleep,
  withFakeClient,
} from "../tests/fakes/smtp_fake.ts";

const enc = new TextEncoder();

/** What DATA must put on the wire for `body`: CRLF everywhere, dots stuffed, one terminator. */
function dataWire(body: string): string {
  if (body === "") return ".\r\n";
  let s = body.replace(/\r\n|\r|\n/g, "\r\n");
  if (!s.endsWith("\r\n")) s += "\r\n";
  return s.slice(0, -2).split("\r\n").map((l) =>
    l.startsWith(".") ? "." + l : l
  )
    .join("\r\n") + "\r\n.\r\n";
}

/** What BDAT must put on the wire for `body`: CRLF everywhere, nothing else. */
function bdatWire(body: string): string {
  if (body === "") return "";
  const s = body.replace(/\r\n|\r|\n/g, "\r\n");
  return s.endsWith("\r\n") ? s : s + "\r\n";
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < chunks.length) c.enqueue(chunks[i++]);
      else c.close();
    },
  });
}

/** Split `bytes` at the given offsets. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [
    ...new Set(cuts.map((c) => c % (bytes.length + 1))),
  ].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.slice(prev, p));
    prev = p;
  }
  return out;
}

const MSG = "Subject: hi\r\n\r\nHello\r\n";

// ---- DATA encoding ----

const awkward = [
  "",
  "no line end",
  ".",
  "..",
  ".\r\n",
  "a\n.\nb",
  "a\r.\rb\r",
  "line\r\n.hidden\r\n..two\r\n.\r\n",
  "bare\nlf\nand\rcr\r\n\r\n\n.",
  "\r\n.\r\n",
  "x\r\n.\r\nQUIT\r\n",
  "ends with cr\r",
  "é\r\n.é\n",
];

test("client: DATA stuffs dots and normalises line ends (string, bytes, stream)", async () => {
  await withFakeClient(
    { features: ["PIPELINING", "8BITMIME"] },
    { chunking: false },
    async (client, fake) => {
      const p = await fake.peer();
      for (const body of awkward) {
        const bytes = enc.encode(body);
        const inputs: Array<
          [string, () => string | Uint8Array | ReadableStream<Uint8Array>]
        > = [
          ["string", () => body],
          ["bytes", () => bytes],
          [
            "stream, byte at a time",
            () => streamOf([...bytes].map((b) => Uint8Array.of(b))),
          ],
          ["stream, one chunk", () => streamOf([bytes])],
        ];
        for (const [kind, data] of inputs) {
          const before = p.received.length;
          await client.sendMail({
            from: "a@x.test",
            to: "b@x.test",
            data: data(),
          });
          const sent = p.received.subarray(before).toString("latin1");
          const wire = Buffer.from(dataWire(body)).toString("latin1");
          assert.equal(
            after(sent, "DATA\r\n"),
            wire,
            `${kind}: ${JSON.stringify(body)}`,
          );
        }
      }
    },
  );
});

test("client: DATA property: any body split anywhere gives the same exact wire bytes", async () => {
  await withFakeClient({}, { chunking: false }, async (client, fake) => {
    const p = await fake.peer();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom("a", ".", "\r", "\n", "\r\n", "é", "X"), {
          maxLength: 30,
        }).map((a) => a.join("")),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (body, cuts) => {
          const bytes = enc.encode(body);
          const before = p.received.length;
          await client.sendMail({
            from: "a@x.test",
            to: "b@x.test",
            data: streamOf(split(bytes, cuts)),
          });
          const sent = p.received.subarray(before).toString("latin1");
          assert.equal(
            after(sent, "DATA\r\n"),
            Buffer.from(dataWire(body)).toString("latin1"),
          );
        },
      ),
      { numRuns: 60 },
    );
  });
});

test("client: DATA body with a large stream is sent whole", async () => {
  await withFakeClient({}, {}, async (client, fake) => {
    const line = "x".repeat(998) + "\r\n";
    const chunks = Array.from({ length: 300 }, () => enc.encode(line));
    await client.sendMail({
      from: "a@x.test",
      to: "b@x.test",
      data: streamOf(chunks),
    });
    assert.equal(fake.messages[0].data, line.repeat(300));
  });
});

// ---- CHUNKING ----

test("client: CHUNKING+PIPELINING: MAIL, RCPTs, BDAT LAST and the body in one write", async () => {
  await withFakeClient(
    { features: ["PIPELINING", "CHUNKING", "8BITMIME"] },
    {},
    async (client, fake) => {
      const body = "Subject: x\n\n.dot\r\nbare\rcr\n..";
      const res = await client.sendMail({
        from: "a@x.test",
        to: ["b@x.test", "c@x.test"],
        data: body,
      });
      assert.equal(res.reply.code, 250);
      const wire = bdatWire(body);
      const p = await fake.peer();
      const batch = p.chunks.map(String).find((c) => c.includes("MAIL FROM"));
      assert.equal(
        batch,
        "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\n" +
          `BDAT ${Buffer.byteLength(wire)} LAST\r\n${wire}`,
      );
      assert.equal(wire, "Subject: x\r\n\r\n.dot\r\nbare\r\ncr\r\n..\r\n");
      assert.ok(!fake.commands.includes("DATA"));
    },
  );
});

test("client: CHUNKING body bytes exact for every awkward body (no stuffing, CRLF only)", async () => {
  await withFakeClient(
    { features: ["PIPELINING", "CHUNKING", "8BITMIME"] },
    {},
    async (client, fake) => {
      const p = await fake.peer();
      for (const body of awkward.filter((b) => b !== "")) {
        for (const data of [body, enc.encode(body)]) {
          const before = p.received.length;
          await client.sendMail({ from: "a@x.test", to: "b@x.test", data });
          const sent = p.received.subarray(before).toString("latin1");
          const wire = Buffer.from(bdatWire(body)).toString("latin1");
          assert.equal(
            after(sent, ` LAST\r\n`),
            wire,
            JSON.stringify(body),
          );
          assert.ok(sent.includes(`BDAT ${wire.length} LAST\r\n`));
        }
      }
    },
  );
});

test("client: CHUNKING: a large message (> 1 MiB) waits for the envelope replies first", async () => {
  let bdatEarly: boolean | undefined;
  await withFakeClient(
    {
      features: ["PIPELINING", "CHUNKING"],
      hook: async (line, ctx) => {
        if (line === "RCPT TO:<c@x.test>") {
          await sleep(100);
          bdatEarly = ctx.peer.text.includes("BDAT");
        }
        return undefined;
      },
    },
    {},
    async (client, fake) => {
      const big = ("y".repeat(1000) + "\r\n").repeat(1200); // ~1.2 MB
      const res = await client.sendMail({
        from: "a@x.test",
        to: ["b@x.test", "c@x.test"],
        data: big,
      });
      assert.equal(res.reply.code, 250);
      assert.equal(bdatEarly, false);
      assert.ok(fake.commands.includes(`BDAT ${big.length} LAST`));
      assert.equal(fake.messages[0].data, big);
    },
  );
});

test("client: CHUNKING: large message with every recipient refused sends no BDAT", async () => {
  await withFakeClient(
    {
      features: ["PIPELINING", "CHUNKING"],
      hook: (line) => line.startsWith("RCPT") ? "550 nope\r\n" : undefined,
    },
    {},
    async (client, fake) => {
      const big = ("z".repeat(1000) + "\r\n").repeat(1100);
      await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: big }),
        SmtpRecipientsRefusedError,
      );
      assert.ok(!fake.commands.some((c) => c.startsWith("BDAT")));
      assert.equal(fake.commands.at(-1), "RSET");
      const p = await fake.peer();
      assert.ok(!p.text.includes("zzzz"));
    },
  );
});

test("client: CHUNKING small message, every recipient refused: chunk reply read, RSET, usable", async () => {
  await withFakeClient(
    {
      features: ["PIPELINING", "CHUNKING"],
      hook: (line) =>
        line.startsWith("RCPT")
          ? "550 nope\r\n"
          : line.startsWith("BDAT")
          ? "554 5.5.1 no valid recipients\r\n"
          : undefined,
    },
    {},
    async (client, fake) => {
      await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG }),
        SmtpRecipientsRefusedError,
      );
      assert.equal(fake.commands.at(-1), "RSET");
      assert.equal((await client.noop()).code, 250);
    },
  );
});

test("client: a stream body goes in BDAT chunks with CHUNKING, envelope first", async () => {
  await withFakeClient(
    { features: ["PIPELINING", "CHUNKING"] },
    {},
    async (client, fake) => {
      await client.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: streamOf([enc.encode(MSG)]),
      });
      assert.ok(!fake.commands.includes("DATA"));
      assert.ok(fake.commands.includes(`BDAT ${MSG.length} LAST`));
      assert.equal(fake.messages[0].data, MSG);
    },
  );
});

test("client: streamed BDAT chunks rewritten on the way (LF lines, gathered or not): sizes, bytes and transcript exact", async () => {
  const line = (i: number) => (i % 8 === 7 ? ".dot " : "line ") + i + "\n";
  const text = (from: number, to: number) => {
    let t = "";
    for (let i = from; i < to; i++) t += line(i);
    return t;
  };
  const crlf = (from: number, to: number) =>
    text(from, to).replaceAll("\n", "\r\n");
  // Rewritten chunks (LF) are gathered where they are encoded, up to a
  // limit; a big clean one goes as it is, a small clean one is gathered.
  const parts = [
    text(0, 30000),
    text(30000, 30010),
    crlf(30010, 34000),
    crlf(34000, 34010),
    text(34010, 44000),
  ];
  const log: LogEntry[] = [];
  await withFakeClient(
    { features: ["PIPELINING", "CHUNKING"] },
    { logger: (e) => log.push(e) },
    async (client, fake) => {
      await client.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: streamOf(parts.map((p) => enc.encode(p))),
      });
      const want = parts.join("").replaceAll(/\r?\n/g, "\r\n");
      // (The fake records each chunk apart.)
      assert.equal(fake.messages.map((m) => m.data).join(""), want);
      const bdats = fake.commands.filter((c) => c.startsWith("BDAT"));
      const sizes = bdats.map((c) => Number(c.split(" ")[1]));
      assert.ok(bdats.length >= 3);
      assert.equal(sizes.reduce((a, b) => a + b, 0), want.length);
      assert.ok(bdats.at(-1)!.endsWith(" LAST"));
      const sent = log.filter((e) =>
        e.direction === "client" && e.text.startsWith("BDAT")
      ).map((e) => e.text);
      assert.deepEqual(
        sent,
        bdats.map((c) => `${c} <${c.split(" ")[1]} bytes of message data>`),
      );
    },
  );
});

test("client: a stream body uses DATA with chunking: false", async () => {
  await withFakeClient(
    { features: ["PIPELINING", "CHUNKING"] },
    { chunking: false },
    async (client, fake) => {
      await client.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: streamOf([enc.encode(MSG)]),
      });
      assert.ok(fake.commands.includes("DATA"));
      assert.equal(fake.messages[0].data, MSG);
    },
  );
});

// ---- transcript ----

test("client: transcript never shows credentials or AUTH payloads (PLAIN, LOGIN, CRAM-MD5)", async () => {
  const username = "tim@x.test";
  const password = "Pa55-word-XYZ";
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  for (const mechanism of ["PLAIN", "LOGIN", "CRAM-MD5"]) {
    const log: LogEntry[] = [];
    await withFakeClient(
      { features: ["AUTH PLAIN LOGIN CRAM-MD5"] },
      { logger: (e) => log.push(e) },
      async (client, fake) => {
        await client.login(username, password, { mechanism });
        await client.sendMail({
          from: "a@x.test",
          to: "b@x.test",
          data: "Subject: x\r\n\r\nSECRET-BODY-TEXT\r\n",
        });
        await client.sendMail({
          from: "a@x.test",
          to: "b@x.test",
          data: streamOf([enc.encode("Subject: y\r\n\r\nSTREAMED-SECRET\r\n")]),
        });
        await client.quit();
        const payloads = fake.commands.filter((c, i) =>
          i > 0 && !/^(EHLO|MAIL|RCPT|DATA|QUIT)/.test(c)
        );
        assert.ok(payloads.length >= 1);
        const texts = log.map((e) => e.text);
        const forbidden = [
          password,
          b64(username),
          b64(password),
          b64(`\0${username}\0${password}`),
          ...payloads.filter((p) => !p.startsWith("AUTH ")),
          ...payloads.filter((p) => p.startsWith("AUTH ") && p.split(" ")[2])
            .map((p) => p.split(" ")[2]),
          "SECRET-BODY-TEXT",
          "STREAMED-SECRET",
        ];
        for (const t of texts) {
          for (const f of forbidden) {
            assert.ok(
              !t.includes(f),
              `${mechanism}: log entry ${JSON.stringify(t)}`,
            );
          }
        }
        if (mechanism === "PLAIN") {
          assert.ok(texts.includes("AUTH PLAIN <redacted>"), texts.join("\n"));
        } else {
          assert.ok(texts.includes(`AUTH ${mechanism}`));
          assert.ok(texts.includes("<redacted>"));
        }
        assert.ok(texts.includes("MAIL FROM:<a@x.test>"));
        assert.ok(texts.some((t) => /^<\d+ bytes of message data>$/.test(t)));
        assert.ok(
          log.some((e) => e.direction === "server" && e.text.startsWith("235")),
        );
        for (const e of log) assert.ok(e.time instanceof Date);
      },
    );
  }
});

test("client: transcript with CHUNKING shows BDAT sizes, never the body", async () => {
  const log: LogEntry[] = [];
  await withFakeClient(
    { features: ["PIPELINING", "CHUNKING"] },
    { logger: (e) => log.push(e) },
    async (client) => {
      const small = "Subject: x\r\n\r\nSMALL-SECRET\r\n";
      await client.sendMail({ from: "a@x.test", to: "b@x.test", data: small });
      const big = ("BIG-SECRET-LINE" + "z".repeat(985) + "\r\n").repeat(1100);
      await client.sendMail({ from: "a@x.test", to: "b@x.test", data: big });
      const texts = log.map((e) => e.text);
      assert.ok(!texts.some((t) => t.includes("SECRET")), texts.join("\n"));
      assert.ok(
        texts.includes(
          `BDAT ${small.length} LAST <${small.length} bytes of message data>`,
        ),
      );
      assert.ok(
        texts.includes(
          `BDAT ${big.length} LAST <${big.length} bytes of message data>`,
        ),
      );
      assert.ok(
        log.some((e) => e.direction === "server" && e.text.startsWith("250")),
      );
    },
  );
});
