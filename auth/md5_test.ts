import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { toHex } from "./hex.ts";
import { md5 } from "./md5.ts";

const text = new TextEncoder();

function md5Hex(data: Uint8Array | string): string {
  return toHex(md5(typeof data === "string" ? text.encode(data) : data));
}

function nodeMd5Hex(data: Uint8Array): string {
  return createHash("md5").update(data).digest("hex");
}

/** Deterministic pseudo-random bytes (xorshift32). */
function bytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe("md5", () => {
  test("RFC 1321 test suite (appendix A.5)", () => {
    const suite: [string, string][] = [
      ["", "d41d8cd98f00b204e9800998ecf8427e"],
      ["a", "0cc175b9c0f1b6a831c399e269772661"],
      ["abc", "900150983cd24fb0d6963f7d28e17f72"],
      ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
      ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
      [
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "d174ab98d277d9f5a5611c2c9f419d9f",
      ],
      [
        "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
        "57edf4a22be3c955ac49da2e2107b67a",
      ],
    ];
    for (const [input, digest] of suite) {
      assert.equal(md5Hex(input), digest, JSON.stringify(input));
    }
  });

  test("matches node:crypto for every length 0..200", () => {
    for (let length = 0; length <= 200; length++) {
      const data = bytes(length, length + 3);
      assert.equal(md5Hex(data), nodeMd5Hex(data), `length ${length}`);
    }
  });

  test("matches node:crypto around block boundaries of larger inputs", () => {
    for (
      const length of [
        447,
        448,
        449,
        511,
        512,
        513,
        4095,
        4096,
        4097,
        65536,
        1_000_003,
      ]
    ) {
      const data = bytes(length, length);
      assert.equal(md5Hex(data), nodeMd5Hex(data), `length ${length}`);
    }
  });

  test("returns 16 bytes and leaves the input untouched", () => {
    const data = bytes(100);
    const copy = data.slice();
    const digest = md5(data);
    assert.equal(digest.length, 16);
    assert.deepEqual(data, copy);
  });

  test("hashes a subarray view, not its whole buffer", () => {
    const whole = text.encode("xxabcxx");
    assert.equal(
      md5Hex(whole.subarray(2, 5)),
      "900150983cd24fb0d6963f7d28e17f72",
    );
  });

  test("a million 'a' characters", () => {
    const data = new Uint8Array(1_000_000).fill(0x61);
    assert.equal(md5Hex(data), "7707d6ae4e027c70eea2a935c2296f21");
  });
});
