import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { envelopeFromMessage } from "./envelope.ts";
import { InvalidInputError } from "../errors.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function env(message: string, overrides?: { from?: string; to?: string[] }) {
  const e = envelopeFromMessage(enc.encode(message), overrides);
  const sent = dec.decode(
    Uint8Array.from(e.parts.flatMap((p) => Array.from(p))),
  );
  return { ...e, sent };
}

test("envelope: From gives the sender; To, Cc, Bcc the recipients in order", () => {
  const e = env(
    "From: Ann <ann@x.test>\r\nTo: b@x.test, Cat <c@x.test>\r\n" +
      "Cc: d@x.test\r\nBcc: e@x.test\r\nSubject: hi\r\n\r\nbody\r\n",
  );
  assert.equal(e.from, "ann@x.test");
  assert.deepEqual(e.to, ["b@x.test", "c@x.test", "d@x.test", "e@x.test"]);
  assert.equal(e.international, false);
});

test("envelope: Sender wins over From", () => {
  const e = env(
    "From: a@x.test, b@x.test\r\nSender: Sec <sec@x.test>\r\nTo: c@x.test\r\n\r\n",
  );
  assert.equal(e.from, "sec@x.test");
});

test("envelope: duplicates across To/Cc/Bcc are sent once", () => {
  const e = env(
    "From: a@x.test\r\nTo: b@x.test, c@x.test\r\nCc: Bee <b@x.test>\r\nBcc: c@x.test, d@x.test\r\n\r\n",
  );
  assert.deepEqual(e.to, ["b@x.test", "c@x.test", "d@x.test"]);
});

test("envelope: repeated To fields all count; names are case-insensitive", () => {
  const e = env(
    "FROM: a@x.test\r\nto: b@x.test\r\nTO: c@x.test\r\nbCc: d@x.test\r\n\r\n",
  );
  assert.equal(e.from, "a@x.test");
  assert.deepEqual(e.to, ["b@x.test", "c@x.test", "d@x.test"]);
  assert.equal(
    e.sent,
    "FROM: a@x.test\r\nto: b@x.test\r\nTO: c@x.test\r\n\r\n",
  );
});

test("envelope: folded fields are unfolded (groups, quoted names, comments)", () => {
  const e = env(
    'From: "Doe,\r\n John" <j@x.test>\r\nTo: team:\r\n\tb@x.test,\r\n (c) c@x.test;,\r\n d@x.test\r\n\r\n',
  );
  assert.equal(e.from, "j@x.test");
  assert.deepEqual(e.to, ["b@x.test", "c@x.test", "d@x.test"]);
});

test("envelope: Bcc and Resent-Bcc removed from the transmitted copy, folded lines included", () => {
  const msg = "From: a@x.test\r\nBcc: hidden1@x.test,\r\n hidden2@x.test,\r\n" +
    "\thidden3@x.test\r\nTo: b@x.test\r\nResent-Bcc: r@x.test\r\n" +
    "BCC: last@x.test\r\n\r\nBcc: this-is-body@x.test\r\n";
  const e = env(msg);
  assert.equal(
    e.sent,
    "From: a@x.test\r\nTo: b@x.test\r\n\r\nBcc: this-is-body@x.test\r\n",
  );
  assert.deepEqual(e.to, [
    "b@x.test",
    "hidden1@x.test",
    "hidden2@x.test",
    "hidden3@x.test",
    "last@x.test",
  ]);
});

test("envelope: Bcc as the first and as the only header", () => {
  assert.equal(
    env("Bcc: h@x.test\r\nFrom: a@x.test\r\n\r\nx\r\n").sent,
    "From: a@x.test\r\n\r\nx\r\n",
  );
  const only = env("Bcc: h@x.test\r\n\r\nx\r\n", { from: "a@x.test" });
  assert.equal(only.sent, "\r\nx\r\n");
  assert.deepEqual(only.to, ["h@x.test"]);
});

test("envelope: a message without Bcc is passed through as the same bytes", () => {
  const bytes = enc.encode("From: a@x.test\r\nTo: b@x.test\r\n\r\nhello\r\n");
  const e = envelopeFromMessage(bytes);
  assert.equal(e.parts.length, 1);
  assert.equal(e.parts[0], bytes);
});

test("envelope: LF-only messages work the same", () => {
  const e = env(
    "From: a@x.test\nBcc: h@x.test,\n i@x.test\nTo: b@x.test\n\nBcc: body\n",
  );
  assert.equal(e.sent, "From: a@x.test\nTo: b@x.test\n\nBcc: body\n");
  assert.deepEqual(e.to, ["b@x.test", "h@x.test", "i@x.test"]);
});

test("envelope: body lines that look like headers are never read", () => {
  const e = env(
    "From: a@x.test\r\nTo: b@x.test\r\n\r\nTo: evil@x.test\r\nFrom: evil@x.test\r\nResent-Date: x\r\n",
  );
  assert.equal(e.from, "a@x.test");
  assert.deepEqual(e.to, ["b@x.test"]);
});

test("envelope: no header block (message starts with a blank line): body untouched", () => {
  const msg = "\r\nBcc: keep@x.test\r\nTo: not-a-header@x.test\r\n";
  const e = env(msg, { from: "a@x.test", to: ["b@x.test"] });
  assert.equal(e.sent, msg);
  assert.deepEqual(e.to, ["b@x.test"]);
});

