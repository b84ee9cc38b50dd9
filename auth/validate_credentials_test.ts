import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AuthError } from "../errors.ts";
import type { Credentials } from "./mechanism.ts";
import { validateCredentials } from "./validate_credentials.ts";

const SECRET = "s3cr3t-value";

function rejects(
  credentials: Credentials,
  message: string | RegExp,
  options = {},
) {
  assert.throws(
    () => validateCredentials(credentials, options),
    (err: unknown) => {
      assert.ok(err instanceof AuthError);
      if (typeof message === "string") assert.equal(err.message, message);
      else assert.match(err.message, message);
      assert.ok(!err.message.includes(SECRET), "message leaks a secret");
      return true;
    },
  );
}

describe("validateCredentials", () => {
  test("accepts ordinary credentials", () => {
    validateCredentials({ username: "tim", password: "tanstaaf" }, {
      require: "password",
    });
    validateCredentials({
      username: "tim@example.com",
      accessToken: "ya29.a-b_c~d+e/f=",
    }, {
      require: "accessToken",
    });
    validateCredentials({
      username: "tïm",
      password: "pässwörd with spaces\tand tabs",
    });
    validateCredentials({ username: "tim", authzid: "admin" });
  });

  test("rejects CR, LF and NUL in every field", () => {
    for (const bad of ["\r", "\n", "\0", "\r\n"]) {
      const value = `${SECRET}${bad}x`;
      rejects(
        { username: value },
        "username must not contain control characters",
      );
      rejects(
        { username: "tim", authzid: value },
        "authzid must not contain control characters",
      );
      rejects(
        { username: "tim", password: value },
        "password must not contain CR, LF or NUL",
      );
      rejects(
        { username: "tim", accessToken: value },
        "access token must not contain control characters",
      );
    }
  });

  test("rejects other control characters in username, authzid and token", () => {
    for (const bad of ["\x01", "\t", "\x1b", "\x7f"]) {
      rejects({ username: `a${bad}b` }, /^username/);
      rejects({ username: "tim", authzid: `a${bad}b` }, /^authzid/);
      rejects(
        { username: "tim", accessToken: `${SECRET}${bad}` },
        /^access token/,
      );
    }
  });

  test("rejects an empty or non-string username", () => {
    rejects({ username: "" }, "username must be a non-empty string");
    rejects(
      { username: 42 } as unknown as Credentials,
      "username must be a non-empty string",
    );
    rejects(
      { username: "tim", password: 42 } as unknown as Credentials,
      "password must be a string",
    );
  });

  test("require: a missing or empty secret is an error", () => {
    rejects({ username: "tim" }, "missing password", { require: "password" });
    rejects({ username: "tim", password: "" }, "missing password for PLAIN", {
      require: "password",
      mechanism: "PLAIN",
    });
    rejects(
      { username: "tim", password: SECRET },
      "missing access token for XOAUTH2",
      {
        require: "accessToken",
        mechanism: "XOAUTH2",
      },
    );
  });
});
