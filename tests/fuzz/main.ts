// `npm run fuzz`: every fuzz and property harness at full scale, then the linearity figures; prints the counts.
//
// Usage: deno run -A tests/fuzz/main.ts [--scale 0.1] [--seed N]
// (also `bun tests/fuzz/main.ts`, or node on the compiled .tmp/node-dist/tests/fuzz/main.js).
import { argv, exit } from "node:process";
import { fuzzSmtpReply } from "./smtp_reply_fuzz.ts";
import { fuzzPop3 } from "./pop3_fuzz.ts";
import { fuzzListings } from "./listing_fuzz.ts";
import { fuzzSasl } from "./sasl_fuzz.ts";
import { fuzzSmuggling } from "./smuggling_fuzz.ts";
import { formatReport, type FuzzReport } from "./report.ts";
import { formatFigure, measureLinearity } from "./linearity.ts";

function option(name: string, fallback: number): number {
  const i = argv.indexOf(name);
  const value = i === -1 ? fallback : Number(argv[i + 1]);
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number`);
  }
  return value;
}

const scale = option("--scale", 1);
const seed = option("--seed", 20_260_601);
const MILLION = Math.round(1_000_000 * scale);

const runs: [string, () => Promise<FuzzReport> | FuzzReport][] = [
  ["smtp reply", () => fuzzSmtpReply({ inputs: MILLION, seed })],
  ["pop3", () => fuzzPop3({ inputs: MILLION, seed: seed + 1 })],
  ["listings", () => fuzzListings({ inputs: MILLION, seed: seed + 2 })],
  ["sasl", () => fuzzSasl({ inputs: MILLION, seed: seed + 3 })],
  [
    "smuggling",
    () =>
      fuzzSmuggling({ inputs: Math.round(100_000 * scale), seed: seed + 4 }),
  ],
];

let failed = false;
const t0 = performance.now();
console.log(`fuzz: seed ${seed}, scale ${scale}`);
for (const [name, run] of runs) {
  try {
    console.log(formatReport(await run()));
  } catch (err) {
    failed = true;
    console.log(`FAILED ${name}: ${err instanceof Error ? err.stack : err}`);
  }
}
console.log("linearity (ns per byte, 1 KiB against 1 MiB; must stay under 3):");
for (const f of await measureLinearity()) {
  console.log(`  ${formatFigure(f)}`);
  if (f.ratio >= 3) failed = true;
}
console.log(
  `fuzz: ${failed ? "FAILED" : "ok"} in ${
    Math.round((performance.now() - t0) / 1000)
  } s`,
);
exit(failed ? 1 : 0);
