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
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { repoFile } from "./repo.ts";
import { realEnv, token } from "./real/env.ts";
import { parseMessage } from "../message/parse.ts";
import { Pop3Client } from "../pop3/mod.ts";

const env = realEnv();
const frank = env.users.find((u) => u.address === "frank@mail.test");
const deno = fileURLToPath(repoFile("node_modules/.bin/deno"));
const bun = fileURLToPath(repoFile("node_modules/.bin/bun"));
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

/**
 * Start examples/bun_server.ts under Bun; `listening` resolves with its
 * port once it listens (undefined if it exits first), `exited` with its
 * exit code. Under Deno through Deno.Command: Deno's node:child_process
 * reports a child that handled SIGTERM and exited 0 as killed by SIGTERM.
 */
function bunServer(vars: Record<string, string>) {
  const childEnv = { ...process.env, NO_COLOR: "1", PORT: "0", ...vars };
  let out = "";
  let onOut: () => void = () => {};
  const append = (text: string) => {
    out += text;
    onOut();
  };
  let exited: Promise<number | null>;
  let kill: (signal: "SIGTERM" | "SIGKILL") => void;
  const D = (globalThis as {
    Deno?: {
      Command: new (cmd: string, o: unknown) => {
        spawn(): {
          stdout: ReadableStream<Uint8Array>;
          stderr: ReadableStream<Uint8Array>;
          status: Promise<{ code: number; signal: string | null }>;
          kill(s: string): void;
        };
      };
    };
  }).Deno;
  if (D) {
    const child = new D.Command(bun, {
      args: ["examples/bun_server.ts"],
      cwd: root,
      env: childEnv,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      for await (const chunk of stream) append(dec.decode(chunk));
    };
    const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]);
    exited = child.status.then(async (s) => {
      await pumped;
      return s.signal ? null : s.code;
    });
    kill = (signal) => {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    };
  } else {
    const child = spawn(bun, ["examples/bun_server.ts"], {
      cwd: root,
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (b: Buffer) => append(b.toString()));
    child.stderr.on("data", (b: Buffer) => append(b.toString()));
    exited = new Promise((resolve) =>
      child.on("close", (code) => resolve(code))
    );
    kill = (signal) => child.kill(signal);
  }
  const listening = new Promise<number | undefined>((resolve) => {
    onOut = () => {
      const m = /listening on (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    void exited.then(() => resolve(undefined));
  });
  const killer = setTimeout(() => kill("SIGKILL"), 60_000);
  return {
    listening,
    exited: exited.finally(() => clearTimeout(killer)),
    stop: () => kill("SIGTERM"),
    output: () => out,
  };
}

const frankVars = () => ({
  SMTP_HOST: env.host,
  SMTP_PORT: String(env.smtp.submission),
  SMTP_CA_FILE: env.caFile,
  SMTP_USER: frank!.login,
  SMTP_PASSWORD: frank!.password,
  CONTACT_TO: frank!.address,
});

test("examples: bun_server.ts relays form posts through one pool; SIGTERM drains and exits 0", async () => {
  assert.ok(frank, "tests/servers/start.sh defines frank@mail.test");
  const server = bunServer(frankVars());
  try {
    const port = await server.listening;
    assert.ok(port, server.output());
    const mark = token("bun-form");
    const post = (fields: Record<string, string>) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.set(k, v);
      return fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: form });
    };
    // Three at once: one pool, its connections reused.
    const replies = await Promise.all(
      [1, 2, 3].map((i) =>
        post({
          name: `Ana ${i}`,
          email: "ana@example.org",
          message: `${mark} #${i}`,
        })
      ),
    );
    const ids: string[] = [];
    for (const r of replies) {
      const text = await r.text();
      assert.equal(r.status, 200, text);
      ids.push(/^sent (<[^>]+>)$/m.exec(text)![1]);
    }
    // Bad input is the visitor's error, nothing sent.
    const bad = await post({
      name: "x",
      email: "not\r\nan address",
      message: "m",
    });
    assert.equal(bad.status, 400, await bad.text());
    const empty = await post({ name: "x" });
    assert.equal(empty.status, 400, await empty.text());
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 405);

    // Each arrived once, with its Message-ID, Reply-To and text.
    const found = new Map<string, number>();
    for (let i = 0; i < 50 && found.size < 3; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      await using pop = await Pop3Client.connect({
        hostname: env.host,
        port: env.pop3.pop3s,
        tls: "implicit",
        caCerts: [readFileSync(env.caFile, "utf8")],
        servername: env.servername,
        auth: { username: frank.login, password: frank.password },
      });
      found.clear();
      for (const { id } of await pop.list()) {
        const m = await parseMessage(await pop.retr(id));
        if (!m.text?.startsWith(mark)) continue;
        found.set(m.header("message-id")!, id);
        assert.equal(m.replyTo[0]?.address, "ana@example.org");
        assert.match(m.subject ?? "", /^contact form: Ana \d$/);
      }
      if (found.size === 3) await pop.deleMany([...found.values()]);
      await pop.quit();
    }
    assert.deepEqual([...found.keys()].sort(), [...ids].sort());
  } finally {
    server.stop();
  }
  assert.equal(await server.exited, 0, server.output());
  assert.ok(!server.output().includes(frank.password));
});

test("examples: bun_server.ts with a wrong password stops before it listens (exit 1)", async () => {
  assert.ok(frank, "tests/servers/start.sh defines frank@mail.test");
  const server = bunServer({ ...frankVars(), SMTP_PASSWORD: "wrong-password" });
  assert.equal(await server.listening, undefined, server.output());
  assert.equal(await server.exited, 1, server.output());
  assert.match(server.output(), /^cannot send mail: .*auth/im);
  assert.ok(!server.output().includes("wrong-password"));
});