test("envelope: one Resent block is used instead of the original headers", () => {
  const e = env(
    "From: orig@x.test\r\nTo: orig-to@x.test\r\nResent-Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n" +
      "Resent-From: fwd@x.test\r\nResent-To: r1@x.test\r\nResent-Cc: r2@x.test\r\n" +
      "Resent-Bcc: r3@x.test\r\n\r\nbody\r\n",
  );
  assert.equal(e.from, "fwd@x.test");
  assert.deepEqual(e.to, ["r1@x.test", "r2@x.test", "r3@x.test"]);
  assert.ok(!e.sent.includes("r3@x.test"));
  assert.ok(e.sent.includes("To: orig-to@x.test\r\n"));
});

test("envelope: Resent-Sender wins over Resent-From", () => {
  const e = env(
    "From: orig@x.test\r\nResent-Date: x\r\nResent-From: f@x.test\r\nResent-Sender: s@x.test\r\nResent-To: r@x.test\r\n\r\n",
  );
  assert.equal(e.from, "s@x.test");
  assert.deepEqual(e.to, ["r@x.test"]);
});

test("envelope: Resent-* fields without Resent-Date are ignored (smtplib)", () => {
  const e = env(
    "From: a@x.test\r\nTo: b@x.test\r\nResent-To: r@x.test\r\n\r\n",
  );
  assert.equal(e.from, "a@x.test");
  assert.deepEqual(e.to, ["b@x.test"]);
});

test("envelope: two Resent blocks are an error", () => {
  assert.throws(
    () =>
      env(
        "From: a@x.test\r\nResent-Date: 1\r\nResent-To: b@x.test\r\nResent-Date: 2\r\nResent-To: c@x.test\r\n\r\n",
      ),
    InvalidInputError,
  );
});

test("envelope: no Sender or From is an error unless overridden", () => {
  assert.throws(() => env("To: b@x.test\r\n\r\nx"), InvalidInputError);
  const e = env("To: b@x.test\r\n\r\nx", { from: "" });
  assert.equal(e.from, "");
  assert.deepEqual(e.to, ["b@x.test"]);
});

test("envelope: overrides replace the header addresses but Bcc is still stripped", () => {
  const e = env("From: a@x.test\r\nTo: b@x.test\r\nBcc: c@x.test\r\n\r\n", {
    from: "o@x.test",
    to: ["p@x.test"],
  });
  assert.equal(e.from, "o@x.test");
  assert.deepEqual(e.to, ["p@x.test"]);
  assert.equal(e.sent, "From: a@x.test\r\nTo: b@x.test\r\n\r\n");
});

test("envelope: a non-ascii address marks the envelope international", () => {
  assert.equal(
    env("From: jörg@x.test\r\nTo: b@x.test\r\n\r\n").international,
    true,
  );
  assert.equal(
    env("From: a@x.test\r\nTo: Jörg <b@x.test>\r\n\r\n").international,
    false,
  );
  assert.equal(
    env("From: a@x.test\r\nTo: b@bücher.test\r\n\r\n").international,
    true,
  );
});

test("envelope: a message without a blank line is all header", () => {
  const e = env("From: a@x.test\r\nTo: b@x.test\r\nBcc: c@x.test");
  assert.equal(e.sent, "From: a@x.test\r\nTo: b@x.test\r\n");
  assert.deepEqual(e.to, ["b@x.test", "c@x.test"]);
});

// ---- property ----

const local = fc.stringMatching(/^[a-z0-9]{1,8}$/);
const addr = fc.tuple(local, fc.constantFrom("x.test", "y.test", "z.test"))
  .map(([l, d]) => `${l}@${d}`);
const mailboxText = fc.tuple(
  addr,
  fc.constantFrom("plain", "named", "quoted", "comment"),
).map(([a, style]) =>
  style === "named"
    ? `Some Name <${a}>`
    : style === "quoted"
    ? `"Last, First" <${a}>`
    : style === "comment"
    ? `${a} (a comment, with commas)`
    : a
);
const field = fc.tuple(
  fc.constantFrom("To", "Cc", "Bcc", "cc", "BCC", "Subject", "X-Other"),
  fc.array(mailboxText, { minLength: 1, maxLength: 3 }),
  fc.boolean(),
).map(([name, boxes, fold]) => {
  const isAddr = /^(to|cc|bcc)$/i.test(name);
  const value = isAddr ? boxes.join(fold ? ",\r\n\t" : ", ") : "not addresses";
  return { name, boxes, isAddr, text: `${name}: ${value}\r\n` };
});

test("envelope property: recipients are To+Cc+Bcc addresses, once each, in order; Bcc gone from the bytes", () => {
  fc.assert(
    fc.property(
      addr,
      fc.array(field, { maxLength: 8 }),
      fc.string({ maxLength: 40 }),
      (from, fields, bodyText) => {
        const body = bodyText.replace(/\r|\n/g, " ") + "\r\n";
        const msg = `From: ${from}\r\n${
          fields.map((f) => f.text).join("")
        }\r\n${body}`;
        const e = env(msg);
        assert.equal(e.from, from);
        const want: string[] = [];
        for (const name of ["to", "cc", "bcc"]) {
          for (const f of fields) {
            if (f.name.toLowerCase() !== name) continue;
            for (const b of f.boxes) {
              const a = /<([^>]*)>/.exec(b)?.[1] ?? b.split(" ")[0];
              if (!want.includes(a)) want.push(a);
            }
          }
        }
        assert.deepEqual(e.to, want);
        const kept = fields.filter((f) => f.name.toLowerCase() !== "bcc");
        assert.equal(
          e.sent,
          `From: ${from}\r\n${kept.map((f) => f.text).join("")}\r\n${body}`,
        );
      },
    ),
    { numRuns: 300 },
  );
});
