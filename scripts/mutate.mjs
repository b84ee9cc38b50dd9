// Mutation check (`npm run mutate`): deliberate bugs, one per safety rule and per issue-8 fix, each applied to a scratch
// copy of the repository; the tests that guard the rule must fail for every one. Prints a table, exits 1 if any survives.
//
//   node scripts/mutate.mjs            every mutant
//   node scripts/mutate.mjs --list     the mutants, without running anything
//   node scripts/mutate.mjs NAME...    only these (by name)
//
// The copy lives in .tmp/mutate/ (files git tracks or would track, node_modules linked). Tests run with
// `deno test --no-check --fail-fast` (a type error can't count as a kill) or, for the node:tls connector, `bun test`;
// the unmutated copy must pass the same tests first. Each run is bounded (RUN_LIMIT_MS): a run that hangs counts as
// killed, and says so.

import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MUTANTS } from "./mutants.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SCRATCH = join(ROOT, ".tmp", "mutate", "repo");
const RUN_LIMIT_MS = 180_000;

/** Files to copy: what git tracks, plus untracked files it doesn't ignore. */
function repoFiles() {
  const r = spawnSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`);
  return r.stdout.split("\0").filter((f) => f && existsSync(join(ROOT, f)));
}

function makeScratch() {
  rmSync(SCRATCH, { recursive: true, force: true });
  mkdirSync(SCRATCH, { recursive: true });
  for (const f of repoFiles()) {
    mkdirSync(dirname(join(SCRATCH, f)), { recursive: true });
    cpSync(join(ROOT, f), join(SCRATCH, f));
  }
  symlinkSync(join(ROOT, "node_modules"), join(SCRATCH, "node_modules"));
  const servers = join(ROOT, ".tmp", "servers");
  if (existsSync(servers)) {
    mkdirSync(join(SCRATCH, ".tmp"), { recursive: true });
    symlinkSync(realpathSync(servers), join(SCRATCH, ".tmp", "servers"));
  }
}

function run(m) {
  const bin = join(ROOT, "node_modules", ".bin");
  const [cmd, args] = m.runner === "bun"
    ? [join(bin, "bun"), [
      "test",
      "--timeout",
      "30000",
      ...(m.filter ? ["-t", m.filter] : []),
      ...m.tests,
    ]]
    : [join(bin, "deno"), [
      "test",
      "-A",
      "--no-check",
      "--fail-fast",
      ...m.tests,
    ]];
  const start = Date.now();
  const r = spawnSync(cmd, args, {
    cwd: SCRATCH,
    encoding: "utf8",
    timeout: RUN_LIMIT_MS,
    maxBuffer: 256 << 20,
    env: { ...process.env, NO_COLOR: "1" },
  });
  const seconds = (Date.now() - start) / 1000;
  const output = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  return {
    ok: r.status === 0,
    hung: r.error?.code === "ETIMEDOUT",
    seconds,
    output,
  };
}

/** The first failing test's name in a run's output, for the table. */
function firstFailure(output) {
  const deno = /^(.+?) \.\.\. FAILED/m.exec(output);
  if (deno) return deno[1].trim();
  const bun = /^\(fail\) (.+?)(?: \[[\d.]+m?s\])?$/m.exec(output);
  return bun ? bun[1].trim() : "";
}

function apply(m) {
  // One file, or several for a rule enforced in more than one place.
  const restores = [];
  try {
    for (const { file, edits } of [m, ...(m.more ?? [])]) {
      restores.push(applyTo(m.name, file, edits));
    }
  } catch (err) {
    for (const r of restores) r();
    throw err;
  }
  return () => {
    for (const r of restores) r();
  };
}

function applyTo(name, file, edits) {
  const path = join(SCRATCH, file);
  const original = readFileSync(path, "utf8");
  let text = original;
  for (const [find, replace] of edits) {
    const count = text.split(find).length - 1;
    if (count !== 1) {
      throw new Error(
        `${name}: ${
          JSON.stringify(find.slice(0, 60))
        } occurs ${count} times in ${file} (expected once)`,
      );
    }
    text = text.replace(find, () => replace);
  }
  writeFileSync(path, text);
  return () => writeFileSync(path, original);
}

function pad(s, n) {
  s = String(s);
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

function main(argv) {
  if (argv.includes("--list")) {
    for (const m of MUTANTS) {
      console.log(`${pad(m.name, 42)} ${pad(m.file, 22)} ${m.rule}`);
    }
    return 0;
  }
  const wanted = argv.filter((a) => !a.startsWith("--"));
  const unknown = wanted.filter((w) => !MUTANTS.some((m) => m.name === w));
  if (unknown.length) {
    console.error(`unknown mutant(s): ${unknown.join(", ")} (see --list)`);
    return 2;
  }
  const mutants = wanted.length
    ? MUTANTS.filter((m) => wanted.includes(m.name))
    : MUTANTS;
  const t0 = Date.now();
  console.log(`mutate: scratch copy in ${SCRATCH}`);
  makeScratch();

  // Baseline: every selected test set passes unmutated, or a kill would mean nothing.
  const sets = new Map();
  for (const m of mutants) {
    const key = JSON.stringify([m.runner ?? "deno", m.filter ?? "", m.tests]);
    if (!sets.has(key)) sets.set(key, m);
  }
  for (const m of sets.values()) {
    const r = run(m);
    console.log(
      `baseline ${r.ok ? "ok    " : "FAILED"} ${
        pad(r.seconds.toFixed(1), 6)
      }s ${m.runner ?? "deno"} ${m.tests.join(" ")}`,
    );
    if (!r.ok) {
      console.error(r.output.slice(-4000));
      console.error(
        "mutate: the unmutated copy fails these tests; fix that first",
      );
      return 1;
    }
  }

  const rows = [];
  for (const m of mutants) {
    const restore = apply(m);
    let r;
    try {
      r = run(m);
    } finally {
      restore();
    }
    const killed = !r.ok;
    rows.push({
      m,
      killed,
      r,
      by: killed
        ? (r.hung
          ? `(run exceeded ${RUN_LIMIT_MS / 1000} s)`
          : firstFailure(r.output))
        : "",
    });
    console.log(
      `${killed ? "killed  " : "SURVIVED"} ${
        pad(r.seconds.toFixed(1), 6)
      }s ${m.name}`,
    );
  }

  console.log("");
  console.log(
    `| mutant | file | tests run | killed | seconds | first failing test |`,
  );
  console.log(`|---|---|---|---|---|---|`);
  for (const { m, killed, r, by } of rows) {
    const tests = `${m.runner === "bun" ? `bun -t "${m.filter}" ` : ""}${
      m.tests.join(", ")
    }`;
    console.log(
      `| ${m.name} | ${m.file} | ${tests} | ${killed ? "yes" : "**no**"} | ${
        r.seconds.toFixed(1)
      } | ${by.replaceAll("|", "/")} |`,
    );
  }
  const survived = rows.filter((x) => !x.killed);
  console.log("");
  console.log(
    `mutate: ${
      rows.length - survived.length
    } of ${rows.length} mutants killed in ${
      ((Date.now() - t0) / 1000).toFixed(0)
    } s`,
  );
  if (survived.length) {
    console.log(
      `mutate: SURVIVED: ${survived.map((x) => x.m.name).join(", ")}`,
    );
    return 1;
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
