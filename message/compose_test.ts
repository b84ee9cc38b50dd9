import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import PostalMime from "postal-mime";
import { InvalidInputError } from "../errors.ts";
import { composeMessage, type ComposeOptions } from "./compose.ts";
import { parseMessage } from "./parse.ts";
import { repoFile } from "../tests/repo.ts";

const dec = new TextDecoder();

async function text(o: ComposeOptions): Promise<string> {
  return dec.decode(await composeMessage(o).bytes());
}

function headBlock(s: string): string {
  return s.slice(0, s.indexOf("\r\n\r\n") + 2);
}

/** Every line ends in CRLF, none over 998 octets; header lines within 78 when they have a fold point. */
function assertWellFormed(bytes: Uint8Array) {
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 13) assert.equal(bytes[i + 1], 10, `bare cr at ${i}`);
    if (bytes[i] === 10) {
      assert.equal(bytes[i - 1], 13, `bare lf at ${i}`);
      assert.ok(i - 1 - start <= 998, `line of ${i - 1 - start} octets`);
      start = i + 1;
    }
  }
  assert.ok(bytes.length - start <= 998);
}

test("text only: one text/plain part, Date, Message-ID, MIME-Version; 7bit for ASCII", async () => {
  const s = await text({
    from: "ann@x.test",
    to: "bob@y.test",
    subject: "hi",
    text: "Hello\n",
  });
  assert.match(s, /^Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n/);
  assert.match(s, /\r\nMessage-ID: <[0-9a-f]{32}@x\.test>\r\n/);
  assert.match(s, /\r\nMIME-Version: 1\.0\r\n/);
  assert.match(
    s,
    /\r\nContent-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nHello\r\n$/,
  );
});

test("structure: text+html → alternative; cid parts → related with the html; attachments → mixed", async () => {
  const s = await text({
    from: "ann@x.test",
    to: "bob@y.test",
    text: "t",
    html: '<img src="cid:logo@x">',
    attachments: [
      { filename: "logo.png", content: new Uint8Array([1]), cid: "logo@x" },
      { filename: "a.pdf", content: new Uint8Array([2]) },
    ],
  });
  const types = [...s.matchAll(/Content-Type: ([a-z]+\/[a-z]+)/g)].map((m) =>
    m[1]
  );
  assert.deepEqual(types, [
    "multipart/mixed",
    "multipart/alternative",
    "text/plain",
    "multipart/related",
    "text/html",
    "image/png",
    "application/pdf",
  ]);
  assert.match(
    s,
    /Content-Disposition: inline; filename=logo\.png\r\nContent-ID: <logo@x>/,
  );
  const m = await parseMessage(new TextEncoder().encode(s));
  assert.equal(m.text, "t");
  assert.equal(m.html, '<img src="cid:logo@x">');
  assert.deepEqual(
    m.attachments.map((a) => [a.filename, a.contentId, [...a.content]]),
    [
      ["logo.png", "logo@x", [1]],
      ["a.pdf", undefined, [2]],
    ],
  );
  // Without html, a cid part is an inline attachment of the mixed part.
  const t = await text({
    from: "a@x.test",
    text: "t",
    attachments: [{ content: "x", cid: "c@x" }],
  });
  assert.ok(!t.includes("multipart/related") && t.includes("multipart/mixed"));
});

test("envelope: From, then To + Cc + Bcc without duplicates; Bcc never in the headers", async () => {
  const m = composeMessage({
    from: "Ann <ann@x.test>",
    to: ["bob@y.test", "Carol <carol@y.test>"],
    cc: "bob@y.test, dan@y.test",
    bcc: [{ name: "Eve", address: "eve@z.test" }],
    text: "x",
  });
  assert.deepEqual(m.envelope, {
    from: "ann@x.test",
    to: ["bob@y.test", "carol@y.test", "dan@y.test", "eve@z.test"],
  });
  const s = dec.decode(await m.bytes());
  assert.ok(!/bcc/i.test(s) && !s.includes("eve@z.test"));
  assert.match(s, /\r\nTo: bob@y\.test, Carol <carol@y\.test>\r\n/);
  assert.match(s, /\r\nCc: bob@y\.test, dan@y\.test\r\n/);
});

