import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { repoFile } from "./repo.ts";

const read = (name: string) => JSON.parse(readFileSync(repoFile(name), "utf8"));
const root = fileURLToPath(repoFile("."));
const onDeno = typeof (globalThis as { Deno?: unknown }).Deno === "object";
// The publish checks spawn deno themselves: one run (under deno test) is enough.
const denoOnly = onDeno ? false : "spawns deno publish; runs under deno test";

test("deno.json and jsr.json agree on name, version, license, exports and publish", () => {
  const deno = read("deno.json");
  const jsr = read("jsr.json");
  assert.equal(deno.name, "@mailwire/mailwire");
  for (const key of ["name", "version", "license", "exports", "publish"]) {
    assert.deepEqual(jsr[key], deno[key], key);
  }
  assert.match(deno.version, /^\d+\.\d+\.\d+$/);
  assert.deepEqual(Object.keys(deno.exports).sort(), [
    ".",
    "./auth",
    "./cli",
    "./message",
    "./pop3",
    "./smtp",
    "./tls",
  ]);
});

test("package.json: no runtime dependencies, the toolchain pinned, engines", () => {
  const pkg = read("package.json");
  assert.equal(pkg.dependencies, undefined);
  assert.equal(pkg.peerDependencies, undefined);
  for (
    const dev of ["deno", "bun", "typescript", "fast-check", "workerd", "jsr"]
  ) {
    assert.match(
      pkg.devDependencies[dev] ?? "",
      /^\d/,
      `devDependency ${dev} pinned`,
    );
  }
  assert.equal(pkg.engines?.node, ">=20.16");
  assert.ok(pkg.scripts.demo && pkg.scripts.test);
});

test("every exported entry point exists and documents itself as a module", () => {
  const deno = read("deno.json");
  for (const path of Object.values(deno.exports) as string[]) {
    const text = readFileSync(repoFile(path), "utf8");
    assert.match(text, /@module/, `${path} has @module docs`);
  }
});

test("CHANGELOG.md has an entry for this version", () => {
  const { version } = read("deno.json");
  const changelog = readFileSync(repoFile("CHANGELOG.md"), "utf8");
  assert.match(
    changelog,
    new RegExp(`^## ${version.replaceAll(".", "\\.")}\\b`, "m"),
  );
});

/** The files `deno publish --dry-run` would publish under `config`. */
function publishedFiles(config: string): string[] {
  const result = spawnSync(
    `${root}node_modules/.bin/deno`,
    ["publish", "--dry-run", "--allow-dirty", "--config", config],
    { cwd: root, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } },
  );
  const output = result.stdout + result.stderr;
  assert.equal(result.status, 0, output);
  assert.match(output, /Success Dry run complete/);
  const files: string[] = [];
  for (const match of output.matchAll(/^\s+file:\/\/(\S+) \(/gm)) {
    files.push(match[1].slice(root.length));
  }
  return files.sort();
}

test(
  "deno publish --dry-run publishes only the library, the same under deno.json and jsr.json",
  { skip: denoOnly },
  () => {
    const deno = read("deno.json");
    const withDeno = publishedFiles("deno.json");
    const withJsr = publishedFiles("jsr.json");
    assert.deepEqual(
      withJsr.filter((f) => f !== "jsr.json"),
      withDeno.filter((f) => f !== "jsr.json"),
    );
    const libraryDirs = /^(smtp|pop3|auth|tls|io|message|cli)\//;
    const topLevel = [
      "LICENSE",
      "README.md",
      "CHANGELOG.md",
      "SECURITY.md",
      "deno.json",
      "jsr.json",
      "mod.ts",
      "errors.ts",
    ];
    for (const file of [...withDeno, ...withJsr]) {
      assert.ok(
        topLevel.includes(file) || libraryDirs.test(file),
        `not library: ${file}`,
      );
      assert.doesNotMatch(
        file,
        /_test|(^|\/)tests?\/|fixtures|\.pem$|^bench\/|^scripts\/|^examples\//,
      );
    }
    for (const path of Object.values(deno.exports) as string[]) {
      assert.ok(withDeno.includes(path.slice(2)), `${path} is published`);
    }
    for (
      const file of ["README.md", "LICENSE", "CHANGELOG.md", "SECURITY.md"]
    ) {
      assert.ok(withDeno.includes(file), `${file} is published`);
    }
  },
);

test("the publish workflow: OIDC on a version tag; its dry run passes", {
  skip: denoOnly,
}, () => {
  const workflow = readFileSync(
    repoFile(".github/workflows/publish.yml"),
    "utf8",
  );
  assert.match(workflow, /^on:\n {2}push:\n {4}tags: \["v\*"\]$/m);
  assert.match(workflow, /^ {2}id-token: write\b/m);
  assert.match(workflow, /^\s+run: npx jsr publish$/m);
  const dryRun = /- name: dry run\n\s+run: (.+)\n/.exec(workflow)?.[1];
  assert.equal(dryRun, "npx jsr publish --dry-run");
  const [command, ...args] = dryRun.split(" ");
  // Outside a release checkout the work tree may hold uncommitted changes.
  const result = spawnSync(command, [...args, "--allow-dirty"], {
    cwd: root,
    encoding: "utf8",
    env: {
      ...process.env,
      NO_COLOR: "1",
      DENO_BIN_PATH: `${root}node_modules/deno/deno`,
    },
  });
  const output = result.stdout + result.stderr;
  assert.equal(result.status, 0, output);
  assert.match(
    output,
    /Simulating publish of @mailwire\/mailwire@\d+\.\d+\.\d+ with files/,
  );
  assert.match(output, /Success Dry run complete/);
});
