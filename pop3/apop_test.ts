import { test } from "node:test";
import assert from "node:assert/strict";
import { apopDigest, findApopTimestamp } from "./apop.ts";

test("apopDigest: the RFC 1939 example", () => {
  assert.equal(
    apopDigest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf"),
    "c4c9334bac560ecc979e58001b3e22fb",
  );
});

test("apopDigest: the secret is UTF-8", () => {
  assert.equal(apopDigest("<1.2@h>", "pässwörd").length, 32);
  assert.notEqual(
    apopDigest("<1.2@h>", "pässwörd"),
    apopDigest("<1.2@h>", "passwrd"),
  );
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
  for (const none of ["ready", "<>", "<nohost>", "<a b@c>", "<@>", "<a@>"]) {
    assert.equal(findApopTimestamp(none), undefined, none);
  }
});
