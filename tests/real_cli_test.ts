/**
 * `mailwire send` against the real Postfix + Dovecot from tests/servers/
 * (issue 12's proof): a send in every TLS mode with each AUTH mechanism,
 * a bulk send of 500 with its progress captured, each failure class with
 * its exit code, a compiled binary's send, and no secret in any output.
 * Mail goes to grace@mail.test (the CLI's own mailbox); only messages
 * carrying this run's tokens are deleted. Runs in-process (`main`) and as
 * child processes of the current runtime (`deno run -A cli/mod.ts`, `bun`,
 * `node` on the compiled build).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { spawnSync } from "node:child_process";
import { EXIT } from "../cli/mod.ts";
import { allOutput, cli, cliChild } from "./fakes/cli_io.ts";
import { waitForDelivery } from "./real/env.ts";
import {
  assertNoSecret,
  ca,
  deleteMine,
  deliveredWith,
  env,
  host,
  me,
  mx,
  pop,
  pw,
  sendArgs,
  smtps,
  sub,
  tok,
  tokens,
} from "./real/cli_env.ts";
import { repoFile } from "./repo.ts";

test("send: every TLS mode with each AUTH mechanism, delivered", async () => {
  const mechs = env.mechanisms.smtp as unknown as Record<string, string[]>;
  assert.ok(
    mechs.submission.length >= 3,
    "submission offers PLAIN LOGIN CRAM-MD5",
  );
  for (
    const [mode, server, list] of [["starttls", sub, mechs.submission], [
      "implicit",
      smtps,
      mechs.smtps,
    ]] as const
  ) {
    for (const mech of list) {
      const t = tok(`${mode}-${mech}`);
      const r = await cli(
        sendArgs(
          server,
          t,
          "--tls",
          mode,
          "-u",
          me.login,
          "--auth",
          mech,
          "--transcript",
          "--body",
          `via ${mode} ${mech}`,
        ),
        { env: pw },
      );
      assert.equal(r.code, EXIT.ok, r.stderr);
      assert.match(
        r.stdout,
        new RegExp(`^accepted: ${me.address}\nserver: 250 `),
      );
      assert.match(r.stderr, new RegExp(`C: AUTH ${mech}\\b`));
      assert.match(r.stderr, /S: 235 /);
      await waitForDelivery(me, t);
    }
  }
  // tls none: the MX port, no AUTH there.
  const t = tok("none");
  const r = await cli(sendArgs(mx, t, "--tls", "none", "--transcript"));
  assert.equal(r.code, EXIT.ok, r.stderr);
  assert.doesNotMatch(r.stderr, /C: STARTTLS/);
  await waitForDelivery(me, t);
});

test("send as a child process (deno run -A cli/mod.ts / bun), password from MAILWIRE_PASSWORD, attachment", async () => {
  const t = tok("child");
  const r = await cliChild(
    sendArgs(
      sub,
      t,
      "-u",
      me.login,
      "--attach",
      repoFile("LICENSE").pathname,
      "--html",
      "<p>hi</p>",
    ),
    { env: pw },
  );
  assert.equal(r.code, EXIT.ok, r.stderr);
  const delivered = new TextDecoder().decode(await waitForDelivery(me, t));
  assert.match(delivered, /Content-Type: multipart\/mixed/);
  assert.match(delivered, /filename="?LICENSE"?/);
});

test("bulk: 500 messages with the progress captured (plain lines when piped, a bar when asked)", async () => {
  const t = tok("bulk");
  const r = await cliChild(
    sendArgs(sub, `${t} {n}/{total}`, "-u", me.login, "--count", "500"),
    { env: pw, timeoutMs: 180_000 },
  );
  assert.equal(r.code, EXIT.ok, r.stderr);
  assert.match(
    r.stdout,
    /^sent 500 of 500 messages in [\d.]+ s \([\d.]+ msg\/s\) over 1 connection\(s\): 500 accepted, 0 refused, 0 failed, 0 outcome unknown\n$/,
  );
  const lines = r.stderr.trimEnd().split("\n");
  assert.ok(lines.length >= 10 && lines.length <= 11, r.stderr);
  for (const line of lines) {
    assert.match(line, /^send: \d+% \d+\/500 msgs [\d.]+ msg\/s ETA \S+$/);
  }
  assert.match(
    lines.at(-1)!,
    /^send: 100% 500\/500 msgs [\d.]+ msg\/s ETA 0s$/,
  );
  assert.ok(!r.stderr.includes("\r"), "no bar when piped");
  console.log(`bulk progress as captured:\n${r.stderr}${r.stdout}`);
  assert.equal(
    await deliveredWith(me, t, 500, 120_000),
    500,
    "all 500 delivered",
  );

  const b = tok("bar");
  const bar = await cliChild(
    sendArgs(
      sub,
      `${b} {n}`,
      "-u",
      me.login,
      "--count",
      "20",
      "--progress",
      "bar",
    ),
    { env: pw },
  );
  assert.equal(bar.code, EXIT.ok, bar.stderr);
  assert.ok(
    bar.stderr.startsWith("\r\x1b[2Ksend ["),
    JSON.stringify(bar.stderr.slice(0, 40)),
  );
  assert.match(bar.stderr, /\[#+\] 20\/20 msgs [\d.]+ msg\/s ETA 0s\n$/);
  assert.equal(await deliveredWith(me, b, 20), 20);
  assert.ok(await deleteMine([t, b]) >= 520);
});

test("bulk: 400 messages over --connections 3, each delivered once", async () => {
  const t = tok("conns");
  const r = await cliChild(
    sendArgs(
      sub,
      `${t} {n}/{total}`,
      "-u",
      me.login,
      "--count",
      "400",
      "--connections",
      "3",
      "--progress",
      "none",
    ),
    { env: pw, timeoutMs: 180_000 },
  );
  assert.equal(r.code, EXIT.ok, r.stderr);
  // The first message goes alone; then each connection takes up to 100,
  // and another opens while messages still wait.
  const m =
    /^sent 400 of 400 messages in [\d.]+ s \(([\d.]+) msg\/s\) over (\d) connection\(s\): 400 accepted, 0 refused, 0 failed, 0 outcome unknown\n$/
      .exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.ok(Number(m[2]) >= 2 && Number(m[2]) <= 3, r.stdout);
  console.log(`bulk over --connections 3: ${r.stdout.trim()}`);
  assert.equal(await deliveredWith(me, t, 400, 120_000), 400);
  assert.ok(await deleteMine([t]) >= 400);
});

test("each failure class has its exit code", async () => {
  const bad = { MAILWIRE_PASSWORD: "wrong-password-x" };
  const cases: [string, string[], number, RegExp, Record<string, string>?][] = [
    ["usage", ["send", "--nope"], EXIT.usage, /unknown option --nope/],
    [
      "connect",
      sendArgs(`${host}:1`, "x", "--tls", "none"),
      EXIT.connect,
      /connect/,
    ],
    [
      "tls: no trusted CA",
      ["send", "-s", sub, "-f", me.address, "-t", me.address],
      EXIT.tls,
      /tls|certificate/i,
    ],
    [
      "tls: implicit on a STARTTLS port",
      sendArgs(sub, "x", "--tls", "implicit", "--timeout", "5"),
      EXIT.tls,
      /tls/i,
    ],
    [
      "auth: wrong password",
      sendArgs(sub, "x", "-u", me.login),
      EXIT.auth,
      /535/,
      bad,
    ],
    [
      "auth: no tls for credentials",
      sendArgs(mx, "x", "--tls", "none", "-u", me.login),
      EXIT.auth,
      /tls|auth/i,
      pw,
    ],
    [
      "refused: unknown user",
      [
        "send",
        "-s",
        mx,
        "--tls",
        "none",
        "-f",
        me.address,
        "-t",
        env.unknownUser,
      ],
      EXIT.refused,
      /550 5\.1\.1/,
    ],
    [
      "refused: foreign relay",
      [
        "send",
        "-s",
        mx,
        "--tls",
        "none",
        "-f",
        me.address,
        "-t",
        env.foreignRecipient,
      ],
      EXIT.refused,
      /554 5\.7\.1/,
    ],
    [
      "auth: pop3 password refused",
      ["fetch", "-s", pop, ...ca, "-u", me.login, "--list"],
      EXIT.auth,
      /AUTH/,
      bad,
    ],
    [
      "local i/o",
      [
        "fetch",
        "-s",
        pop,
        ...ca,
        "-u",
        me.login,
        "--maildir",
        "/etc/hostname/x",
      ],
      EXIT.localIo,
      /creating/,
      pw,
    ],
  ];
  for (const [name, args, code, message, environment] of cases) {
    const r = await cliChild(args, {
      env: { MAILWIRE_PASSWORD: "", ...environment },
    });
    assert.equal(r.code, code, `${name}: ${r.stderr}`);
    assert.match(r.stderr, message, name);
  }
  // A partial refusal still delivers to the others, and says so.
  const t = tok("partial");
  const partial = await cli([
    "send",
    "-s",
    mx,
    "--tls",
    "none",
    "-f",
    me.address,
    "-t",
    `${me.address},${env.unknownUser}`,
    "--subject",
    t,
  ]);
  assert.equal(partial.code, EXIT.refused, partial.stderr);
  assert.match(
    partial.stdout,
    new RegExp(`^accepted: ${me.address}\nrefused: ${env.unknownUser}: 550 `),
  );
  await waitForDelivery(me, t);
});

test("the compiled binary runs one send (bun build --compile; deno compile where its runtime is available)", async () => {
  const out = repoFile(".tmp/cli-bin/").pathname;
  const bun = spawnSync(repoFile("node_modules/.bin/bun").pathname, [
    "build",
    "--compile",
    repoFile("cli/mod.ts").pathname,
    "--outfile",
    `${out}mailwire-bun`,
  ], { encoding: "utf8" });
  assert.equal(bun.status, 0, bun.stderr);
  const t = tok("compiled");
  const r = await cliChild(sendArgs(sub, t, "-u", me.login), { env: pw }, [
    `${out}mailwire-bun`,
    [],
  ]);
  assert.equal(r.code, EXIT.ok, r.stderr);
  await waitForDelivery(me, t);
  const deno = spawnSync(repoFile("node_modules/.bin/deno").pathname, [
    "compile",
    "-A",
    "--output",
    `${out}mailwire-deno`,
    repoFile("cli/mod.ts").pathname,
  ], { encoding: "utf8", timeout: 300_000 });
  if (
    deno.status !== 0 &&
    /dns error|failed to lookup|download|denort/i.test(deno.stderr)
  ) {
    console.log(
      "deno compile: its runtime (denort) cannot be downloaded here; only the bun binary was run",
    );
    return;
  }
  assert.equal(deno.status, 0, deno.stderr);
  const d = tok("compiled-deno");
  const rd = await cliChild(sendArgs(sub, d, "-u", me.login), { env: pw }, [
    `${out}mailwire-deno`,
    [],
  ]);
  assert.equal(rd.code, EXIT.ok, rd.stderr);
  await waitForDelivery(me, d);
});

test("no secret in any output of this file", async () => {
  assertNoSecret(allOutput);
  // Leave nothing of ours in the shared mailbox.
  await deleteMine(tokens);
});
