import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { assertSafe } from "./validate.ts";
import { InvalidInputError } from "../errors.ts";

test("validate: plain values pass", () => {
  for (
    const ok of ["", "user@example.com", "<>", "MAIL FROM:<a@b>", "\u00e9\t x"]
  ) {
    assertSafe(ok, "value");
  }
});

test("validate: CR, LF and NUL anywhere are refused without echoing the value", () => {
  for (
    const bad of [
      "a\rb",
      "a\nb",
      "a\0b",
      "\r\n",
      "x\r\nRCPT TO:<evil>",
      "secret\n",
    ]
  ) {
    assert.throws(() => assertSafe(bad, "password"), (e: unknown) => {
      assert.ok(e instanceof InvalidInputError);
      assert.match(e.message, /^password /);
      assert.ok(!e.message.includes("secret") && !e.message.includes("evil"));
      return true;
    });
  }
});

test("validate: a non-string is refused", () => {
  assert.throws(
    () => assertSafe(42 as unknown as string, "address"),
    InvalidInputError,
  );
});

test("validate property: refused exactly when CR, LF or NUL occurs", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary-ascii", maxLength: 30 }), (s) => {
      const unsafe = /[\r\n\0]/.test(s);
      let threw = false;
      try {
        assertSafe(s, "x");
      } catch (e) {
        assert.ok(e instanceof InvalidInputError);
        threw = true;
      }
      assert.equal(threw, unsafe);
    }),
    { numRuns: 500 },
  );
});
