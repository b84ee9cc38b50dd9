/**
 * `mailwire send` and `fetch` against the scriptable fake servers of
 * tests/fakes/, for what the real Postfix and Dovecot never do: XOAUTH2
 * with a token command, a connection lost after the data (outcome
 * unknown), a broken reply, a disconnect in the middle of a bulk send, a
 * POP3 server with hostile UIDLs, and a local write failure before
 * deletion. The CLI runs in-process (`main`) against servers on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXIT } from "../cli/mod.ts";
import { allOutput, cli } from "./fakes/cli_io.ts";
import { smtpFake } from "./fakes/smtp_fake.ts";
import { startFake } from "./fakes/pop3_fake.ts";
import { repoFile } from "./repo.ts";

const ca = [
  "--ca",
  repoFile("tests/fixtures/ca.pem").pathname,
  "--servername",
  "localhost",
];
const TOKEN = "ya29.fake-access-token-0123456789";

function send(port: number, ...extra: string[]): string[] {
  return [
    "send",
    "-s",
    `127.0.0.1:${port}`,
    "-f",
    "me@example.com",
    "-t",
    "you@example.com",
    "--timeout",
    "5",
    ...extra,
  ];
}

test("XOAUTH2: the token command's output is sent as the bearer token, never printed", async () => {
  await using fake = await smtpFake({
    implicitTls: true,
    features: ["PIPELINING", "AUTH XOAUTH2 PLAIN"],
  });
  const r = await cli(
    send(
      fake.port,
      "--tls",
      "implicit",
      ...ca,
      "-u",
      "me@example.com",
      "--xoauth2-token-cmd",
      `echo ${TOKEN}`,
      "--transcript",
    ),
  );
  assert.equal(r.code, EXIT.ok, r.stderr);
  const auth = fake.commands.find((c) => c.startsWith("AUTH XOAUTH2 "));
  assert.ok(auth, fake.commands.join("\n"));
  assert.equal(
    atob(auth.split(" ")[2]),
    `user=me@example.com\x01auth=Bearer ${TOKEN}\x01\x01`,
  );
  assert.equal(fake.messages.length, 1);
  assert.ok(!(r.stdout + r.stderr).includes(TOKEN), r.stderr);
  assert.ok(
    !(r.stdout + r.stderr).includes(auth.split(" ")[2]),
    "nor its base64",
  );
});

test("a connection lost after the data: exit 7 (outcome unknown), never resent", async () => {
  await using fake = await smtpFake({
    features: ["PIPELINING"],
    hook: (line) => (line === "." ? "destroy" : undefined),
  });
  const r = await cli(send(fake.port, "--tls", "none"));
  assert.equal(r.code, EXIT.outcomeUnknown, r.stderr);
  assert.match(r.stderr, /it may have been delivered/);
  assert.equal(fake.messages.length, 1, "sent once");
  // In bulk: the run stops there; nothing is sent twice.
  await using again = await smtpFake({
    features: ["PIPELINING"],
    hook: (line) => (line === "." ? "destroy" : undefined),
  });
  const bulk = await cli(
    send(again.port, "--tls", "none", "--count", "5", "--progress", "none"),
  );
  assert.equal(bulk.code, EXIT.outcomeUnknown, bulk.stderr);
  assert.match(
    bulk.stdout,
    /sent 1 of 5 messages .*: 0 accepted, 0 refused, 0 failed, 1 outcome unknown, 4 not sent\n$/,
  );
  assert.equal(again.messages.length, 1);
});

test("a reply the protocol does not allow: exit 8", async () => {
  await using fake = await smtpFake({
    hook: (
      line,
    ) => (line.startsWith("EHLO") ? "250-fake\r\n999 what\r\n" : undefined),
  });
  const r = await cli(send(fake.port, "--tls", "none"));
  assert.equal(r.code, EXIT.protocol, r.stderr);
});

test("bulk: a disconnect before a message's data reconnects and sends it, none lost or doubled", async () => {
  let mails = 0;
  await using fake = await smtpFake({
    features: ["PIPELINING"],
    hook: (
      line,
    ) => (line.startsWith("MAIL") && ++mails === 3 ? "close" : undefined),
  });
  const r = await cli(
    send(
      fake.port,
      "--tls",
      "none",
      "--count",
      "6",
      "--subject",
      "n{n}",
      "--progress",
      "none",
    ),
  );
  assert.equal(r.code, EXIT.ok, r.stderr);
  assert.match(
    r.stdout,
    /sent 6 of 6 messages .* over 2 connection\(s\): 6 accepted, 0 refused, 0 failed, 0 outcome unknown\n$/,
  );
  const subjects = fake.messages.map((m) =>
    /^Subject: (n\d)\r$/m.exec(m.data)?.[1]
  ).sort();
  assert.deepEqual(subjects, ["n1", "n2", "n3", "n4", "n5", "n6"]);
});

test("bulk: refused recipients are counted and the run goes on (exit 6)", async () => {
  await using fake = await smtpFake({
    features: ["PIPELINING"],
    hook: (
      line,
    ) => (line.includes("bad@") ? "550 5.1.1 no such user\r\n" : undefined),
  });
  const dir = await mkdtemp(join(tmpdir(), "mailwire-rcpts-"));
  try {
    const { writeFile } = await import("node:fs/promises");
    await writeFile(
      join(dir, "list"),
      "# test\na@example.com\nbad@example.com\nb@example.com\n",
    );
    const r = await cli([
      "send",
      "-s",
      `127.0.0.1:${fake.port}`,
      "--tls",
      "none",
      "-f",
      "me@example.com",
      "--recipients",
      join(dir, "list"),
      "--progress",
      "none",
    ]);
    assert.equal(r.code, EXIT.refused, r.stderr);
    assert.match(
      r.stdout,
      /sent 3 of 3 messages .*: 2 accepted, 1 refused, 0 failed, 0 outcome unknown\n$/,
    );
    assert.match(
      r.stderr,
      /^message 2: all 1 recipient\(s\) refused: 550 5\.1\.1 no such user/m,
    );
    // With PIPELINING + BDAT the refused message's chunk still reaches the server (RFC 3030), with no recipient.
    const delivered = fake.messages.filter((m) => m.to.length > 0);
    assert.deepEqual(delivered.map((m) => /^To: (\S+)\r$/m.exec(m.data)?.[1]), [
      "a@example.com",
      "b@example.com",
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("fetch --delete against a fake: deletions only for verified saves, committed by QUIT; hostile UIDLs make safe names", async () => {
  const messages = [
    "Subject: one\r\n\r\n.dot line\r\n",
    "Subject: two\r\n\r\nb\r\n",
    "Subject: three\r\n\r\nc\r\n",
  ];
  const uids = ["../../evil", "a/b\\c:d", "AbC"];
  await using fake = await startFake({
    messages,
    capa: ["USER", "UIDL", "PIPELINING"],
    onCommand: (line) => {
      if (line === "UIDL") {
        return `+OK\r\n${
          uids.map((u, i) => `${i + 1} ${u}\r\n`).join("")
        }.\r\n`;
      }
      return undefined;
    },
  });
  const dir = await mkdtemp(join(tmpdir(), "mailwire-fake-fetch-"));
  try {
    const args = [
      "fetch",
      "-s",
      `127.0.0.1:${fake.port}`,
      "--tls",
      "none",
      "--allow-insecure-auth",
      "-u",
      "tim",
      "--eml-dir",
      dir,
      "--delete",
      "--progress",
      "none",
    ];
    const r = await cli(args, { env: { MAILWIRE_PASSWORD: "secret" } });
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.match(r.stderr, /warning: --allow-insecure-auth/);
    assert.match(
      r.stdout,
      /^saved 3 new message\(s\).*; 3 deleted from the server\n$/,
    );
    assert.deepEqual(fake.committed, [1, 2, 3]);
    const names = (await readdir(dir)).filter((n) => !n.startsWith(".")).sort();
    assert.equal(names.length, 3);
    for (const n of names) assert.doesNotMatch(n, /[/\\:]/);
    const contents = await Promise.all(
      names.map((n) => readFile(join(dir, n), "utf8")),
    );
    assert.deepEqual(
      contents.sort(),
      [...messages].sort(),
      "saved byte for byte, dots unstuffed",
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("fetch: a local write failure exits 9 and deletes nothing", async () => {
  await using fake = await startFake({
    messages: ["Subject: x\r\n\r\ny\r\n"],
    capa: ["USER", "UIDL", "PIPELINING"],
  });
  const r = await cli(
    [
      "fetch",
      "-s",
      `127.0.0.1:${fake.port}`,
      "--tls",
      "none",
      "--allow-insecure-auth",
      "-u",
      "tim",
      "--maildir",
      "/dev/null/inbox",
      "--delete",
    ],
    { env: { MAILWIRE_PASSWORD: "secret" } },
  );
  assert.equal(r.code, EXIT.localIo, r.stderr);
  assert.deepEqual(fake.committed, []);
});

test("Ctrl-C during a single send aborts it at once: exit 130", async () => {
  await using fake = await smtpFake({ greeting: "" }); // never greets
  const stop = new AbortController();
  setTimeout(() => stop.abort(new Error("interrupted")), 200);
  const started = Date.now();
  const r = await cli(send(fake.port, "--tls", "none", "--timeout", "20"), {
    signal: stop.signal,
  });
  assert.equal(r.code, EXIT.interrupted, r.stderr);
  assert.ok(Date.now() - started < 10_000, "did not wait for the deadline");
});

test("no secret in any output of this file", () => {
  for (const out of allOutput) {
    assert.ok(!out.includes(TOKEN), out);
    assert.ok(
      !/\bsecret\b/.test(out.replace(/--password-\w+|no secret/g, "")),
      out,
    );
  }
});
