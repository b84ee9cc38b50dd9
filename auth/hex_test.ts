import { test } from "node:test";
import assert from "node:assert/strict";
import { toHex } from "./hex.ts";

test("toHex encodes every byte as two lowercase digits", () => {
  assert.equal(toHex(new Uint8Array(0)), "");
  assert.equal(toHex(new Uint8Array([0, 1, 0x0a, 0xab, 0xff])), "00010aabff");
  const all = new Uint8Array(256).map((_, i) => i);
  const hex = toHex(all);
  assert.equal(hex.length, 512);
  for (let i = 0; i < 256; i++) {
    assert.equal(parseInt(hex.slice(i * 2, i * 2 + 2), 16), i);
  }
  assert.match(hex, /^[0-9a-f]+$/);
});
