import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chooseMechanism } from "./choose_mechanism.ts";
import { AuthError } from "../errors.ts";
import type { MechanismFactory, SaslMechanism } from "./mechanism.ts";

const password = { username: "tim", password: "secret" };
const token = { username: "tim", accessToken: "token" };
const both = { username: "tim", password: "secret", accessToken: "token" };
const secure = { secure: true };

function fake(name: string): SaslMechanism {
  return {
    name,
    finished: true,
    start: () => new Uint8Array(0),
    next: () => new Uint8Array(0),
  };
}

const ALL = ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER"];

describe("chooseMechanism", () => {
  test("password: CRAM-MD5, then PLAIN, then LOGIN", () => {
    assert.equal(chooseMechanism(ALL, password, secure).name, "CRAM-MD5");
    assert.equal(
      chooseMechanism(["LOGIN", "PLAIN"], password, secure).name,
      "PLAIN",
    );
    assert.equal(chooseMechanism(["LOGIN"], password, secure).name, "LOGIN");
  });

  test("token: XOAUTH2, then OAUTHBEARER", () => {
    assert.equal(chooseMechanism(ALL, token, secure).name, "XOAUTH2");
    assert.equal(
      chooseMechanism(["OAUTHBEARER", "PLAIN"], token, secure).name,
      "OAUTHBEARER",
    );
  });

  test("password and token: token mechanisms first, then password ones", () => {
    assert.equal(chooseMechanism(ALL, both, secure).name, "XOAUTH2");
    assert.equal(
      chooseMechanism(["PLAIN", "LOGIN"], both, secure).name,
      "PLAIN",
    );
  });

  test("offered names are case-insensitive and any iterable works", () => {
    assert.equal(
      chooseMechanism(new Set(["login", "plain"]), password, secure).name,
      "PLAIN",
    );
    function* offered() {
      yield "cram-md5";
    }
    assert.equal(chooseMechanism(offered(), password, secure).name, "CRAM-MD5");
  });

  test("refuses to send credentials without TLS, even CRAM-MD5", () => {
    for (const credentials of [password, token]) {
      assert.throws(
        () => chooseMechanism(ALL, credentials, { secure: false }),
        (err: unknown) => {
          assert.ok(err instanceof AuthError);
          assert.match(
            err.message,
            /^refusing to send credentials without tls; /,
          );
          assert.match(err.message, /allowInsecureAuth/);
          return true;
        },
      );
    }
    assert.throws(
      () =>
        chooseMechanism(["CRAM-MD5"], password, {
          secure: false,
          allowInsecureAuth: false,
        }),
      AuthError,
    );
  });

  test("allowInsecureAuth permits it", () => {
    const mech = chooseMechanism(["PLAIN"], password, {
      secure: false,
      allowInsecureAuth: true,
    });
    assert.equal(mech.name, "PLAIN");
  });

  test("nothing usable: the error lists what the server offered", () => {
    assert.throws(() => chooseMechanism(["GSSAPI", "ntlm"], password, secure), {
      name: "AuthError",
      message:
        "no usable sasl mechanism; server offered: GSSAPI NTLM; usable: CRAM-MD5 PLAIN LOGIN",
    });
    assert.throws(() => chooseMechanism(["PLAIN", "LOGIN"], token, secure), {
      message:
        "no usable sasl mechanism; server offered: PLAIN LOGIN; usable: XOAUTH2 OAUTHBEARER",
    });
    assert.throws(() => chooseMechanism([], password, secure), {
      message:
        "no usable sasl mechanism; server offered: none; usable: CRAM-MD5 PLAIN LOGIN",
    });
  });

  test("credentials without password or token", () => {
    assert.throws(() => chooseMechanism(ALL, { username: "tim" }, secure), {
      message: "credentials need a password or an access token",
    });
  });

  test("an explicit preference is followed exactly", () => {
    const mech = chooseMechanism(ALL, password, {
      secure: true,
      preference: ["login", "plain"],
    });
    assert.equal(mech.name, "LOGIN");
    assert.throws(
      () =>
        chooseMechanism(["CRAM-MD5"], password, {
          secure: true,
          preference: ["PLAIN"],
        }),
      {
        message:
          "no usable sasl mechanism; server offered: CRAM-MD5; usable: PLAIN",
      },
    );
    assert.throws(
      () =>
        chooseMechanism(ALL, password, {
          secure: true,
          preference: ["SCRAM-SHA-1"],
        }),
      { message: 'unknown sasl mechanism "SCRAM-SHA-1"' },
    );
  });

  test("custom mechanisms come first by default and may replace built-ins", () => {
    const custom = new Map<string, MechanismFactory>([[
      "scram-sha-256",
      () => fake("SCRAM-SHA-256"),
    ]]);
    const offered = ["PLAIN", "SCRAM-SHA-256"];
    assert.equal(
      chooseMechanism(offered, password, { secure: true, custom }).name,
      "SCRAM-SHA-256",
    );
    assert.equal(
      chooseMechanism(["PLAIN"], password, { secure: true, custom }).name,
      "PLAIN",
    );

    const replaced = new Map<string, MechanismFactory>([[
      "PLAIN",
      () => fake("PLAIN"),
    ]]);
    const mech = chooseMechanism(["PLAIN"], password, {
      secure: true,
      custom: replaced,
    });
    assert.equal(mech.constructor.name, "Object");
  });

  test("custom mechanisms work without password or token", () => {
    const custom = new Map<string, MechanismFactory>([[
      "EXTERNAL",
      () => fake("EXTERNAL"),
    ]]);
    const mech = chooseMechanism(["EXTERNAL"], { username: "tim" }, {
      secure: true,
      custom,
    });
    assert.equal(mech.name, "EXTERNAL");
  });

  test("unsafe credentials are rejected", () => {
    assert.throws(
      () =>
        chooseMechanism(ALL, { username: "tim", password: "a\r\nb" }, secure),
      { name: "AuthError", message: "password must not contain CR, LF or NUL" },
    );
  });
});
