import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AuthError } from "../errors.ts";
import { OAuthBearerMechanism } from "./oauthbearer.ts";

const text = new TextEncoder();
const decode = (bytes: Uint8Array | null) =>
  new TextDecoder().decode(bytes ?? undefined);

describe("OAuthBearerMechanism", () => {
  test("initial response format (RFC 7628 §4.1 without host and port)", () => {
    const mech = new OAuthBearerMechanism({
      username: "user@example.com",
      accessToken: "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
    });
    assert.equal(mech.name, "OAUTHBEARER");
    assert.equal(mech.finished, false);
    assert.equal(
      decode(mech.start()),
      "n,a=user@example.com,\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01",
    );
    assert.equal(mech.finished, true);
  });

  test("escapes , and = in the identity, prefers authzid", () => {
    const escaped = new OAuthBearerMechanism({
      username: "a,b=c",
      accessToken: "t",
    });
    assert.equal(
      decode(escaped.start()),
      "n,a=a=2Cb=3Dc,\x01auth=Bearer t\x01\x01",
    );
    const authzid = new OAuthBearerMechanism({
      username: "tim",
      authzid: "boss@example.com",
      accessToken: "t",
    });
    assert.equal(
      decode(authzid.start()),
      "n,a=boss@example.com,\x01auth=Bearer t\x01\x01",
    );
  });

  test("an error challenge is answered with \\x01 and exposed (RFC 7628 §3.2.3)", () => {
    const mech = new OAuthBearerMechanism({
      username: "tim",
      accessToken: "t",
    });
    mech.start();
    const json = '{"status":"invalid_token","scope":"example_scope"}';
    assert.deepEqual(mech.next(text.encode(json)), new Uint8Array([1]));
    assert.equal(mech.error, json);
    assert.throws(() => mech.next(text.encode(json)), {
      name: "AuthError",
      message: "unexpected second challenge for OAUTHBEARER",
    });
  });

  test("validates credentials", () => {
    assert.throws(() => new OAuthBearerMechanism({ username: "tim" }), {
      message: "missing access token for OAUTHBEARER",
    });
    assert.throws(
      () =>
        new OAuthBearerMechanism({
          username: "tim",
          accessToken: "t\x01auth=x",
        }),
      AuthError,
    );
  });
});
