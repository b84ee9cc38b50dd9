/**
 * `mailwire fetch` and `probe` against the real Dovecot and Postfix from
 * tests/servers/ (issue 12's proof): fetch to a Maildir interrupted (by
 * the signal and by SIGKILL) and resumed without duplicates, `.eml` files
 * named by UIDL, `--delete` (on heidi@mail.test, emptied), and probe on
 * every port checked against what the servers really offer.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { SmtpClient } from "../smtp/mod.ts";
import { parseMessage } from "../message/mod.ts";
import { EXIT } from "../cli/mod.ts";
import { allOutput, cli, cliChild } from "./fakes/cli_io.ts";
import {
  assertNoSecret,
  ca,
  deleteMine,
  deliveredWith,
  env,
  heidi,
  host,
  me,
  mx,
  pop,
  pops,
  pw,
  sendArgs,
  smtps,
  sub,
  tok,
  tokens,
} from "./real/cli_env.ts";

test("fetch: to a Maildir, interrupted in-process and by SIGKILL, resumed without duplicates", async () => {
  const t = tok("fetch");
  const seed = await cli(
    sendArgs(
      sub,
      `${t} {n}`,
      "-u",
      me.login,
      "--count",
      "12",
      "--progress",
      "none",
    ),
    { env: pw },
  );
  assert.equal(seed.code, EXIT.ok, seed.stderr);
  const dir = await mkdtemp(join(tmpdir(), "mailwire-fetch-"));
  // One large message (streamed to disk by fetch, with byte progress).
  const big = new Uint8Array(3 << 20);
  for (let i = 0; i < big.length; i += 65536) {
    crypto.getRandomValues(big.subarray(i, i + 65536));
  }
  await writeFile(join(dir, "big.bin"), big);
  const seedBig = await cli(
    sendArgs(sub, `${t} 13`, "-u", me.login, "--attach", join(dir, "big.bin")),
    { env: pw },
  );
  assert.equal(seedBig.code, EXIT.ok, seedBig.stderr);
  assert.equal(await deliveredWith(me, t, 13), 13);
  const md = join(dir, "Maildir");
  const fetchArgs = [
    "fetch",
    "-s",
    pop,
    ...ca,
    "-u",
    me.login,
    "--maildir",
    md,
    "--progress",
    "plain",
  ];
  try {
    // 1. Ctrl-C (the signal) after the first progress line: stops cleanly.
    const stop = new AbortController();
    const first = await cli(fetchArgs, {
      env: pw,
      signal: stop.signal,
      onStderr: (s) => s.startsWith("fetch: ") && stop.abort(),
    });
    assert.equal(first.code, EXIT.interrupted, first.stderr);
    assert.match(first.stdout, /interrupted, \d+ left for the next run/);
    const afterFirst = (await readdir(join(md, "new"))).length;
    assert.ok(afterFirst >= 1, "some saved before stopping");
    // 2. SIGKILL mid-run (a crash): whatever it left, the next run completes it.
    const killed = await cliChild(fetchArgs, {
      env: pw,
      killWhen: /fetch: [1-9]\d%/,
    });
    assert.ok(killed.killed || killed.code === 0, killed.stderr);
    console.log(
      `fetch child: ${
        killed.code === 137 ? "killed mid-run" : `exited ${killed.code}`
      } after:\n${killed.stderr}`,
    );
    // 3. Resume to the end.
    const resumed = await cli(fetchArgs, { env: pw });
    assert.equal(resumed.code, EXIT.ok, resumed.stderr);
    assert.match(resumed.stdout, /nothing deleted \(--keep\)/);
    // 4. No duplicates: one file per journalled UIDL, every one of ours once, nothing left in tmp/.
    const journal = (await readFile(join(md, ".mailwire-fetch.jsonl"), "utf8"))
      .trim().split("\n").slice(1)
      .map((l) => JSON.parse(l) as { uid: string; file: string });
    const uids = journal.map((e) => e.uid);
    assert.equal(new Set(uids).size, uids.length, "each UIDL journalled once");
    const files = await readdir(join(md, "new"));
    assert.equal(files.length, journal.length, "one file per saved message");
    // The killed run's half-written file (if any) was removed: its process is gone.
    assert.deepEqual(await readdir(join(md, "tmp")), []);
    const mine = [];
    for (const f of files) {
      const bytes = await readFile(join(md, "new", f));
      const text = bytes.toString("latin1");
      if (!text.includes(t)) continue;
      mine.push(/Subject: (\S+ \d+)/.exec(text)?.[1]);
      if (text.includes(`Subject: ${t} 13\r\n`)) {
        const parsed = await parseMessage(new Uint8Array(bytes));
        const got = parsed.attachments[0]?.content ?? new Uint8Array();
        assert.equal(
          Buffer.compare(got, big),
          0,
          "the large message saved intact",
        );
      }
    }
    assert.equal(mine.length, 13, "each of the 13 saved once");
    assert.equal(new Set(mine).size, 13);
    // 5. A fourth run fetches nothing; the server still has everything (--keep).
    const again = await cli(fetchArgs, { env: pw });
    assert.equal(again.code, EXIT.ok);
    assert.match(again.stdout, /^saved 0 new message\(s\)/);
    const list = await cli([
      "fetch",
      "-s",
      pop,
      ...ca,
      "-u",
      me.login,
      "--list",
      "--json",
    ], { env: pw });
    const listed = JSON.parse(list.stdout) as { uid: string }[];
    const onServer = new Set(listed.map((m) => m.uid));
    const ours = journal.filter((e) => mine.length && onServer.has(e.uid));
    assert.ok(ours.length >= 13, "nothing of ours deleted (--keep)");
    // 6. .eml files named by UIDL, over POP3S.
    const emlDir = join(dir, "eml");
    const eml = await cli([
      "fetch",
      "-s",
      pops,
      "--tls",
      "implicit",
      ...ca,
      "-u",
      me.login,
      "--eml-dir",
      emlDir,
      "--limit",
      "3",
    ], { env: pw });
    assert.equal(eml.code, EXIT.ok, eml.stderr);
    const names = (await readdir(emlDir)).filter((n) => !n.startsWith("."));
    assert.equal(names.length, 3);
    for (const n of names) assert.match(n, /^[0-9a-f]{16}\.eml$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await deleteMine([t]);
  }
});

test("fetch --delete: every message saved and verified, then deleted, committed by QUIT", async () => {
  const t = tok("delete");
  const hpw = { MAILWIRE_PASSWORD: heidi.password };
  const seed = await cli(
    [
      "send",
      "-s",
      sub,
      ...ca,
      "-u",
      me.login,
      "-f",
      me.address,
      "-t",
      heidi.address,
      "--subject",
      `${t} {n}`,
      "--count",
      "5",
      "--progress",
      "none",
    ],
    { env: pw },
  );
  assert.equal(seed.code, EXIT.ok, seed.stderr);
  assert.equal(await deliveredWith(heidi, t, 5), 5);
  const dir = await mkdtemp(join(tmpdir(), "mailwire-fetch-"));
  try {
    const before = JSON.parse(
      (await cli([
        "fetch",
        "-s",
        pop,
        ...ca,
        "-u",
        heidi.login,
        "--list",
        "--json",
      ], { env: hpw })).stdout,
    );
    const r = await cli([
      "fetch",
      "-s",
      pop,
      ...ca,
      "-u",
      heidi.login,
      "--maildir",
      dir,
      "--delete",
    ], { env: hpw });
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `^saved ${before.length} new message\\(s\\).*; ${before.length} deleted from the server\n$`,
      ),
    );
    assert.equal((await readdir(join(dir, "new"))).length, before.length);
    const list = await cli([
      "fetch",
      "-s",
      pop,
      ...ca,
      "-u",
      heidi.login,
      "--list",
      "--json",
    ], { env: hpw });
    const after = JSON.parse(list.stdout) as { uid: string }[];
    const saved = new Set((before as { uid: string }[]).map((m) => m.uid));
    assert.ok(
      after.every((m) => !saved.has(m.uid)),
      "every saved message is gone from the server",
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** The probe's JSON for `target`. */
async function probeJson(target: string, ...extra: string[]) {
  const r = await cli(["probe", target, ...ca, "--json", ...extra]);
  return { code: r.code, json: JSON.parse(r.stdout), stderr: r.stderr };
}

