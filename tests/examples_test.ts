/**
 * The examples run as a user would run them, against the real Postfix and
 * Dovecot: examples/deno_script.ts sends a composed message with an
 * attachment, examples/pop3_sync.ts fetches it into a directory (and, run
 * again, fetches nothing new). Runs the Deno examples with Deno whichever
 * runtime runs the test; the Bun example (a pool behind an HTTP server)
 * with Bun.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { repoFile } from "./repo.ts";
import { realEnv, token } from "./real/env.ts";
import { parseMessage } from "../message/parse.ts";

const env = realEnv();
const frank = env.users.find((u) => u.address === "frank@mail.test");
const deno = fileURLToPath(repoFile("node_modules/.bin/deno"));
const root = fileURLToPath(repoFile("."));

function run(args: string[], vars: Record<string, string>) {
  const r = spawnSync(deno, args, {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1", ...vars },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout ?? "", err: r.stderr ?? "" };
}

test("examples: deno_script.ts sends, pop3_sync.ts fetches it once", async () => {
  assert.ok(frank, "tests/servers/start.sh defines frank@mail.test");
  const dir = mkdtempSync(join(tmpdir(), "mailwire-examples-"));
  const mark = token("example");
  const attachment = join(dir, "note.txt");
  writeFileSync(attachment, `attached ${mark}\n`);
  const sent = run([
    "run",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "examples/deno_script.ts",
    frank.address,
    attachment,
  ], {
    SMTP_HOST: env.host,
    SMTP_PORT: String(env.smtp.submission),
    SMTP_CA_FILE: env.caFile,
    SMTP_USER: frank.login,
    SMTP_PASSWORD: frank.password,
  });
  assert.equal(sent.code, 0, sent.err);
  assert.equal(sent.out.trim(), `sent to ${frank.address}`);
  assert.ok(
    !sent.out.includes(frank.password) && !sent.err.includes(frank.password),
  );

  const box = join(dir, "mail");
  const sync = () =>
    run([
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "examples/pop3_sync.ts",
      box,
    ], {
      POP3_HOST: env.host,
      POP3_PORT: String(env.pop3.plain),
      POP3_CA_FILE: env.caFile,
      POP3_USER: frank.login,
      POP3_PASSWORD: frank.password,
    });
  // Delivery through Postfix → Dovecot LMTP takes a moment.
  let found: string | undefined;
  for (let i = 0; i < 50 && !found; i++) {
    const first = sync();
    assert.equal(first.code, 0, first.err);
    for (const f of readdirSync(box).filter((f) => f.endsWith(".eml"))) {
      const parsed = await parseMessage(readFileSync(join(box, f)));
      const text = new TextDecoder().decode(parsed.attachments[0]?.content);
      if (text === `attached ${mark}\n`) found = f;
    }
    if (!found) spawnSync("sleep", ["0.1"]);
  }
  assert.ok(found, "the sent message was fetched into the directory");
  const raw = readFileSync(join(box, found!), "utf8");
  assert.match(raw, /^Message-ID: </m);
  assert.match(raw, /^Date: /m);
  assert.match(raw, /^Subject: hello from Deno/m);
  const again = sync();
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /^0 new message\(s\)$/m);
});
