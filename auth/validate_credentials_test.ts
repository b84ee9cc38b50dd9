import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AuthError } from "../errors.ts";
import type { Credentials } from "./mechanism.ts";
import {
  checkCredentials,
  validateCredentials,
} from "./validate_credentials.ts";

const SECRET = "s3cr3t-value";

/** `run` throws an AuthError with `message`, which never holds the secret. */
function refusal(run: () => unknown, message: string | RegExp) {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof AuthError);
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    assert.ok(!err.message.includes(SECRET), "message leaks a secret");
    return true;
  });
}

function rejects(
  credentials: Credentials,
  message: string | RegExp,
  options = {},
) {
  refusal(() => validateCredentials(credentials, options), message);
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

describe("checkCredentials (the clients' first call, before any byte)", () => {
  const refuses = (value: unknown, message: string, options = {}) =>
    refusal(() => checkCredentials(value, options), message);

  test("returns the credentials when every field is safe", () => {
    const c = { username: "tim", password: SECRET, authzid: "ops" };
    assert.equal(checkCredentials(c, { require: "password" }), c);
    checkCredentials({ username: "tim", accessToken: "ya29.x" }, {
      require: "accessToken",
      mechanismName: "XOAUTH2",
    });
    checkCredentials({ username: "t\u{1f600}m", password: "p\u{1f511}" });
  });

  test("the POP3 token of the hostile catalogue is refused (and every other field)", () => {
    refuses(
      { username: "tim", accessToken: `${SECRET}\r\nDELE 1` },
      "access token must not contain control characters",
    );
    refuses(
      { username: "tim", password: "x", authzid: "admin\r\nQUIT" },
      "authzid must not contain control characters",
    );
    refuses(
      { username: "tim", password: `${SECRET}\0` },
      "password must not contain CR, LF or NUL",
    );
    refuses(
      { username: "tim\x01" },
      "username must not contain control characters",
    );
  });

  test("types: not an object, not strings", () => {
    for (const value of [undefined, null, "tim", 42]) {
      refuses(value, "credentials must be an object");
    }
    refuses({ username: 7 }, "username must be a non-empty string");
    refuses({ username: "" }, "username must be a non-empty string");
    refuses({ username: "tim", password: 1234 }, "password must be a string");
    refuses(
      { username: "tim", accessToken: {} },
      "access token must be a string",
    );
    refuses({ username: "tim", authzid: ["a"] }, "authzid must be a string");
  });

  test("a lone surrogate would be sent as U+FFFD: refused", () => {
    for (const bad of ["\ud800", "a\udc00", "\ud800x", `${SECRET}\ud83d`]) {
      refuses(
        { username: "tim", password: bad },
        "password must not contain a lone surrogate (not well-formed unicode)",
      );
      refuses(
        { username: bad },
        "username must not contain a lone surrogate (not well-formed unicode)",
      );
    }
  });

  test("names from other libraries get a hint", () => {
    refuses(
      { user: "tim", pass: SECRET },
      "unknown credentials field user; did you mean username?",
    );
    refuses(
      { username: "tim", pass: SECRET },
      "unknown credentials field pass; did you mean password?",
    );
    refuses(
      { username: "tim", token: SECRET },
      "unknown credentials field token; did you mean accessToken?",
    );
  });

  test("required secret and the mechanism name to send", () => {
    refuses({ username: "tim" }, "missing access token", {
      require: "accessToken",
    });
    refuses(
      { username: "tim", password: "x" },
      'invalid sasl mechanism name "PLAIN\\r\\nQUIT"',
      {
        mechanismName: "PLAIN\r\nQUIT",
      },
    );
    refuses(
      { username: "tim", password: "x" },
      'invalid sasl mechanism name "plain"',
      {
        mechanismName: "plain",
      },
    );
  });
});
