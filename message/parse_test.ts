import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { MessageLimitError } from "./errors.ts";
import { parseMessage } from "./parse.ts";
import { repoFile } from "../tests/repo.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const corpusDir = fileURLToPath(repoFile("tests/fixtures/messages/corpus/"));
const corpus = (name: string) => new Uint8Array(readFileSync(corpusDir + name));

test("corpus: every odd message parses without throwing", async () => {
  const files = readdirSync(corpusDir).filter((f) => f.endsWith(".eml"));
  assert.ok(files.length >= 14, `corpus has ${files.length} messages`);
  for (const f of files) {
    const m = await parseMessage(corpus(f));
    assert.ok(m.root, f);
  }
});

test("corpus: folded headers, encoded words split mid-character across folds", async () => {
  const m = await parseMessage(corpus("folded.eml"));
  assert.deepEqual(m.from, { name: "Jörg Müller", address: "j@x.test" });
  assert.deepEqual(m.to.map((a) => a.address), ["a@x.test", "b@x.test"]);
  assert.equal(m.subject, "café time and\tmore");
  assert.equal(m.header("x-long"), "one  two");
});

test("corpus: several charsets (headers and bodies), declared or not", async () => {
  const m = await parseMessage(corpus("mixed-charsets.eml"));
  assert.equal(m.subject, "GrüßeПривет€ plain");
  assert.equal(m.text, "Łódż");
  assert.equal(m.html, "<p>Привет</p>");
  const h = await parseMessage(corpus("8bit-headers.eml"));
  assert.deepEqual(h.from, { name: "Jörg Müller", address: "j@x.test" });
  assert.equal(h.subject, "Grüße latin-1");
  assert.equal(h.to[0].name, "éé");
});

test("corpus: broken boundaries, missing final boundary, no delimiter at all", async () => {
  const b = await parseMessage(corpus("broken-boundary.eml"));
  assert.equal(b.text, "first\r\n--b1x not a delimiter\r\nstill first");
  assert.equal(b.root.children.length, 3);
  assert.equal(
    dec.decode(b.attachments[0].content),
    "no blank line after this",
  );
  assert.deepEqual([...b.attachments[1].content], [0, 1, 2]);
  const mf = await parseMessage(corpus("missing-final-boundary.eml"));
  assert.equal(mf.text, "hello");
  assert.equal(dec.decode(mf.attachments[0].content), "%PDF-");
  const nd = await parseMessage(corpus("no-delimiter.eml"));
  assert.equal(
    nd.text,
    "This message says multipart but has no delimiter at all.\r\n",
  );
});

test("corpus: LF line ends, mbox From line, no header block", async () => {
  const lf = await parseMessage(corpus("lf-only.eml"));
  assert.equal(lf.text, "plain lf");
  assert.equal(lf.html, "<b>lf</b>");
  assert.equal((await parseMessage(corpus("mbox-from.eml"))).subject, "mbox");
  const nh = await parseMessage(corpus("no-headers.eml"));
  assert.deepEqual(nh.headers, []);
  assert.equal(nh.text, "just a body\r\n");
});

test("corpus: RFC 2231 continuations and charsets, encoded words in quoted names", async () => {
  const m = await parseMessage(corpus("rfc2231.eml"));
  assert.deepEqual(m.attachments.map((a) => a.filename), [
    "Grüße und mehr.txt",
    "Bericht März.pdf",
    "only-name.png",
  ]);
});

test("corpus: message/rfc822 and multipart/digest parts are attachments with their bytes", async () => {
  const m = await parseMessage(corpus("nested-rfc822.eml"));
  assert.equal(m.text, "see attached");
  assert.deepEqual(m.attachments.map((a) => a.contentType), [
    "message/rfc822",
    "message/rfc822",
  ]);
  const inner = await parseMessage(m.attachments[0].content);
  assert.equal(inner.subject, "inner");
});

