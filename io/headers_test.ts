import { test } from "node:test";
import assert from "node:assert/strict";
import { headerEnd, headerFields } from "./headers.ts";

const enc = new TextEncoder();

test("headers: block end with CRLF, LF, none, and a leading blank line", () => {
  assert.equal(headerEnd(enc.encode("A: 1\r\nB: 2\r\n\r\nbody")), 12);
  assert.equal(headerEnd(enc.encode("A: 1\nB: 2\n\nbody")), 10);
  assert.equal(headerEnd(enc.encode("A: 1\r\nB: 2")), 10);
  assert.equal(headerEnd(enc.encode("\r\nA: 1\r\n")), 0);
});

test("headers: folded fields are unfolded, byte ranges cover the continuation lines", () => {
  const head = enc.encode(
    "To: a@x.test,\r\n b@x.test\r\nBcc: c@x.test\r\n\tz\r\nX: y\r\n",
  );
  const fields = headerFields(head);
  assert.deepEqual(fields.map((f) => [f.name, f.value]), [
    ["to", "a@x.test, b@x.test"],
    ["bcc", "c@x.test z"],
    ["x", "y"],
  ]);
  const bcc = fields[1];
  assert.equal(
    new TextDecoder().decode(head.subarray(bcc.start, bcc.end)),
    "Bcc: c@x.test\r\n\tz\r\n",
  );
});
