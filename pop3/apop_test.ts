import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { apopDigest, findApopTimestamp } from "./apop.ts";

test("apopDigest: the RFC 1939 example", () => {
  assert.equal(
    apopDigest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf"),
    "c4c9334bac560ecc979e58001b3e22fb",
  );
});

test("apopDigest: the secret is UTF-8 (a known digest, not the Latin-1 one)", () => {
  // MD5 of the UTF-8 bytes of "<1.2@h>pässwörd", from two independent
  // implementations (node:crypto and Python's hashlib).
  const utf8 = "e12c4575f8ae712ab2e1a315d59fcaf3";
  // The same text encoded as Latin-1 (ä and ö one byte each).
  const latin1 = "fe2d1e569de901477fa5d6c04eed714a";
  const digest = apopDigest("<1.2@h>", "pässwörd");
  assert.equal(digest, utf8);
  assert.notEqual(digest, latin1);
});

test("findApopTimestamp: msg-id syntax only", () => {
  assert.equal(
    findApopTimestamp("POP3 server ready <1896.697170952@dbc.mtview.ca.us>"),
    "<1896.697170952@dbc.mtview.ca.us>",
  );
  assert.equal(
    findApopTimestamp(
      "Dovecot ready. <5f3a.1.65a1b2c3.AbCdEf==@mail.test> more",
    ),
    "<5f3a.1.65a1b2c3.AbCdEf==@mail.test>",
  );
  assert.equal(findApopTimestamp("<not a stamp> <12@host>"), "<12@host>");
  assert.equal(findApopTimestamp("<<a@b>"), "<a@b>");
  assert.equal(findApopTimestamp("<@a@b>"), "<@a@b>");
  assert.equal(findApopTimestamp("<a@@>"), "<a@@>");
  for (
    const none of ["ready", "<>", "<nohost>", "<a b@c>", "<@>", "<a@>", "<@a>"]
  ) {
    assert.equal(findApopTimestamp(none), undefined, none);
  }
});

// The regex the scan replaced: the reference for what a timestamp is.
const REFERENCE = /<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>/;

test("findApopTimestamp property: the same answer as the msg-id regex", () => {
  const char = fc.constantFrom(..."<>@a. \x7f\u00e9\u0000=");
  fc.assert(
    fc.property(fc.array(char, { maxLength: 30 }), (chars) => {
      const text = chars.join("");
      assert.equal(findApopTimestamp(text), REFERENCE.exec(text)?.[0]);
    }),
    { numRuns: 5000 },
  );
});

test("findApopTimestamp: `<` then 10^6 `@` ends at once (the old regex took seconds for 10^5)", () => {
  // The per-byte linearity figures are in tests/fuzz (linearity_test.ts);
  // this bound is 100 times what a linear scan needs on a loaded machine.
  for (const shape of ["@", "<@", "a@", "@a"]) {
    const text = "<" + shape.repeat((1 << 20) / shape.length);
    const t0 = performance.now();
    assert.equal(findApopTimestamp(text), undefined);
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `${shape}: ${ms} ms`);
  }
});
