import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AuthError } from "../errors.ts";
import { XOAuth2Mechanism } from "./xoauth2.ts";

const text = new TextEncoder();
const decode = (bytes: Uint8Array | null) =>
  new TextDecoder().decode(bytes ?? undefined);

describe("XOAuth2Mechanism", () => {
  test("initial response format", () => {
    const mech = new XOAuth2Mechanism({
      username: "someuser@example.com",
      accessToken: "ya29.vF9dft4",
    });
    assert.equal(mech.name, "XOAUTH2");
    assert.equal(mech.finished, false);
    assert.equal(
      decode(mech.start()),
      "user=someuser@example.com\x01auth=Bearer ya29.vF9dft4\x01\x01",
    );
    assert.equal(mech.finished, true);
    assert.equal(mech.error, undefined);
  });

  test("an error challenge is answered with empty bytes and exposed", () => {
    const mech = new XOAuth2Mechanism({
      username: "tim@example.com",
      accessToken: "token",
    });
    mech.start();
    const json =
      '{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}';
    const response = mech.next(text.encode(json));
    assert.equal(response.length, 0);
    assert.equal(mech.error, json);
    assert.equal(mech.finished, true);
    assert.throws(() => mech.next(text.encode(json)), {
      name: "AuthError",
      message: "unexpected second challenge for XOAUTH2",
    });
  });

  test("validates credentials", () => {
    assert.throws(
      () => new XOAuth2Mechanism({ username: "tim", password: "secret" }),
      {
        message: "missing access token for XOAUTH2",
      },
    );
    for (const bad of ["\x01", "\r", "\n", "\0"]) {
      assert.throws(
        () =>
          new XOAuth2Mechanism({ username: `tim${bad}`, accessToken: "token" }),
        AuthError,
      );
      assert.throws(
        () =>
          new XOAuth2Mechanism({ username: "tim", accessToken: `tok${bad}en` }),
        AuthError,
      );
    }
  });
});
