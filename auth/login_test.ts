import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AuthError } from "../errors.ts";
import { LoginMechanism } from "./login.ts";

const text = new TextEncoder();
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("LoginMechanism", () => {
  test("username then password, no initial response", () => {
    const login = new LoginMechanism({ username: "tim", password: "secret" });
    assert.equal(login.name, "LOGIN");
    assert.equal(login.start(), null);
    assert.equal(login.finished, false);
    assert.equal(decode(login.next(text.encode("Username:"))), "tim");
    assert.equal(login.finished, false);
    assert.equal(decode(login.next(text.encode("Password:"))), "secret");
    assert.equal(login.finished, true);
  });

  test("prompt texts do not matter, only their order", () => {
    const login = new LoginMechanism({ username: "tim", password: "secret" });
    login.start();
    assert.equal(decode(login.next(text.encode("Password:"))), "tim");
    assert.equal(decode(login.next(text.encode("Username:"))), "secret");
  });

  test("a third challenge is an error", () => {
    const login = new LoginMechanism({ username: "tim", password: "secret" });
    login.next(new Uint8Array(0));
    login.next(new Uint8Array(0));
    assert.throws(() => login.next(text.encode("Password:")), {
      name: "AuthError",
      message: "unexpected third challenge for LOGIN",
    });
    assert.throws(() => login.next(text.encode("Password:")), AuthError);
  });

  test("validates credentials before producing anything", () => {
    assert.throws(
      () => new LoginMechanism({ username: "tim\r\nQUIT", password: "x" }),
      AuthError,
    );
    assert.throws(
      () => new LoginMechanism({ username: "tim", password: "x\ny" }),
      AuthError,
    );
    assert.throws(() => new LoginMechanism({ username: "tim" }), {
      message: "missing password for LOGIN",
    });
  });
});