test("header injection: CR, LF or NUL in any value is an InvalidInputError before anything is built", () => {
  const base: ComposeOptions = { from: "a@x.test", to: "b@x.test", text: "t" };
  const bad = ["x\r\nBcc: evil@x.test", "x\ny", "x\rY", "x\0y"];
  for (const v of bad) {
    const cases: ComposeOptions[] = [
      { ...base, subject: v },
      { ...base, from: { name: v, address: "a@x.test" } },
      { ...base, from: `a${v}@x.test` },
      { ...base, to: [`b@x.test${v}`] },
      { ...base, cc: { name: v, address: "c@x.test" } },
      { ...base, bcc: v },
      { ...base, replyTo: v },
      { ...base, headers: { "X-Test": v } },
      { ...base, headers: [[`X-${v}`, "ok"]] },
      { ...base, messageId: `<id${v}@x>` },
      { ...base, inReplyTo: v },
      { ...base, references: ["<ok@x>", v] },
      { ...base, attachments: [{ content: "x", filename: v }] },
      { ...base, attachments: [{ content: "x", cid: v }] },
      {
        ...base,
        attachments: [{ content: "x", contentType: `text/plain${v}` }],
      },
    ];
    for (const c of cases) {
      assert.throws(
        () => composeMessage(c),
        InvalidInputError,
        JSON.stringify(c),
      );
    }
  }
});

test("options: unknown keys refused with a hint; reserved header names refused; bad addresses refused", () => {
  const o = { from: "a@x.test", text: "t" };
  assert.throws(
    () => composeMessage({ ...o, body: "x" } as unknown as ComposeOptions),
    /unknown compose option "body": did you mean text\?/,
  );
  assert.throws(
    () => composeMessage({ ...o, attachments: [{ data: "x" } as never] }),
    /did you mean content\?/,
  );
  assert.throws(
    () => composeMessage({ ...o, headers: { Subject: "x" } }),
    /use its option/,
  );
  assert.throws(
    () => composeMessage({ ...o, headers: { "Content-Type": "x" } }),
    InvalidInputError,
  );
  for (
    const a of [
      "nobody",
      "a@",
      "@x",
      "a b@x.test",
      "a..b@x.test",
      "a@x..test",
      "a@x test",
    ]
  ) {
    assert.throws(
      () => composeMessage({ ...o, to: { address: a } }),
      InvalidInputError,
      a,
    );
  }
  assert.throws(
    () => composeMessage({ text: "t" } as ComposeOptions),
    /from is required/,
  );
  assert.throws(
    () => composeMessage({ ...o, from: "a@x.test, b@x.test" }),
    /exactly one/,
  );
  assert.throws(
    () => composeMessage({ ...o, priority: "urgent" as "high" }),
    InvalidInputError,
  );
  assert.throws(
    () => composeMessage({ ...o, date: new Date(NaN) }),
    InvalidInputError,
  );
});

test("encoded words for non-ASCII names and subjects; quoting of display names; folding at 78", async () => {
  const s = await text({
    from: { name: "Jörg Müller", address: "j@x.test" },
    to: [
      { name: 'Doe, "J"', address: "d@x.test" },
      { name: "Plain Name", address: "p@x.test" },
      { name: "a.b", address: "q@x.test" },
    ],
    subject:
      "Grüße aus Köln, a subject long enough to be folded at least once, really",
    text: "x",
  });
  const head = headBlock(s);
  assert.match(head, /From: =\?UTF-8\?[BQ]\?[^?]+\?= <j@x\.test>/);
  assert.match(
    head,
    /To: "Doe, \\"J\\"" <d@x\.test>, Plain Name <p@x\.test>,\r\n "a\.b" <q@x\.test>|To: "Doe, \\"J\\"" <d@x\.test>, Plain Name <p@x\.test>, "a\.b"/,
  );
  for (const line of head.split("\r\n")) assert.ok(line.length <= 78, line);
  const m = await parseMessage(new TextEncoder().encode(s));
  assert.equal(
    m.subject,
    "Grüße aus Köln, a subject long enough to be folded at least once, really",
  );
  assert.deepEqual(m.to.map((a) => a.name), ['Doe, "J"', "Plain Name", "a.b"]);
  assert.equal(m.from?.name, "Jörg Müller");
});

test("a subject that looks like an encoded word, or has control characters, survives", async () => {
  for (
    const subject of [
      "=?utf-8?q?not_really?=",
      "tab\there",
      "bell\x07",
      "x".repeat(200),
    ]
  ) {
    const m = await parseMessage(
      await composeMessage({ from: "a@x.test", subject, text: "t" }).bytes(),
    );
    assert.equal(m.subject, subject);
  }
});

