import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createMechanism, mechanisms } from "./create_mechanism.ts";
import { AuthError } from "../errors.ts";
import type { MechanismFactory, SaslMechanism } from "./mechanism.ts";

const password = { username: "tim", password: "secret" };
const token = { username: "tim", accessToken: "token" };

function fake(name: string): SaslMechanism {
  return {
    name,
    finished: true,
    start: () => new Uint8Array(0),
    next: () => new Uint8Array(0),
  };
}

describe("mechanisms", () => {
  test("lists the built-ins by upper-case name", () => {
    assert.deepEqual([...mechanisms.keys()], [
      "CRAM-MD5",
      "LOGIN",
      "OAUTHBEARER",
      "PLAIN",
      "XOAUTH2",
    ]);
    for (const [name, factory] of mechanisms) {
      const credentials = name.includes("OAUTH") ? token : password;
      assert.equal(factory(credentials).name, name);
    }
  });

  test("mutating the exported map does not change the built-ins", () => {
    const writable = mechanisms as Map<string, MechanismFactory>;
    const original = writable.get("PLAIN")!;
    writable.set("PLAIN", () => fake("PLAIN"));
    try {
      assert.equal(
        createMechanism("PLAIN", password).constructor.name,
        "PlainMechanism",
      );
    } finally {
      writable.set("PLAIN", original);
    }
  });
});

describe("createMechanism", () => {
  test("finds built-ins case-insensitively", () => {
    assert.equal(createMechanism("plain", password).name, "PLAIN");
    assert.equal(createMechanism("Cram-Md5", password).name, "CRAM-MD5");
    assert.equal(createMechanism("xoauth2", token).name, "XOAUTH2");
  });

  test("unknown names are an AuthError", () => {
    assert.throws(() => createMechanism("SCRAM-SHA-256", password), {
      name: "AuthError",
      message: 'unknown sasl mechanism "SCRAM-SHA-256"',
    });
  });

  test("custom mechanisms come first and may replace a built-in", () => {
    const custom = new Map<string, MechanismFactory>([
      ["scram-sha-256", () => fake("SCRAM-SHA-256")],
      ["Plain", () => fake("PLAIN")],
    ]);
    assert.equal(
      createMechanism("SCRAM-SHA-256", password, custom).name,
      "SCRAM-SHA-256",
    );
    const plain = createMechanism("PLAIN", password, custom);
    assert.equal(plain.constructor.name, "Object");
    assert.equal(createMechanism("LOGIN", password, custom).name, "LOGIN");
  });

  test("a factory returning another mechanism is an AuthError", () => {
    const custom = new Map([["FOO", () => fake("BAR")]]);
    assert.throws(() => createMechanism("FOO", password, custom), {
      message: 'factory for "FOO" created mechanism "BAR"',
    });
  });

  test("credential errors surface", () => {
    assert.throws(() => createMechanism("PLAIN", token), AuthError);
    assert.throws(() => createMechanism("XOAUTH2", password), AuthError);
  });
});