test("corpus: broken quoted-printable and base64, unknown charset and encoding", async () => {
  const m = await parseMessage(corpus("bad-encodings.eml"));
  assert.equal(m.text, "bad =ZZ escape and softbreak €");
  assert.deepEqual([...m.attachments[0].content], [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(dec.decode(m.attachments[1].content), "raw");
  assert.equal(m.attachments[1].part.text(), "raw");
});

test("corpus: odd Content-Type values and address syntax", async () => {
  const o = await parseMessage(corpus("odd-content-types.eml"));
  assert.equal(o.root.contentType, "multipart/alternative");
  assert.equal(o.text, "no subtype");
  const h = await parseMessage(corpus("header-oddities.eml"));
  assert.deepEqual(h.from, { name: 'Quoted "Name"', address: "q@x.test" });
  assert.deepEqual(h.to, []);
  assert.deepEqual(h.cc.map((a) => a.address), [
    "one@x.test",
    "two@x.test",
    "three@x.test",
  ]);
  assert.equal(h.subject, "no space");
  assert.deepEqual(h.headerAll("subject"), ["no space", "second subject"]);
  assert.equal(h.date?.toISOString(), "2025-12-02T16:22:00.000Z");
  assert.equal(h.messageId, "id@x.test");
  assert.deepEqual(h.references, ["a@x", "b@x", "c@x"]);
  assert.equal(h.header("bad name"), "with space");
  const from = h.headerAll("from")[0];
  assert.ok(from.includes("bare@x.test"));
});

// ---- hostile input: every cap -------------------------------------------------

function nested(depth: number): Uint8Array {
  let s = "";
  for (let i = 0; i < depth; i++) {
    s += `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`;
  }
  return enc.encode(s + "\r\nleaf\r\n");
}

test("hostile: nesting deeper than maxDepth → MessageLimitError depth", async () => {
  await assert.rejects(
    parseMessage(nested(1000)),
    (e) =>
      e instanceof MessageLimitError && e.limit === "depth" && e.max === 32,
  );
  const ok = await parseMessage(nested(10));
  assert.equal(ok.text, "leaf\r\n");
  await assert.rejects(
    parseMessage(nested(10), { maxDepth: 5 }),
    (e) => e instanceof MessageLimitError && e.limit === "depth",
  );
});

test("hostile: more parts than maxParts → MessageLimitError parts", async () => {
  const s = "Content-Type: multipart/mixed; boundary=p\r\n\r\n" +
    "--p\r\n\r\nx\r\n".repeat(5000) + "--p--\r\n";
  await assert.rejects(
    parseMessage(enc.encode(s)),
    (e) =>
      e instanceof MessageLimitError && e.limit === "parts" && e.max === 1000,
  );
  const m = await parseMessage(enc.encode(s), { maxParts: 6000 });
  assert.equal(m.root.children.length, 5000);
});

test("hostile: more header fields than maxHeaders → MessageLimitError headers", async () => {
  const s = "X-A: b\r\n".repeat(5000) + "\r\nbody";
  await assert.rejects(
    parseMessage(enc.encode(s)),
    (e) => e instanceof MessageLimitError && e.limit === "headers",
  );
  // In a nested part too.
  const part = "Content-Type: multipart/mixed; boundary=p\r\n\r\n--p\r\n" +
    "X-A: b\r\n".repeat(2000) + "\r\nx\r\n--p--\r\n";
  await assert.rejects(
    parseMessage(enc.encode(part)),
    (e) => e instanceof MessageLimitError && e.limit === "headers",
  );
});

test("hostile: a header block larger than maxHeaderBytes → MessageLimitError headerBytes", async () => {
  const s = "Subject: " + "a ".repeat(200_000) + "\r\n" + " b\r\n".repeat(10) +
    "\r\nbody";
  await assert.rejects(
    parseMessage(enc.encode(s)),
    (e) => e instanceof MessageLimitError && e.limit === "headerBytes",
  );
  const folded = "Subject: x\r\n" + " y\r\n".repeat(100_000) + "\r\n";
  await assert.rejects(
    parseMessage(enc.encode(folded)),
    (e) => e instanceof MessageLimitError && e.limit === "headerBytes",
  );
});

test("hostile: a message over maxSize → MessageLimitError size; a stream is cancelled at the cap, never held whole", async () => {
  await assert.rejects(
    parseMessage(new Uint8Array(2000), { maxSize: 1000 }),
    (e) => e instanceof MessageLimitError && e.limit === "size",
  );
  let pulled = 0;
  let cancelled = false;
  const endless = new ReadableStream<Uint8Array>({
    pull(c) {
      pulled++;
      if (pulled > 10_000) c.close();
      else c.enqueue(new Uint8Array(64 * 1024).fill(65));
    },
    cancel() {
      cancelled = true;
    },
  });
  await assert.rejects(
    parseMessage(endless, { maxSize: 1024 * 1024 }),
    (e) => e instanceof MessageLimitError && e.limit === "size",
  );
  assert.ok(cancelled);
  assert.ok(pulled <= 18, `pulled ${pulled} chunks`);
});

test("hostile: option values are checked", async () => {
  await assert.rejects(
    parseMessage(new Uint8Array(1), { maxDepth: -1 }),
    RangeError,
  );
});

/** Best of 3 timings of `f`. */
async function time(f: () => Promise<unknown>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await f();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

test("hostile: linear time on inputs built to make naive parsers quadratic", async () => {
  const big = { maxHeaderBytes: 64 * 1024 * 1024, maxParts: 1_000_000 };
  const shapes: [string, (n: number) => string][] = [
    [
      "encoded-word starts without an end",
      (n) => "Subject: " + "=?a?q?x".repeat(n) + "\r\n\r\n",
    ],
    [
      "encoded words without whitespace",
      (n) => "Subject: " + "=?utf-8?q?a?=".repeat(n) + "\r\n\r\n",
    ],
    [
      "unclosed quotes and comments in addresses",
      (n) => "From: " + '"a (b <c '.repeat(n) + "\r\n\r\n",
    ],
    [
      "parameters",
      (n) =>
        "Content-Type: text/plain" + '; a*1*=%41; b="x'.repeat(n) + "\r\n\r\n",
    ],
    [
      "near-miss delimiter lines",
      (n) =>
        "Content-Type: multipart/mixed; boundary=bbbbbbbbbb\r\n\r\n" +
        "--bbbbbbbbb\r\n".repeat(n),
    ],
    [
      "header continuation lines",
      (n) => "X: a\r\n" + " a\r\n".repeat(n) + "\r\n",
    ],
  ];
  for (const [name, make] of shapes) {
    const small = enc.encode(make(20_000));
    const large = enc.encode(make(80_000));
    const ts = await time(() => parseMessage(small, big));
    const tl = await time(() => parseMessage(large, big));
    // Linear: ~4x. Quadratic would be ~16x. Generous for a loaded machine.
    assert.ok(
      tl < Math.max(ts, 5) * 10,
      `${name}: ${ts.toFixed(1)} ms → ${tl.toFixed(1)} ms`,
    );
  }
});

test("headers: names lower-cased, values unfolded (CRLF removed only) and trimmed, raw kept", async () => {
  const m = await parseMessage(
    enc.encode("X-Test:  a\r\n\t b \r\nSubject: =?UTF-8?B?w6Q=?=\r\n\r\n"),
  );
  assert.deepEqual(m.headers[0], {
    name: "x-test",
    raw: "a\t b",
    value: "a\t b",
  });
  assert.deepEqual(m.headers[1], {
    name: "subject",
    raw: "=?UTF-8?B?w6Q=?=",
    value: "ä",
  });
  assert.equal(m.header("SUBJECT"), "ä");
});

test("bodies: text and html by transfer encoding and charset; parts keep raw bytes as views", async () => {
  const raw = enc.encode(
    "Content-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\nS/Zsbg==\r\n--x\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>=E2=82=AC</p>\r\n--x--\r\n",
  );
  const m = await parseMessage(raw);
  assert.equal(m.text, "Köln");
  assert.equal(m.html, "<p>€</p>");
  const leaf = m.root.children[0];
  assert.equal(leaf.raw.buffer, raw.buffer, "a view, not a copy");
  assert.equal(leaf.transferEncoding, "base64");
});