test("smtputf8: automatic for a non-ASCII local part (raw UTF-8 headers, 8bit text); punycode for a non-ASCII domain alone", async () => {
  const m = composeMessage({
    from: "jörg@bücher.test",
    to: "bob@y.test",
    subject: "Grüße",
    text: "Grüße\n",
  });
  assert.equal(m.smtputf8, true);
  assert.equal(m.eightBit, true);
  const s = dec.decode(await m.bytes());
  assert.match(s, /\r\nFrom: jörg@bücher\.test\r\n/);
  assert.match(s, /\r\nSubject: Grüße\r\n/);
  assert.match(s, /Content-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n/);
  assert.equal(m.envelope.from, "jörg@bücher.test");

  const p = composeMessage({
    from: "joerg@bücher.test",
    to: "bob@y.test",
    subject: "Grüße",
    text: "x",
  });
  assert.equal(p.smtputf8, false);
  assert.equal(p.eightBit, false);
  assert.equal(p.envelope.from, "joerg@xn--bcher-kva.test");
  assert.match(dec.decode(await p.bytes()), /Subject: =\?UTF-8\?/);

  assert.throws(
    () => composeMessage({ from: "jörg@x.test", smtputf8: false }),
    /needs smtputf8/,
  );
  const forced = composeMessage({
    from: "a@x.test",
    subject: "Grüße",
    text: "ü",
    smtputf8: true,
  });
  assert.equal(forced.smtputf8, true);
  assert.match(dec.decode(await forced.bytes()), /Subject: Grüße\r\n/);
});

test("transfer encodings: 7bit, quoted-printable for mostly-ASCII, base64 for the rest, QP for long ASCII lines", async () => {
  const cte = async (t: string) =>
    (await text({ from: "a@x.test", text: t })).match(
      /Content-Transfer-Encoding: (\S+)/,
    )![1];
  assert.equal(await cte("plain ascii"), "7bit");
  assert.equal(await cte("mostly ascii with one ü here"), "quoted-printable");
  assert.equal(await cte("Привет мир, как дела"), "base64");
  assert.equal(await cte("x".repeat(2000)), "quoted-printable");
  const big = composeMessage({
    from: "a@x.test",
    text: "y".repeat(5000) + "\n" + "é".repeat(3000),
  });
  assertWellFormed(await big.bytes());
});

test("size is exact when known; every stream gives the same bytes; CRLF only, lines ≤ 998", async () => {
  const m = composeMessage({
    from: "a@x.test",
    to: "b@x.test",
    text: "line\nline\r\nline\r",
    html: "<p>" + "z".repeat(3000) + "</p>",
    attachments: [
      {
        filename: "a.bin",
        content: crypto.getRandomValues(new Uint8Array(10_000)),
      },
      {
        filename: "b.txt",
        content: new Blob(["hello blob"], { type: "text/plain" }),
      },
      { content: new ArrayBuffer(5) },
    ],
  });
  const a = await m.bytes();
  const b = await m.bytes();
  assert.equal(m.size, a.length);
  assert.deepEqual(a, b);
  assertWellFormed(a);
  assert.equal(m.replayable, true);
  const parsed = await parseMessage(a);
  assert.equal(parsed.attachments[1].contentType, "text/plain");
  assert.equal(dec.decode(parsed.attachments[1].content), "hello blob");
  assert.equal(parsed.attachments[2].content.length, 5);
});

test("an attachment from a ReadableStream: size unknown, one stream only, then a clear error", async () => {
  const data = new Uint8Array(200_000).map((_, i) => (i * 7919) >> 3);
  const m = composeMessage({
    from: "a@x.test",
    attachments: [{ filename: "s.bin", content: new Blob([data]).stream() }],
  });
  assert.equal(m.size, undefined);
  assert.equal(m.replayable, false);
  const parsed = await parseMessage(m.stream());
  assert.deepEqual(parsed.attachments[0].content, data);
  assert.throws(() => m.stream(), /can be read only once/);
});

