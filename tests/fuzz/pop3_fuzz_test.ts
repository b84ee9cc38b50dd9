// The short run of the pop3 fuzz harness (`npm run fuzz` runs it at 10^6 inputs; tests/fuzz/main.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { fuzzPop3 } from "./pop3_fuzz.ts";
import { formatReport } from "./report.ts";

test("fuzz (short run): pop3", async () => {
  const report = await fuzzPop3({ inputs: 10000, seed: 0x5eed });
  console.log(formatReport(report));
  assert.equal(report.inputs, 10000);
  assert.ok(report.accepted > 0, "some inputs are accepted");
  for (const kind of ["ProtocolError", "ConnectionClosedError"] as string[]) {
    assert.ok(
      report.errors[kind] > 0,
      `no ${kind} seen: the inputs miss a path`,
    );
  }
});
