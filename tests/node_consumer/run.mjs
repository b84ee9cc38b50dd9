// The package as a Node.js user gets it: built by scripts/build_npm.mjs the
// way JSR's npm layer ships it (JS + .d.ts, package.json "exports" and
// "engines"), installed by file path into a throwaway project under
// .tmp/node-consumer/, imported by its package name. Runs the README's Node
// snippet as written (ESM), the same send through require() (CommonJS), and
// type-checks a TypeScript consumer. Sends to the real Postfix (submission,
// STARTTLS + AUTH) and finds each message in the Maildir.
//
//   node tests/node_consumer/run.mjs     (tests/run.sh runs it)
//
// Prints "node consumer: N passed, N failed"; a missing server is a failure.
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const project = join(root, ".tmp", "node-consumer");
let passed = 0;
let failed = 0;
function record(ok, label, detail = "") {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "ok" : "FAILED"}: ${label}`);
  if (!ok && detail) console.log(detail);
}

function finish() {
  console.log(`node consumer: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

/** Waits (bounded) for a message containing `needle` in `maildir`. */
async function delivered(maildir, needle) {
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    for (const sub of ["new", "cur"]) {
      const dir = join(maildir, sub);
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir)) {
        const text = readFileSync(join(dir, name), "latin1");
        if (text.includes(needle)) return text;
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

let env;
try {
  env = JSON.parse(readFileSync(join(root, ".tmp/servers/env.json"), "utf8"));
} catch (error) {
  record(false, "real servers: .tmp/servers/env.json", String(error));
  finish();
}
const alice = env.users.find((u) => u.address === "alice@mail.test");
const carol = env.users.find((u) => u.address === "carol@mail.test");

// 1. Build and pack.
const built = spawnSync(
  process.execPath,
  [join(root, "scripts/build_npm.mjs")],
  {
    encoding: "utf8",
  },
);
const tarball = built.stdout.trim().split("\n").pop();
record(
  built.status === 0 && existsSync(tarball),
  "build the npm package",
  built.stderr,
);
if (built.status !== 0) finish();

// 2. A throwaway project that depends on it by file path, under the name
// `npx jsr add @mailwire/mailwire` gives it.
rmSync(project, { recursive: true, force: true });
mkdirSync(project, { recursive: true });
writeFileSync(
  join(project, "package.json"),
  JSON.stringify(
    {
      name: "mailwire-consumer",
      private: true,
      type: "module",
      dependencies: { "@mailwire/mailwire": `file:${tarball}` },
    },
    null,
    2,
  ),
);
const installed = spawnSync(
  "npm",
  ["install", "--offline", "--no-audit", "--no-fund", "--loglevel=error"],
  { cwd: project, encoding: "utf8" },
);
record(installed.status === 0, "npm install by file path", installed.stderr);
const pkgDir = join(project, "node_modules", "@mailwire", "mailwire");
const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
record(
  pkg.engines?.node === ">=20.16" && pkg.type === "module" &&
    pkg.exports["./smtp"]?.types === "./smtp/mod.d.ts",
  "the installed package.json: ESM, exports with types, engines node >=20.16",
  JSON.stringify({ engines: pkg.engines, type: pkg.type }),
);
const shipped = execFileSync("find", [".", "-type", "f"], {
  cwd: pkgDir,
  encoding: "utf8",
}).split("\n").filter(Boolean);
const notLibrary = shipped.filter((f) =>
  /(^|\/)tests\/|_test|fixtures|\.pem$|bench|scripts/.test(f) ||
  (/\.ts$/.test(f) && !/\.d\.ts$/.test(f))
);
record(
  notLibrary.length === 0,
  `only the library is shipped (${shipped.length} files)`,
  notLibrary.join("\n"),
);

// 3. The README's Node snippet, as written.
const readme = readFileSync(join(root, "README.md"), "utf8");
const section = readme.slice(readme.indexOf("### Node"));
const snippet = /```js\n([\s\S]*?)```/.exec(section)?.[1];
record(
  snippet !== undefined,
  "README has a Node snippet (```js under ### Node)",
);
const run = (file, tag) => {
  const to = `carol+${tag}@mail.test`;
  const result = spawnSync(process.execPath, [file], {
    cwd: project,
    encoding: "utf8",
    timeout: 60_000,
    env: {
      ...process.env,
      // The test CA, trusted the way Node users trust a private CA without
      // code (caCerts: [pem] works too).
      NODE_EXTRA_CA_CERTS: env.caFile,
      SMTP_HOST: env.host,
      SMTP_PORT: String(env.smtp.submission),
      SMTP_USER: alice.login,
      SMTP_PASSWORD: alice.password,
      MAIL_FROM: alice.address,
      MAIL_TO: to,
    },
  });
  return { result, to };
};
const tag = () =>
  `consumer${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
if (snippet) {
  writeFileSync(join(project, "send.mjs"), snippet);
  const { result, to } = run("send.mjs", tag());
  record(
    result.status === 0,
    `node ${process.version}: the README snippet (ESM, import by package name) runs`,
    result.stdout + result.stderr,
  );
  record(
    // send() composes `To: carol+tag@…` (no angle brackets): find the tag.
    (await delivered(carol.maildir, `To: ${to}`)) !== undefined,
    "the README snippet's message is delivered",
  );
}

// 4. CommonJS: require() of the ES modules (Node 20.19+ and 22.12+).
writeFileSync(
  join(project, "send.cjs"),
  `const { SmtpClient } = require("@mailwire/mailwire/smtp");
async function main() {
  const smtp = await SmtpClient.connect({
    hostname: process.env.SMTP_HOST,
    port: Number(process.env.SMTP_PORT),
    auth: { username: process.env.SMTP_USER, password: process.env.SMTP_PASSWORD },
  });
  try {
    await smtp.sendMail({
      from: process.env.MAIL_FROM,
      to: [process.env.MAIL_TO],
      data: "To: <" + process.env.MAIL_TO + ">\\r\\nSubject: from require()\\r\\n\\r\\nhi\\r\\n",
    });
  } finally {
    await smtp.quit();
  }
}
main().catch((error) => { console.error(error); process.exit(1); });
`,
);
{
  const { result, to } = run("send.cjs", tag());
  record(
    result.status === 0,
    `node ${process.version}: require("@mailwire/mailwire/smtp") works and sends`,
    result.stdout + result.stderr,
  );
  record(
    (await delivered(carol.maildir, `To: <${to}>`)) !== undefined,
    "the require() message is delivered",
  );
}

// 5. A TypeScript consumer type-checks against the shipped .d.ts.
writeFileSync(
  join(project, "check.ts"),
  `import { SmtpClient, type SmtpClientOptions } from "@mailwire/mailwire/smtp";
import { Pop3Client } from "@mailwire/mailwire/pop3";
import { type Connector, defaultConnector, TlsError } from "@mailwire/mailwire/tls";
import * as all from "@mailwire/mailwire";
const options: SmtpClientOptions = { hostname: "smtp.example.com", port: 587 };
const connector: Connector = defaultConnector;
export async function send(): Promise<number> {
  const smtp = await SmtpClient.connect({ ...options, connector });
  try {
    const { refused } = await smtp.sendMail({ from: "a@example.com", to: ["b@example.com"], data: "x" });
    return refused.size;
  } finally {
    await smtp.quit();
  }
}
export const kinds = [Pop3Client.name, TlsError.name, typeof all.SmtpClient];
`,
);
writeFileSync(
  join(project, "tsconfig.json"),
  JSON.stringify({
    compilerOptions: {
      target: "ES2022",
      lib: ["ES2022", "DOM", "ESNext.Disposable"],
      module: "nodenext",
      moduleResolution: "nodenext",
      strict: true,
      noEmit: true,
      types: [],
    },
    files: ["check.ts"],
  }),
);
const typed = spawnSync(join(root, "node_modules/.bin/tsc"), ["-p", "."], {
  cwd: project,
  encoding: "utf8",
});
record(
  typed.status === 0,
  "a TypeScript consumer type-checks against the shipped .d.ts (no @types/node needed)",
  typed.stdout + typed.stderr,
);
finish();