test("a File's name and type are used by default", async () => {
  const file = new File([new Uint8Array([1, 2])], "photo.jpg", {
    type: "image/jpeg",
  });
  const m = await parseMessage(
    await composeMessage({ from: "a@x.test", attachments: [{ content: file }] })
      .bytes(),
  );
  assert.equal(m.attachments[0].filename, "photo.jpg");
  assert.equal(m.attachments[0].contentType, "image/jpeg");
});

test("In-Reply-To, References, priority and custom headers", async () => {
  const m = await parseMessage(
    await composeMessage({
      from: "a@x.test",
      inReplyTo: "parent@x.test",
      references: ["<root@x.test>", "parent@x.test"],
      priority: "high",
      headers: {
        "List-Unsubscribe": "<mailto:u@x.test>",
        "X-Tag": ["one", "zwei ü"],
      },
      messageId: "mine@x.test",
      date: new Date(Date.UTC(2024, 1, 29, 12, 0, 5)),
      text: "x",
    }).bytes(),
  );
  assert.equal(m.inReplyTo, "parent@x.test");
  assert.deepEqual(m.references, ["root@x.test", "parent@x.test"]);
  assert.equal(m.header("x-priority"), "1 (Highest)");
  assert.equal(m.header("importance"), "high");
  assert.deepEqual(m.headerAll("x-tag"), ["one", "zwei ü"]);
  assert.equal(m.header("list-unsubscribe"), "<mailto:u@x.test>");
  assert.equal(m.messageId, "mine@x.test");
  assert.equal(m.header("date"), "Thu, 29 Feb 2024 12:00:05 +0000");
  assert.equal(m.date?.getTime(), Date.UTC(2024, 1, 29, 12, 0, 5));
});

// ---- compose → parse is the identity -----------------------------------------

const safeString = (max: number) =>
  fc.string({ unit: "binary", maxLength: max }).map((s) =>
    s.replace(/[\r\n\0]/g, "").replace(/[\ud800-\udfff]/g, "")
  );
