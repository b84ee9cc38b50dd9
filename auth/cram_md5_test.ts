import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CramMd5Mechanism } from "./cram_md5.ts";
import { AuthError } from "../errors.ts";

const text = new TextEncoder();
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const RFC2195_CHALLENGE = "<1896.697170952@postoffice.reston.mci.net>";

describe("CramMd5Mechanism", () => {
  test("RFC 2195 example", () => {
    const cram = new CramMd5Mechanism({
      username: "tim",
      password: "tanstaaftanstaaf",
    });
    assert.equal(cram.name, "CRAM-MD5");
    assert.equal(cram.start(), null);
    assert.equal(cram.finished, false);
    assert.equal(
      decode(cram.next(text.encode(RFC2195_CHALLENGE))),
      "tim b913a602c7eda7a495b4e6e7334d3890",
    );
    assert.equal(cram.finished, true);
  });

  test("a second challenge is an error", () => {
    const cram = new CramMd5Mechanism({
      username: "tim",
      password: "tanstaaftanstaaf",
    });
    cram.next(text.encode(RFC2195_CHALLENGE));
    assert.throws(() => cram.next(text.encode(RFC2195_CHALLENGE)), {
      name: "AuthError",
      message: "unexpected second challenge for CRAM-MD5",
    });
  });

  test("an empty challenge is an error", () => {
    const cram = new CramMd5Mechanism({
      username: "tim",
      password: "tanstaaftanstaaf",
    });
    assert.throws(() => cram.next(new Uint8Array(0)), {
      message: "empty challenge for CRAM-MD5",
    });
    assert.equal(cram.finished, false);
  });

  test("validates credentials", () => {
    assert.throws(() => new CramMd5Mechanism({ username: "tim" }), {
      message: "missing password for CRAM-MD5",
    });
    assert.throws(
      () => new CramMd5Mechanism({ username: "tim\n", password: "secret" }),
      AuthError,
    );
  });
});
