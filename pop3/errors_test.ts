import { test } from "node:test";
import assert from "node:assert/strict";
import { MailwireError } from "../errors.ts";
import {
  Pop3AuthenticationError,
  Pop3Error,
  Pop3NotSupportedError,
  Pop3ResponseError,
  Pop3ServerDisconnectedError,
} from "./errors.ts";

test("the hierarchy: everything is a Pop3Error and a MailwireError", () => {
  const status = { ok: false, text: "no" } as const;
  for (
    const err of [
      new Pop3Error("x"),
      new Pop3ResponseError("x", status),
      new Pop3AuthenticationError("x", status),
      new Pop3ServerDisconnectedError("x"),
      new Pop3NotSupportedError("x"),
    ]
  ) {
    assert.ok(err instanceof Pop3Error);
    assert.ok(err instanceof MailwireError);
    assert.equal(err.name, err.constructor.name);
  }
  assert.ok(
    new Pop3AuthenticationError("x", status) instanceof Pop3ResponseError,
  );
});

test("response codes: temporary, permanent, invalid credentials", () => {
  const cases: [string | undefined, boolean, boolean, boolean][] = [
    ["IN-USE", true, false, false],
    ["LOGIN-DELAY", true, false, false],
    ["SYS/TEMP", true, false, false],
    ["SYS/PERM", false, true, false],
    ["AUTH", false, false, true],
    [undefined, false, false, false],
    ["UTF8", false, false, false],
  ];
  for (const [respCode, temporary, permanent, invalid] of cases) {
    const err = new Pop3ResponseError("login failed", {
      ok: false,
      text: "text",
      respCode,
    });
    assert.equal(err.respCode, respCode);
    assert.equal(err.response, "text");
    assert.equal(err.temporary, temporary, String(respCode));
    assert.equal(err.permanent, permanent, String(respCode));
    assert.equal(err.invalidCredentials, invalid, String(respCode));
  }
});

test("the message carries the server's answer", () => {
  const err = new Pop3ResponseError("retr 3", {
    ok: false,
    text: "no such message",
  });
  assert.equal(err.message, "retr 3: -ERR no such message");
  const coded = new Pop3AuthenticationError("authentication failed", {
    ok: false,
    text: "mailbox locked",
    respCode: "IN-USE",
  }, { cause: "c" });
  assert.equal(
    coded.message,
    "authentication failed: -ERR [IN-USE] mailbox locked",
  );
  assert.equal(coded.cause, "c");
  assert.equal(
    new Pop3ResponseError("noop", { ok: false, text: "" }).message,
    "noop: -ERR",
  );
});
