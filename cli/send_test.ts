import assert from "node:assert/strict";
import { test } from "node:test";
import { addressList, headerArg, recipientsFile } from "./send.ts";
import { EXIT } from "./exit.ts";
import { cli } from "../tests/fakes/cli_io.ts";
import { parseMessage } from "../message/mod.ts";

test("addressList: commas split, except inside quotes and angle brackets", () => {
  assert.deepEqual(
    addressList(["a@x.test, b@x.test", '"Lee, Ann" <ann@x.test>']),
    [
      "a@x.test",
      "b@x.test",
      '"Lee, Ann" <ann@x.test>',
    ],
  );
  assert.deepEqual(addressList([" , "]), []);
});

test("headerArg and recipientsFile", () => {
  assert.deepEqual(headerArg("X-Test: a: b"), ["X-Test", "a: b"]);
  assert.throws(() => headerArg("no colon"), /Name: value/);
  assert.deepEqual(recipientsFile("# list\na@x.test\r\n\n  b@x.test  \n"), [
    "a@x.test",
    "b@x.test",
  ]);
});

test("--dry-run prints the envelope and a composed message (Bcc only in the envelope)", async () => {
  const r = await cli([
    "send",
    "--dry-run",
    "--from",
    "Ann <ann@example.com>",
    "--to",
    "bob@example.com",
    "--bcc",
    "audit@example.com",
    "--subject",
    "Grüße",
    "--body",
    "hello",
    "--header",
    "X-Test: 1",
  ]);
  assert.equal(r.code, EXIT.ok, r.stderr);
  const lines = r.stdout.split("\n");
  assert.equal(lines[0], "# envelope from: <ann@example.com>");
  assert.equal(
    lines[1],
    "# envelope to: <bob@example.com>, <audit@example.com>",
  );
  const message = r.stdout.slice(r.stdout.indexOf("#\n") + 2);
  assert.doesNotMatch(message, /audit@example\.com/);
  const parsed = await parseMessage(new TextEncoder().encode(message));
  assert.equal(parsed.subject, "Grüße");
  assert.equal(parsed.text?.trim(), "hello");
  assert.match(message, /^Message-ID: </m);
  assert.match(message, /^X-Test: 1\r$/m);
});

test("--dry-run with --eml from stdin: the envelope from the headers", async () => {
  const eml =
    "From: a@example.com\r\nTo: b@example.com\r\nCc: c@example.com\r\nSubject: raw\r\n\r\nhi\r\n";
  const r = await cli(["send", "--dry-run", "--eml", "-"], { stdin: eml });
  assert.equal(r.code, EXIT.ok, r.stderr);
  assert.match(
    r.stdout,
    /^# envelope from: <a@example\.com>\n# envelope to: <b@example\.com>, <c@example\.com>\n/,
  );
  assert.ok(r.stdout.endsWith(eml));
});

