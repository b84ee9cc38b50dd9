// The short run of the listing fuzz harness (`npm run fuzz` runs it at 10^6 inputs: tests/fuzz/main.ts).
import { test } from "node:test";
import { fuzzListings } from "./listing_fuzz.ts";
import { checkShortRun } from "./report.ts";

test("fuzz (short run): listing", async () => {
  checkShortRun(await fuzzListings({ inputs: 8000, seed: 0x5eed }), 8000, [
    "ProtocolError",
  ]);
});
