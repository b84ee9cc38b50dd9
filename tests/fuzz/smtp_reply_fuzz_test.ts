// The short run of the smtp reply fuzz harness (`npm run fuzz` runs it at 10^6 inputs: tests/fuzz/main.ts).
import { test } from "node:test";
import { fuzzSmtpReply } from "./smtp_reply_fuzz.ts";
import { checkShortRun } from "./report.ts";

test("fuzz (short run): smtp reply", async () => {
  checkShortRun(await fuzzSmtpReply({ inputs: 10000, seed: 0x5eed }), 10000, [
    "ProtocolError",
    "ConnectionClosedError",
  ]);
});
