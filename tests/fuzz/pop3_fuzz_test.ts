// The short run of the pop3 fuzz harness (`npm run fuzz` runs it at 10^6 inputs: tests/fuzz/main.ts).
import { test } from "node:test";
import { fuzzPop3 } from "./pop3_fuzz.ts";
import { checkShortRun } from "./report.ts";

test("fuzz (short run): pop3", async () => {
  checkShortRun(await fuzzPop3({ inputs: 10000, seed: 0x5eed }), 10000, [
    "ProtocolError",
    "ConnectionClosedError",
  ]);
});
