import { test } from "node:test";
import assert from "node:assert/strict";
import * as auth from "./mod.ts";
import { MailwireError } from "../errors.ts";

test("mod.ts exports the public API, and no primitive (md5, hmac, hex, base64, the driver)", () => {
  assert.deepEqual(Object.keys(auth).sort(), [
    "AuthError",
    "CramMd5Mechanism",
    "LoginMechanism",
    "MailwireError",
    "OAuthBearerMechanism",
    "PlainMechanism",
    "XOAuth2Mechanism",
    "chooseMechanism",
    "createMechanism",
    "mechanisms",
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
