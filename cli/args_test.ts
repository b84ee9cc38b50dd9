import assert from "node:assert/strict";
import { test } from "node:test";
import {
  hasControl,
  parseChoice,
  parseCommand,
  parseCount,
  parseDuration,
  parseServer,
  suggest,
} from "./args.ts";
import { UsageError } from "./exit.ts";

test("parseServer: host, host:port, [v6]:port, bare v6", () => {
  assert.deepEqual(parseServer("mail.example.com"), {
    hostname: "mail.example.com",
  });
  assert.deepEqual(parseServer("mail.example.com:587"), {
    hostname: "mail.example.com",
    port: 587,
  });
  assert.deepEqual(parseServer("[::1]:25"), { hostname: "::1", port: 25 });
  assert.deepEqual(parseServer("[::1]"), { hostname: "::1" });
  assert.deepEqual(parseServer("::1"), { hostname: "::1" });
  assert.deepEqual(parseServer("127.0.0.1:10587"), {
    hostname: "127.0.0.1",
    port: 10587,
  });
});

test("parseServer refuses bad ports, spaces, control characters, empty hosts", () => {
  for (
    const bad of [
      "",
      "host:0",
      "host:65536",
      "host:x",
      "host:",
      ":25",
      "a b",
      "a\r\nb",
      "[::1",
      "[::1]x",
    ]
  ) {
    assert.throws(() => parseServer(bad), UsageError, JSON.stringify(bad));
  }
});

test("parseDuration: seconds by default, ms and m suffixes, bounds", () => {
  assert.equal(parseDuration("30"), 30_000);
  assert.equal(parseDuration("2.5"), 2500);
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("2m"), 120_000);
  for (const bad of ["0", "-1", "1h", "abc", "", "100000m"]) {
    assert.throws(() => parseDuration(bad), UsageError, bad);
  }
});

test("parseCount and parseChoice", () => {
  assert.equal(parseCount("500", "--count"), 500);
  assert.throws(() => parseCount("0", "--count"), UsageError);
  assert.throws(() => parseCount("1e3", "--count"), UsageError);
  assert.equal(
    parseChoice("none", "--tls", ["starttls", "implicit", "none"]),
    "none",
  );
  assert.throws(
    () => parseChoice("implict", "--tls", ["starttls", "implicit", "none"]),
    /did you mean implicit\?/,
  );
});

test("suggest: close typos only", () => {
  assert.equal(suggest("subjct", ["subject", "server"]), "subject");
  assert.equal(suggest("xyz", ["subject", "server"]), undefined);
});

test("hasControl: C0 and DEL, spaces only when asked", () => {
  assert.equal(hasControl("plain"), false);
  assert.equal(hasControl("a b"), false);
  assert.equal(hasControl("a b", true), true);
  assert.equal(hasControl("a\u0000b"), true);
  assert.equal(hasControl("a\u007fb"), true);
});

test("parseCommand: unknown option with a hint, missing value, flag with a value", () => {
  const spec = {
    subject: { type: "string" as const },
    json: { type: "boolean" as const },
  };
  assert.deepEqual(
    parseCommand("send", ["--subject", "hi", "x"], spec).positionals,
    ["x"],
  );
  assert.throws(
    () => parseCommand("send", ["--subjct", "hi"], spec),
    /unknown option --subjct; did you mean --subject\?/,
  );
  assert.throws(
    () => parseCommand("send", ["--subject"], spec),
    /--subject needs a value/,
  );
  assert.throws(() => parseCommand("send", ["--json=yes"], spec), UsageError);
});