const arbMessage = fc.record({
  subject: safeString(120),
  fromName: safeString(40),
  toName: safeString(40),
  from: fc.emailAddress(),
  to: fc.emailAddress(),
  text: fc.string({ unit: "binary", maxLength: 500 }).map((s) =>
    s.replace(/[\ud800-\udfff]/g, "")
  ),
  html: fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
  attachments: fc.array(
    fc.record({
      filename: safeString(90).filter((s) => s.trim().length > 0),
      content: fc.uint8Array({ maxLength: 3000 }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  smtputf8: fc.boolean(),
});

function composeGenerated(
  g: typeof arbMessage extends fc.Arbitrary<infer T> ? T : never,
) {
  return composeMessage({
    from: { name: g.fromName, address: g.from },
    to: { name: g.toName, address: g.to },
    subject: g.subject,
    text: g.text,
    html: g.html,
    attachments: g.attachments,
    smtputf8: g.smtputf8,
  });
}

test("property: compose → parse gives back headers, text and attachment bytes (both header modes)", async () => {
  await fc.assert(
    fc.asyncProperty(arbMessage, async (g) => {
      const m = composeGenerated(g);
      const bytes = await m.bytes();
      assertWellFormed(bytes);
      assert.equal(bytes.length, m.size);
      const p = await parseMessage(bytes);
      assert.equal(p.subject, g.subject.trim());
      assert.deepEqual(p.from, { name: g.fromName.trim(), address: g.from });
      assert.deepEqual(p.to, [{ name: g.toName.trim(), address: g.to }]);
      assert.equal(p.text, g.text.replace(/\r\n|\r|\n/g, "\r\n"));
      if (g.html !== undefined) {
        assert.equal(p.html, g.html.replace(/\r\n|\r|\n/g, "\r\n"));
      }
      assert.equal(p.attachments.length, g.attachments.length);
      g.attachments.forEach((a, i) => {
        assert.equal(p.attachments[i].filename, a.filename);
        assert.deepEqual(p.attachments[i].content, a.content);
      });
    }),
    { numRuns: 150 },
  );
});

// ---- independent parsers accept the output -------------------------------------

function pythonParse(bytes: Uint8Array) {
  const r = spawnSync("/usr/bin/python3", [
    fileURLToPath(repoFile("tests/fixtures/messages/email_parse.py")),
  ], {
    input: bytes,
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.status, 0, `python email failed: ${r.stderr}`);
  return JSON.parse(r.stdout.toString());
}

const lf = (s: string) => s.replace(/\r\n/g, "\n");

test("Python's email package (policy.default) parses composed messages without a defect", async () => {
  const cases: ComposeOptions[] = [
    {
      from: { name: "Jörg Müller", address: "j@x.test" },
      to: [{ name: 'Doe, "J"', address: "d@x.test" }, "plain@x.test"],
      cc: "Zoë <z@x.test>",
      bcc: "hidden@x.test",
      subject:
        "Grüße aus Köln — ünïcödé subject that is long enough to be folded twice or more often",
      text: "Hallo Jörg,\nwie geht's?\n",
      html: '<p>Hallo <b>Jörg</b></p><img src="cid:logo@x.test">',
      attachments: [
        {
          filename: "logo.png",
          content: new Uint8Array([137, 80, 78, 71]),
          cid: "logo@x.test",
        },
        {
          filename:
            "Bericht März 2025 — sehr langer Dateiname mit Umlauten äöü und mehr.pdf",
          content: crypto.getRandomValues(new Uint8Array(5000)),
        },
        { filename: "notes.txt", content: "plain attachment\n" },
      ],
    },
    { from: "a@x.test", to: "b@x.test", subject: "ascii", text: "only text\n" },
    {
      from: "jörg@x.test",
      to: "bob@y.test",
      subject: "Grüße SMTPUTF8",
      text: "Grüße\n",
      html: "<p>ü</p>",
    },
  ];
  for (const o of cases) {
    const m = composeMessage(o);
    const py = pythonParse(await m.bytes());
    // Python's parser reads 8-bit header bytes as undecodable and flags a
    // UTF-8 local part (it predates RFC 6532): the only defects allowed, and
    // only for the SMTPUTF8 message.
    const allowed = m.smtputf8
      ? ["NonASCIILocalPartDefect", "UndecodableBytesDefect"]
      : [];
    assert.deepEqual(
      py.defects.filter((d: string) => !allowed.includes(d)),
      [],
      JSON.stringify(py.defects),
    );
    if (!m.smtputf8) assert.equal(py.subject, o.subject);
    assert.equal(py.bcc, false);
    assert.equal(py.messageId, m.messageId);
    const from = typeof o.from === "string"
      ? { name: "", address: o.from }
      : o.from;
    if (!m.smtputf8) {
      assert.deepEqual(py.from, [{
        name: from.name ?? "",
        address: from.address,
      }]);
    }
    assert.equal(lf(py.text), lf(o.text!));
    if (o.html) assert.equal(lf(py.html).replace(/\n$/, ""), o.html);
    const want = (o.attachments ?? []).map((a) => ({
      filename: a.filename,
      hex: Array.from(
        typeof a.content === "string"
          ? new TextEncoder().encode(a.content)
          : a.content as Uint8Array,
        (b) => b.toString(16).padStart(2, "0"),
      ).join(""),
    }));
    assert.deepEqual(
      py.attachments.map((a: { filename: string; hex: string }) => ({
        filename: a.filename,
        hex: a.hex,
      })),
      want,
    );
  }
  const first = pythonParse(await composeMessage(cases[0]).bytes());
  assert.deepEqual(first.to, [{ name: 'Doe, "J"', address: "d@x.test" }, {
    name: "",
    address: "plain@x.test",
  }]);
  assert.deepEqual(first.cc, [{ name: "Zoë", address: "z@x.test" }]);
});

test("postal-mime parses composed messages to the same values (property)", async () => {
  await fc.assert(
    fc.asyncProperty(arbMessage, async (g) => {
      const m = composeGenerated(g);
      const email = await PostalMime.parse(await m.bytes(), {
        attachmentEncoding: "arraybuffer",
      });
      assert.equal((email.subject ?? "").trim(), g.subject.trim());
      assert.equal(email.from?.address, g.from);
      assert.equal(email.to?.[0]?.address, g.to);
      assert.equal(email.messageId, m.messageId);
      assert.equal(email.attachments.length, g.attachments.length);
      g.attachments.forEach((a, i) => {
        assert.deepEqual(
          new Uint8Array(email.attachments[i].content as ArrayBuffer),
          a.content,
        );
      });
      if (g.text.trim()) {
        assert.equal(
          email.text?.replace(/\r\n/g, "\n").trim(),
          g.text.replace(/\r\n|\r/g, "\n").trim(),
        );
      }
    }),
    { numRuns: 60 },
  );
});