/** What the library itself sees on an SMTP port (after TLS unless none). */
async function smtpFeatures(
  port: number,
  tls: "starttls" | "implicit" | "none",
) {
  const c = await SmtpClient.connect({
    hostname: host,
    port,
    tls,
    caCerts: [readFileSync(env.caFile, "utf8")],
    servername: env.servername,
  });
  const f = [...c.features].map(([k, v]) => (v ? `${k} ${v}` : k));
  await c.quit();
  return f;
}

test("probe: every port, checked against what the servers really offer", async () => {
  const m = env.mechanisms as unknown as {
    smtp: Record<string, string[]>;
    pop3: { sasl: string[]; strictBeforeTls: string[] };
  };
  const sans = (env as unknown as { altNames: string[] }).altNames;
  const expectTls = (
    j: {
      tls: {
        verified: boolean;
        protocol: string;
        chain: { subjectAltNames: string[] }[];
      };
    },
  ) => {
    assert.equal(j.tls.verified, true);
    assert.match(j.tls.protocol, /^TLSv1\.[23]$/);
    // IPv6 as each runtime spells it (Bun: 0:0:0:0:0:0:0:1), compared canonically.
    const canonical = (n: string) =>
      n.includes(":") ? new URL(`http://[${n}]/`).hostname : n;
    assert.deepEqual(
      j.tls.chain[0].subjectAltNames.map((n) =>
        canonical(n.replace(/^(DNS|IP):/, ""))
      )
        .sort(),
      sans.map(canonical).sort(),
    );
    assert.equal(j.tls.chain.length, 2, "leaf and the test CA");
  };

  const mxr = await probeJson(mx);
  assert.equal(mxr.code, EXIT.ok, mxr.stderr);
  assert.equal(mxr.json.protocol, "smtp");
  assert.equal(mxr.json.detectedBy, "greeting");
  assert.equal(mxr.json.greetingCode, 220);
  assert.deepEqual(mxr.json.greeting, ["mail.test ESMTP mailwire-test"]);
  assert.equal(mxr.json.starttlsOffered, true);
  assert.deepEqual(
    mxr.json.before.capabilities,
    await smtpFeatures(env.smtp.mx, "none"),
  );
  assert.deepEqual(
    mxr.json.after.capabilities,
    await smtpFeatures(env.smtp.mx, "starttls"),
  );
  assert.deepEqual(mxr.json.after.auth, m.smtp.mx);
  assert.equal(mxr.json.extensions.SIZE, String(env.maxMessageSize));
  for (const ext of ["PIPELINING", "CHUNKING", "SMTPUTF8", "DSN", "8BITMIME"]) {
    assert.equal(mxr.json.extensions[ext], true, ext);
  }
  expectTls(mxr.json);
  assert.match(
    mxr.json.verdict.text,
    /^OK: STARTTLS offered \(TLSv1\.\d\), certificate valid for localhost, mail\.test, 127\.0\.0\.1 \(\+2 more\) until \d{4}-\d\d-\d\d, no AUTH$/,
  );

  const subr = await probeJson(sub);
  assert.equal(subr.json.protocol, "submission");
  assert.deepEqual(subr.json.before.auth, m.smtp.submissionBeforeTls);
  assert.deepEqual(subr.json.after.auth, m.smtp.submission);
  assert.deepEqual(
    subr.json.after.capabilities,
    await smtpFeatures(env.smtp.submission, "starttls"),
  );
  expectTls(subr.json);
  assert.match(
    subr.json.verdict.text,
    /^OK: STARTTLS offered .*, AUTH only after TLS \(PLAIN LOGIN CRAM-MD5\)$/,
  );

  const sr = await probeJson(smtps);
  assert.equal(sr.json.protocol, "smtps");
  assert.equal(sr.json.before, undefined);
  assert.deepEqual(sr.json.after.auth, m.smtp.smtps);
  assert.deepEqual(
    sr.json.after.capabilities,
    await smtpFeatures(env.smtp.smtps, "implicit"),
  );
  expectTls(sr.json);
  assert.equal(sr.json.tls.mode, "implicit");

  const lr = await probeJson(`${host}:${env.lmtp.tcp}`);
  assert.equal(lr.json.protocol, "lmtp");
  assert.deepEqual(lr.json.before.capabilities, [
    "8BITMIME",
    "CHUNKING",
    "ENHANCEDSTATUSCODES",
    "PIPELINING",
    "STARTTLS",
  ]);
  assert.equal(lr.json.extensions.SIZE, false);
  expectTls(lr.json);

  const pr = await probeJson(pop);
  assert.equal(pr.json.protocol, "pop3");
  assert.deepEqual(pr.json.before.auth, m.pop3.sasl);
  assert.equal(pr.json.before.user, env.pop3PlainAuthBeforeTls);
  assert.deepEqual(pr.json.after.auth, m.pop3.sasl);
  assert.ok(pr.json.before.capabilities.includes("STLS"));
  assert.ok(!pr.json.after.capabilities.includes("STLS"));
  expectTls(pr.json);
  assert.equal(
    pr.json.verdict.level,
    "warn",
    "Dovecot allows plaintext login before STLS from 127.0.0.1",
  );

  const strict = await probeJson(
    `${env.pop3Strict!.host}:${env.pop3Strict!.plain}`,
  );
  assert.deepEqual(strict.json.before.auth, m.pop3.strictBeforeTls);
  assert.equal(strict.json.before.user, false);
  assert.equal(strict.json.after.user, true);
  assert.equal(strict.json.verdict.level, "ok");

  const psr = await probeJson(pops);
  assert.equal(psr.json.protocol, "pop3s");
  assert.deepEqual(psr.json.after.auth, m.pop3.sasl);
  expectTls(psr.json);

  // The port alone decides when it is a well-known one; --protocol overrides.
  const forced = await probeJson(mx, "--protocol", "smtp");
  assert.equal(forced.json.detectedBy, "flag");
});

test("probe: without the CA the chain is still shown and the verdict fails (exit 4)", async () => {
  const r = await cli(["probe", sub, "--servername", env.servername]);
  assert.equal(r.code, EXIT.tls, r.stderr);
  assert.match(r.stdout, /certificate 1: CN=localhost/);
  assert.match(r.stdout, /NOT verified for localhost/);
  assert.match(
    r.stdout,
    /\nverdict: FAIL: STARTTLS offered .*certificate NOT valid for localhost: not trusted/,
  );
  const text = await cli(["probe", sub, ...ca]);
  console.log(`probe output:\n${text.stdout}`);
});

test("no secret in any output of this file", async () => {
  assertNoSecret(allOutput);
  // Leave nothing of ours in the shared mailbox.
  await deleteMine(tokens);
});
