// The short run of the sasl fuzz harness (`npm run fuzz` runs it at 10^6 inputs: tests/fuzz/main.ts).
import { test } from "node:test";
import { fuzzSasl } from "./sasl_fuzz.ts";
import { checkShortRun } from "./report.ts";

test("fuzz (short run): sasl", async () => {
  checkShortRun(await fuzzSasl({ inputs: 10000, seed: 0x5eed }), 10000, [
    "AuthError",
    "Rejected",
  ]);
});
