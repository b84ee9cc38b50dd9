// The short run of the smuggling property harness (`npm run fuzz` runs it at 10^5 messages).
import { test } from "node:test";
import assert from "node:assert/strict";
import { fuzzSmuggling } from "./smuggling_fuzz.ts";
import { formatReport } from "./report.ts";

test("fuzz (short run): smuggling through the DATA and BDAT encoders", async () => {
  const report = await fuzzSmuggling({ inputs: 3000, seed: 0x5eed });
  console.log(formatReport(report));
  assert.equal(report.inputs, 3000);
  // Every message must pass every property: the encoders never refuse.
  assert.equal(report.accepted, 3000);
  assert.deepEqual(report.errors, {});
});
