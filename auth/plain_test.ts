import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AuthError } from "../errors.ts";
import { PlainMechanism } from "./plain.ts";

const decode = (bytes: Uint8Array | null) =>
  new TextDecoder().decode(bytes ?? undefined);

describe("PlainMechanism", () => {
  test("initial response is authzid NUL username NUL password", () => {
    const plain = new PlainMechanism({
      username: "tim",
      password: "tanstaaftanstaaf",
    });
    assert.equal(plain.name, "PLAIN");
    assert.equal(plain.finished, false);
    assert.equal(decode(plain.start()), "\0tim\0tanstaaftanstaaf");
    assert.equal(plain.finished, true);
  });

  test("sends authzid when given, UTF-8 encoded", () => {
    const plain = new PlainMechanism({
      username: "tïm",
      password: "pässword",
      authzid: "admin",
    });
    assert.deepEqual(
      plain.start(),
      new TextEncoder().encode("admin\0tïm\0pässword"),
    );
  });

  test("a challenge after the message is an error", () => {
    const plain = new PlainMechanism({ username: "tim", password: "secret" });
    plain.start();
    assert.throws(() => plain.next(new Uint8Array(0)), {
      name: "AuthError",
      message: "unexpected challenge for PLAIN",
    });
  });

  test("a NUL cannot forge a field", () => {
    assert.throws(
      () => new PlainMechanism({ username: "tim\0admin", password: "secret" }),
      AuthError,
    );
    assert.throws(
      () => new PlainMechanism({ username: "tim", password: "a\0b" }),
      AuthError,
    );
    assert.throws(
      () =>
        new PlainMechanism({
          username: "tim",
          password: "secret",
          authzid: "a\0b",
        }),
      AuthError,
    );
  });

  test("needs a password", () => {
    assert.throws(() => new PlainMechanism({ username: "tim" }), {
      message: "missing password for PLAIN",
    });
    assert.throws(
      () => new PlainMechanism({ username: "tim", accessToken: "t" }),
      AuthError,
    );
  });

  test("credentials are captured at construction", () => {
    const credentials = { username: "tim", password: "secret" };
    const plain = new PlainMechanism(credentials);
    credentials.password = "changed\r\nQUIT";
    assert.equal(decode(plain.start()), "\0tim\0secret");
  });
});
