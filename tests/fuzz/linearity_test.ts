// The short run of the linearity harness: time per byte at 1 MiB within 3 times that at 1 KiB, for every parser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CASES, formatFigure, measureLinearity } from "./linearity.ts";

test("linearity (short run): every parser's time per byte is flat from 1 KiB to 1 MiB", async () => {
  // Medians of 3 interleaved runs per size, best of up to 5 rounds (a
  // loaded 2-core machine); a super-linear parser would be hundreds of
  // times slower per byte at 1 MiB, not 3.
  const figures = await measureLinearity(CASES, { samples: 3, work: 1 << 19 });
  for (const f of figures) console.log(formatFigure(f));
  assert.equal(figures.length, CASES.length);
  for (const f of figures) {
    assert.ok(f.ratio < 3, formatFigure(f));
  }
});
