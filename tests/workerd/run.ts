// Test-only: the workerd suite, run by tests/run.sh with Bun (bun tests/workerd/run.ts).
//
// 1. Bundles examples/worker.ts as the README says, asserts that it names no
//    node: module and reports its size.
// 2. Runs, with `workerd test` on a generated config and WITHOUT nodejs_compat:
//    the shared connector cases against cloudflareConnector (server halves
//    here, in this process, behind a small HTTP control server), and a round
//    trip through the real Postfix and Dovecot.
// 3. Serves examples/worker.ts with its own config (`workerd serve`), sends
//    one message through it over HTTP and finds it in the Maildir.
// Prints "workerd: N passed, N failed" and exits non-zero on any failure. A
// missing workerd binary or missing real servers is a failure, never a skip.

import { spawn, spawnSync } from "node:child_process";
import { Buffer } from "node:buffer";
import {
  copyFileSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { repoFile } from "../repo.ts";
import { realCa, realEnv, token, waitForDelivery } from "../real/env.ts";
import * as kit from "../fakes/tls_servers.ts";
import { connectorCases, type Served } from "../../tls/_test_cases.ts";
import { cloudflareCases } from "./cloudflare_cases.ts";
import { bundle, nodeSpecifiers } from "./bundle.ts";

const root = fileURLToPath(repoFile("."));
const out = fileURLToPath(repoFile(".tmp/workerd/"));
const workerd = `${root}node_modules/.bin/workerd`;
const bun = `${root}node_modules/.bin/bun`;
let passed = 0;
let failed = 0;
const failures: string[] = [];

function record(ok: boolean, label: string, detail = ""): void {
  if (ok) passed++;
  else {
    failed++;
    failures.push(label);
  }
  console.log(`${ok ? "ok" : "FAILED"}: ${label}${detail ? ` ${detail}` : ""}`);
}

/** Runs a command; resolves with its exit code and output (bounded in time). */
function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } =
    {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(
      () => child.kill("SIGKILL"),
      options.timeoutMs ?? 300_000,
    );
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ code: -1, output: `${output}\n${error}` });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}example`, { recursive: true });

// --- 1. The Workers example bundle, exactly as the README builds it.
const exampleJs = `${out}example/worker.js`;
{
  const built = await run(bun, [
    "build",
    "--target=browser",
    "--format=esm",
    "--external",
    "cloudflare:sockets",
    "examples/worker.ts",
    "--outfile",
    exampleJs,
  ], { cwd: root });
  record(
    built.code === 0,
    "bun build examples/worker.ts",
    built.code === 0 ? "" : built.output,
  );
  const code = readFileSync(exampleJs, "utf8");
  const specifiers = nodeSpecifiers(code);
  const gzip = Bun.gzipSync(new TextEncoder().encode(code)).length;
  record(
    specifiers.length === 0,
    "the Workers example bundle names no node: module",
    specifiers.length
      ? JSON.stringify(specifiers)
      : `(${code.length} bytes, ${gzip} gzipped)`,
  );
  record(
    /from\s*"cloudflare:sockets"/.test(code),
    "the bundle imports cloudflare:sockets, left external",
  );
}

// Every entry point, bundled for the browser target: no node: module either.
for (
  const entry of [
    "mod.ts",
    "smtp/mod.ts",
    "pop3/mod.ts",
    "tls/mod.ts",
    "auth/mod.ts",
  ]
) {
  const code = await bundle(
    fileURLToPath(repoFile(entry)),
    `${out}entry-${entry.replaceAll("/", "-")}.js`,
  );
  const specifiers = nodeSpecifiers(code);
  record(
    specifiers.length === 0,
    `a browser bundle of ${entry} names no node: module`,
    specifiers.length ? JSON.stringify(specifiers) : `(${code.length} bytes)`,
  );
}

// --- 2. Worker bundles of the test workers (node:assert shimmed).
for (const name of ["suite_worker", "real_worker", "dkim_worker"]) {
  const code = await bundle(
    fileURLToPath(repoFile(`tests/workerd/${name}.ts`)),
    `${out}${name}.js`,
  );
  const specifiers = nodeSpecifiers(code);
  record(
    specifiers.length === 0,
    `${name} bundle names no node: module`,
    specifiers.length ? JSON.stringify(specifiers) : "",
  );
}

// --- The control server: the server halves of the cases, in this process.
const cases = new Map(
  [...connectorCases, ...cloudflareCases].map((c) => [c.name, c]),
);
const running = new Map<number, Served>();
let nextId = 1;
const readBody = (request: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let body = "";
    request.on("data", (d) => (body += d));
    request.on("end", () => resolve(body));
  });
const control = createServer(async (request, response) => {
  const reply = (status: number, json: unknown) => {
    response.writeHead(status, { "content-type": "application/json" });
    response.end(JSON.stringify(json));
  };
  try {
    const body = JSON.parse(await readBody(request) || "{}");
    if (request.url === "/serve") {
      const case_ = cases.get(body.name);
      if (!case_) return reply(404, { error: `no case ${body.name}` });
      const served = await case_.serve(kit);
      const id = nextId++;
      running.set(id, served);
      return reply(200, {
        id,
        port: served.port,
        path: served.path,
        info: served.info,
      });
    }
    const served = running.get(body.id);
    if (!served) return reply(404, { error: `no running case ${body.id}` });
    if (request.url === "/observe") {
      const ask = served.observe?.[body.name];
      if (!ask) return reply(404, { error: `no observation ${body.name}` });
      return reply(200, { value: await ask() });
    }
    if (request.url === "/close") {
      running.delete(body.id);
      await served.close();
      return reply(200, {});
    }
    reply(404, { error: "unknown request" });
  } catch (error) {
    reply(500, { error: String(error) });
  }
});
await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
const controlUrl = `http://127.0.0.1:${
  (control.address() as AddressInfo).port
}`;

// --- The real servers (a missing env.json throws: a failure, not a skip).
const env = realEnv();
const user = (address: string) => {
  const found = env.users.find((u) => u.address === address);
  if (!found) throw new Error(`no user ${address} in env.json`);
  return found;
};
const sender = user("alice@mail.test");
// carol: no other suite deletes her mail; the worker deletes only its own.
const recipient = user("carol@mail.test");
const real = {
  host: env.host,
  servername: env.servername,
  smtp: { submission: env.smtp.submission, smtps: env.smtp.smtps },
  pop3: env.pop3,
  sender: {
    address: sender.address,
    login: sender.login,
    password: sender.password,
  },
  recipient: {
    address: recipient.address,
    login: recipient.login,
    password: recipient.password,
  },
};
writeFileSync(`${out}fixtures-ca.pem`, kit.certs.ca);
writeFileSync(`${out}servers-ca.pem`, realCa(env));

// --- The generated config: no compatibilityFlags at all (no nodejs_compat).
const text = (value: string) => JSON.stringify(value);
const worker = (module: string, bindings: string, outbound: string) =>
  `(modules = [(name = "${module}.js", esModule = embed "${module}.js")], ` +
  `compatibilityDate = "2025-09-01", globalOutbound = "${outbound}", bindings = [${bindings}])`;
const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "suite-trusting", worker = ${
  worker(
    "suite_worker",
    `(name = "CONTROL", text = ${
      text(controlUrl)
    }), (name = "TRUST", text = "test-ca")`,
    "trusting",
  )
}),
    (name = "suite-untrusting", worker = ${
  worker(
    "suite_worker",
    `(name = "CONTROL", text = ${
      text(controlUrl)
    }), (name = "TRUST", text = "default")`,
    "untrusting",
  )
}),
    (name = "real-servers", worker = ${
  worker(
    "real_worker",
    `(name = "REAL", text = ${text(JSON.stringify(real))})`,
    "trusting",
  )
}),
    (name = "dkim", worker = ${worker("dkim_worker", "", "untrusting")}),
    (name = "trusting", network = (allow = ["local"], tlsOptions = (trustedCertificates = [ embed "fixtures-ca.pem", embed "servers-ca.pem" ]))),
    (name = "untrusting", network = (allow = ["local"])),
  ],
);
`;
writeFileSync(`${out}config.capnp`, config);
record(
  !/compatibilityFlags|nodejs_compat/.test(config),
  "the workerd config sets no compatibility flag",
);

