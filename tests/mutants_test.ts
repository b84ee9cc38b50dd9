// The mutation list (scripts/mutants.mjs) stays valid: every edit applies exactly once to today's code, its tests
// exist, and every safety rule and issue-8 item has a mutant. Running them is `npm run mutate`.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { fileURLToPath } from "node:url";
import { repoFile } from "./repo.ts";
import { test } from "./fakes/test.ts";

interface Mutant {
  name: string;
  rule: string;
  file: string;
  edits: [string, string][];
  /** Further files, for a rule enforced in more than one place. */
  more?: { file: string; edits: [string, string][] }[];
  tests: string[];
  runner?: "bun";
  filter?: string;
}

const { MUTANTS } = await import(
  pathToFileURL(fileURLToPath(repoFile("scripts/mutants.mjs"))).href
) as { MUTANTS: Mutant[] };

test("mutants: every edit applies exactly once, and its tests exist", () => {
  const names = new Set<string>();
  for (const m of MUTANTS) {
    assert.ok(!names.has(m.name), `duplicate ${m.name}`);
    names.add(m.name);
    for (const { file, edits } of [m, ...(m.more ?? [])]) {
      const text = readFileSync(repoFile(file), "utf8");
      let mutated = text;
      for (const [find, replace] of edits) {
        assert.equal(
          mutated.split(find).length - 1,
          1,
          `${m.name}: ${JSON.stringify(find.slice(0, 60))} once in ${file}`,
        );
        mutated = mutated.replace(find, () => replace);
      }
      assert.notEqual(mutated, text, `${m.name} changes ${file}`);
    }
    assert.ok(m.tests.length > 0, m.name);
    for (const t of m.tests) {
      assert.ok(existsSync(repoFile(t)), `${m.name}: ${t}`);
    }
  }
});

test("mutants: one per safety rule and per issue 8 item", () => {
  const rules = MUTANTS.map((m) => m.rule).join("\n");
  for (
    const rule of [
      "verify certificates",
      "before a TLS handshake",
      "TLS before AUTH",
      "CR/LF/NUL",
      "dot-stuffing",
      "CRLF normalisation",
      "cap every reply",
      "caps count entries",
      "whole-call deadlines",
      "outcome unknown",
      "never fold a delivery",
      "redact credentials",
      "strict options",
    ]
  ) assert.ok(rules.includes(rule), rule);
  for (let item = 1; item <= 11; item++) {
    assert.ok(rules.includes(`issue 8 #${item}:`), `issue 8 #${item}`);
  }
});