test("bulk dry run numbers the messages", async () => {
  const r = await cli([
    "send",
    "--dry-run",
    "-f",
    "a@example.com",
    "-t",
    "b@example.com",
    "--count",
    "3",
    "--subject",
    "n {n}/{total}",
  ]);
  assert.equal(r.code, EXIT.ok, r.stderr);
  assert.match(r.stdout, /# message 1 of 3/);
  assert.match(r.stdout, /^Subject: n 1\/3\r$/m);
});

test("usage errors exit 2 with one line naming the problem", async () => {
  const cases: [string[], RegExp][] = [
    [["sned"], /unknown command "sned"; did you mean "send"\?/],
    [
      ["send", "--subjekt", "x"],
      /unknown option --subjekt; did you mean --subject\?/,
    ],
    [
      ["send", "--from", "a@example.com", "--to", "b@example.com"],
      /send needs --server HOST\[:PORT\]/,
    ],
    [["send", "-s", "h", "--to", "b@example.com"], /send needs --from/],
    [
      ["send", "-s", "h:99999", "-f", "a@example.com", "-t", "b@example.com"],
      /port must be a number/,
    ],
    [[
      "send",
      "-s",
      "h",
      "-f",
      "a@example.com",
      "-t",
      "b@example.com",
      "--tls",
      "ssl",
    ], /--tls must be one of/],
    [[
      "send",
      "-s",
      "h",
      "-f",
      "a@example.com",
      "-t",
      "b@example.com",
      "--body-file",
      "/nonexistent/x",
    ], /cannot read --body-file \/nonexistent\/x: no such file/],
    [[
      "send",
      "-s",
      "h",
      "-f",
      "a@example.com",
      "-t",
      "b@example.com",
      "--auth",
      "PLAIN",
    ], /--auth needs --user/],
    [[
      "send",
      "-s",
      "h",
      "-f",
      "a@example.com",
      "-t",
      "b@example.com",
      "-u",
      "me",
    ], /no password for me: set MAILWIRE_PASSWORD/],
    [[
      "send",
      "-s",
      "h",
      "-f",
      "a@example.com",
      "-t",
      "b@example.com",
      "--count",
      "0",
    ], /--count must be a whole number/],
    [
      ["send", "-s", "h", "-f", "a@example.com", "--subject", "x"],
      /send needs a recipient/,
    ],
    [[
      "send",
      "-s",
      "h",
      "-f",
      "a@example.com",
      "-t",
      "b@example.com",
      "--timeout",
      "soon",
    ], /--timeout must be a duration/],
    [
      ["fetch", "-s", "h", "-u", "me"],
      /fetch needs --maildir DIR or --eml-dir DIR/,
    ],
    [["probe"], /probe needs host\[:port\]/],
    [["probe", "h", "--protocol", "imap"], /--protocol must be one of/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args);
    assert.equal(r.code, EXIT.usage, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  }
});

test("help texts: main, each command, with the exit-code table", async () => {
  const main = await cli(["--help"]);
  assert.equal(main.code, EXIT.ok);
  assert.match(main.stdout, /Exit codes:\n {4}0 {2}success\n/);
  assert.match(main.stdout, /\n {4}7 {2}outcome unknown/);
  for (const command of ["send", "fetch", "probe"]) {
    const r = await cli([command, "--help"]);
    assert.equal(r.code, EXIT.ok);
    assert.match(r.stdout, new RegExp(`^mailwire ${command}: `));
    assert.match(r.stdout, /--transcript/);
    assert.match(r.stdout, /--timeout/);
  }
  assert.equal((await cli([])).code, EXIT.usage);
  assert.match((await cli(["--version"])).stdout, /^mailwire \d+\.\d+\.\d+\n$/);
});

test("a password on argv warns and is never printed; one from the prompt neither", async () => {
  const r = await cli([
    "send",
    "-s",
    "127.0.0.1:1",
    "--tls",
    "none",
    "-f",
    "a@example.com",
    "-t",
    "b@example.com",
    "-u",
    "me",
    "--password-insecure-argv",
    "hunter2-argv",
    "--timeout",
    "2",
  ]);
  assert.match(r.stderr, /warning: a password on the command line is visible/);
  assert.equal(r.code, EXIT.connect, r.stderr);
  assert.ok(!(r.stdout + r.stderr).includes("hunter2-argv"));
  const prompted = await cli(
    [
      "send",
      "-s",
      "127.0.0.1:1",
      "-f",
      "a@example.com",
      "-t",
      "b@example.com",
      "-u",
      "me",
      "--timeout",
      "2",
    ],
    { stdinTTY: true, secret: "hunter2-prompt" },
  );
  assert.equal(prompted.code, EXIT.connect, prompted.stderr);
  assert.ok(!(prompted.stdout + prompted.stderr).includes("hunter2-prompt"));
});

test("the token command's output is the token; a failing command is an auth failure", async () => {
  const failing = await cli([
    "send",
    "-s",
    "127.0.0.1:1",
    "-f",
    "a@example.com",
    "-t",
    "b@example.com",
    "-u",
    "me",
    "--xoauth2-token-cmd",
    "exit 3",
  ]);
  assert.equal(failing.code, EXIT.auth, failing.stderr);
  assert.match(failing.stderr, /the token command failed: exit status 3/);
  const empty = await cli([
    "send",
    "-s",
    "127.0.0.1:1",
    "-f",
    "a@example.com",
    "-t",
    "b@example.com",
    "-u",
    "me",
    "--xoauth2-token-cmd",
    "true",
  ]);
  assert.equal(empty.code, EXIT.auth);
  assert.match(empty.stderr, /printed no token/);
});