const tested = await run(workerd, ["test", `${out}config.capnp`], {
  timeoutMs: 600_000,
});
writeFileSync(`${out}workerd-test.log`, tested.output);
const lines = tested.output.split("\n");
let cfPassed = 0;
let skipped = 0;
for (const line of lines) {
  const m = /mailwire-(case|real) (PASS|FAIL|SKIP) (.*)$/.exec(line);
  if (!m) continue;
  if (m[2] === "SKIP") {
    skipped++;
    console.log(`declared not runnable in workerd: ${m[3]}`);
  } else {
    record(m[2] === "PASS", `workerd ${m[1]}: ${m[3]}`);
    if (m[2] === "PASS") cfPassed++;
  }
}
// DKIM signatures made in workerd, verified by an independent verifier
// (dkimpy, python3-dkim) with the key record served locally.
let dkimChecked = 0;
for (const line of lines) {
  const m = /mailwire-dkim (\S+) (\S+) (\S+) (\S+)$/.exec(line);
  if (!m) continue;
  const [, algorithm, canon, keyRecord, message] = m;
  const verdict = spawnSync("/usr/bin/python3", [
    fileURLToPath(repoFile("tests/fixtures/messages/dkim_verify.py")),
    "sel._domainkey.example.com",
    atob(keyRecord),
  ], { input: Buffer.from(message, "base64") });
  const out = `${verdict.stdout}${verdict.stderr}`.trim();
  record(
    out === "pass",
    `workerd dkim: ${algorithm} ${canon} verified by dkimpy`,
    out === "pass" ? "" : out,
  );
  dkimChecked++;
}
record(
  dkimChecked === 8,
  "workerd dkim: 8 signed messages printed",
  `(${dkimChecked})`,
);
for (
  const service of [
    "suite-trusting",
    "suite-untrusting",
    "real-servers",
    "dkim",
  ]
) {
  record(
    new RegExp(`\\[ PASS \\] ${service}\\b`).test(tested.output),
    `workerd test: ${service}`,
  );
}
if (tested.code !== 0) {
  record(false, `workerd test exit code ${tested.code}`);
  console.log(
    lines.filter((l) => /FAIL|error|Error/.test(l)).slice(0, 40).join("\n"),
  );
}
for (const served of running.values()) await served.close();
control.close();

