// The hostile catalogue's size and coverage: counted by protocol, printed, at least 120, every issue 8 item covered.
import assert from "node:assert/strict";
import { test } from "../fakes/test.ts";
import { countByProtocol, type Scenario } from "../fakes/hostile_kit.ts";
import { catalogue } from "./catalogue.ts";

const all: Scenario[] = Object.values(catalogue).flat();

test("hostile catalogue: at least 120 scenarios over SMTP, LMTP (TCP, unix) and POP3, printed by protocol", () => {
  const counts = countByProtocol(all);
  const distinct = new Set(
    all.map((s) =>
      `${s.protocol === "pop3" ? "pop3" : "smtp-family"}: ${s.name}`
    ),
  );
  console.log("  hostile scenarios by protocol:");
  for (const [protocol, n] of Object.entries(counts)) {
    console.log(`    ${protocol.padEnd(10)} ${String(n).padStart(4)}`);
  }
  console.log(
    `    ${"total".padEnd(10)} ${
      String(all.length).padStart(4)
    } (${distinct.size} distinct cases; the shared SMTP-family ones run over each transport)`,
  );
  assert.ok(all.length >= 120, `${all.length} scenarios`);
  for (const n of Object.values(counts)) assert.ok(n >= 20);
  // Each file's scenarios really are of its protocol.
  for (const [file, list] of Object.entries(catalogue)) {
    for (const s of list) assert.equal(s.protocol, file, s.name);
  }
});

test("hostile catalogue: names are unique per protocol and every scenario says what it covers", () => {
  const seen = new Set<string>();
  for (const s of all) {
    const key = `${s.protocol}: ${s.name}`;
    assert.ok(!seen.has(key), `duplicate: ${key}`);
    seen.add(key);
    assert.ok(s.covers.length > 0, key);
    assert.ok(s.within > 0 && Number.isFinite(s.within), key);
  }
});

test("hostile catalogue: every issue 8 item (1-11) has a scenario", () => {
  const covered = new Set(all.map((s) => s.covers));
  const items = [
    "#1",
    "#2",
    "#3",
    "#4",
    "#5",
    "#6",
    "#7",
    "#8",
    "#9",
    "#10",
    "#11",
  ];
  for (const item of items) {
    assert.ok(
      [...covered].some((c) => c.includes(`issue 8 ${item}`)),
      `issue 8 ${item}`,
    );
  }
});
