import assert from "node:assert/strict";
import { test } from "node:test";
import {
  bar,
  describe,
  formatBytes,
  formatEta,
  Progress,
  progressMode,
  rates,
} from "./progress.ts";
import type { CliWriter } from "./io.ts";

function sink(isTTY: boolean): CliWriter & { text: string } {
  const w = {
    text: "",
    isTTY,
    columns: 80,
    write(c: string | Uint8Array) {
      w.text += String(c);
    },
  };
  return w;
}

test("formatBytes and formatEta", () => {
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(50 * 1024 * 1024), "50 MiB");
  assert.equal(formatEta(42), "42s");
  assert.equal(formatEta(185), "3m05s");
  assert.equal(formatEta(3720), "1h02m");
  assert.equal(formatEta(Infinity), "?");
});

test("rates: messages per second, ETA by items or by bytes", () => {
  const r = rates({ done: 250, total: 500, elapsed: 2000 });
  assert.equal(r.perSecond, 125);
  assert.equal(r.eta, 2);
  const b = rates({
    done: 1,
    total: 2,
    bytes: 1000,
    totalBytes: 4000,
    elapsed: 1000,
  });
  assert.equal(b.bytesPerSecond, 1000);
  assert.equal(b.eta, 3);
  assert.match(
    describe({ done: 250, total: 500, elapsed: 2000 }, "msgs"),
    /^250\/500 msgs 125\.0 msg\/s ETA 2s$/,
  );
});

test("bar", () => {
  assert.equal(bar(0.5, 10), "#####-----");
  assert.equal(bar(2, 4), "####");
});

test("plain mode: one line per tenth, at most 11, the last at 100%", () => {
  const out = sink(false);
  const p = new Progress(out, "plain", "send", "msgs", 500);
  for (let i = 1; i <= 500; i++) p.update(i);
  p.finish();
  const lines = out.text.trimEnd().split("\n");
  assert.ok(lines.length >= 10 && lines.length <= 11, out.text);
  assert.match(
    lines.at(-1)!,
    /^send: 100% 500\/500 msgs [\d.]+ msg\/s ETA 0s$/,
  );
  assert.ok(!out.text.includes("\r"));
});

test("bar mode: redrawn in place with \\r, cleared before other output, ends with a newline", () => {
  const out = sink(true);
  const p = new Progress(out, "bar", "send", "msgs", 3);
  p.update(1);
  p.clear();
  assert.ok(out.text.startsWith("\r\x1b[2Ksend ["));
  assert.ok(out.text.endsWith("\r\x1b[2K"));
  p.update(3);
  p.finish();
  assert.match(out.text, /\[#+\] 3\/3 msgs .* ETA 0s\n$/);
});

test("none mode prints nothing; auto picks bar on a TTY, plain otherwise", () => {
  const out = sink(false);
  const p = new Progress(out, "none", "send", "msgs", 3);
  p.update(3);
  p.finish();
  assert.equal(out.text, "");
  assert.equal(progressMode(undefined, true), "bar");
  assert.equal(progressMode("auto", false), "plain");
  assert.equal(progressMode("none", true), "none");
});