// --- 3. The example, served by workerd with its own config, over HTTP.
{
  const dir = `${out}example/`;
  copyFileSync(
    fileURLToPath(repoFile("examples/worker.capnp")),
    `${dir}worker.capnp`,
  );
  copyFileSync(env.caFile, `${dir}ca.pem`);
  const port = await kit.closedPort();
  const subject = token("workerd-example");
  const secret = crypto.randomUUID();
  const child = spawn(workerd, [
    "serve",
    `${dir}worker.capnp`,
    "--socket-addr",
    `http=127.0.0.1:${port}`,
  ], {
    env: {
      ...process.env,
      SMTP_HOST: env.host,
      SMTP_PORT: String(env.smtp.submission),
      SMTP_USER: sender.login,
      SMTP_PASSWORD: sender.password,
      MAIL_FROM: sender.address,
      MAIL_TO: recipient.address,
      SEND_TOKEN: secret,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  try {
    const url = `http://127.0.0.1:${port}/send`;
    let answer: Response | undefined;
    for (let i = 0; i < 100 && !answer; i++) {
      answer = await fetch(url, { method: "POST", body: "{}" }).catch(() =>
        undefined
      );
      if (!answer) await new Promise((r) => setTimeout(r, 100));
    }
    record(
      answer?.status === 401,
      "example: a request without the token is refused (401)",
    );
    const sent = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}` },
      body: JSON.stringify({ subject, text: "from the workerd example" }),
    });
    const result = await sent.text();
    record(
      sent.status === 200 && JSON.parse(result).sent === true,
      "example: POST /send sends over STARTTLS + AUTH",
      sent.status === 200 ? "" : `${sent.status} ${result} ${log}`,
    );
    // Dovecot's Maildir files end lines with LF.
    const delivered = new TextDecoder().decode(
      await waitForDelivery(recipient, subject),
    )
      .replaceAll("\r\n", "\n");
    record(
      delivered.includes(`Subject: ${subject}\n`) &&
        delivered.includes("\n\nfrom the workerd example\n"),
      "example: the message is in the recipient's Maildir",
    );
  } catch (error) {
    record(false, "example", `${error} ${log}`);
  } finally {
    child.kill("SIGTERM");
  }
}

console.log(
  `\nworkerd: cloudflareConnector ran ${cfPassed} case(s) in workerd, ${skipped} declared not runnable`,
);
if (failures.length) console.log(`failed: ${failures.join("; ")}`);
console.log(`workerd: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
