import { test } from "node:test";
import assert from "node:assert/strict";
import * as auth from "./mod.ts";
import { MailwireError } from "../errors.ts";

test("mod.ts exports the public API", () => {
  assert.deepEqual(Object.keys(auth).sort(), [
    "AuthError",
    "CramMd5Mechanism",
    "LoginMechanism",
    "MailwireError",
    "OAuthBearerMechanism",
    "PlainMechanism",
    "XOAuth2Mechanism",
    "authenticate",
    "chooseMechanism",
    "createMechanism",
    "decodeBase64",
    "encodeBase64",
    "hmacMd5",
    "md5",
    "mechanisms",
    "toHex",
    "validateCredentials",
  ]);
});

test("AuthError is a MailwireError", () => {
  const err = new auth.AuthError("boom");
  assert.ok(err instanceof MailwireError);
  assert.ok(err instanceof Error);
  assert.equal(err.name, "AuthError");
  assert.equal(auth.MailwireError, MailwireError);
});
