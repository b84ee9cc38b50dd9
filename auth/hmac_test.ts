import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { toHex } from "./hex.ts";
import { hmacMd5 } from "./hmac.ts";

const text = new TextEncoder();

function fill(length: number, byte: number): Uint8Array {
  return new Uint8Array(length).fill(byte);
}

function hmacHex(key: Uint8Array | string, data: Uint8Array | string): string {
  return toHex(hmacMd5(
    typeof key === "string" ? text.encode(key) : key,
    typeof data === "string" ? text.encode(data) : data,
  ));
}

describe("hmacMd5", () => {
  test("RFC 2104 appendix test vectors", () => {
    assert.equal(
      hmacHex(fill(16, 0x0b), "Hi There"),
      "9294727a3638bb1c13f48ef8158bfc9d",
    );
    assert.equal(
      hmacHex("Jefe", "what do ya want for nothing?"),
      "750c783e6ab0b503eaa86e310a5db738",
    );
    assert.equal(
      hmacHex(fill(16, 0xaa), fill(50, 0xdd)),
      "56be34521d144c88dbb8c733f0e8b3f6",
    );
  });

  test("RFC 2202 HMAC-MD5 test cases 1-7", () => {
    const key4 = new Uint8Array(25).map((_, i) => i + 1); // 0x01..0x19
    const cases: [Uint8Array | string, Uint8Array | string, string][] = [
      [fill(16, 0x0b), "Hi There", "9294727a3638bb1c13f48ef8158bfc9d"],
      [
        "Jefe",
        "what do ya want for nothing?",
        "750c783e6ab0b503eaa86e310a5db738",
      ],
      [fill(16, 0xaa), fill(50, 0xdd), "56be34521d144c88dbb8c733f0e8b3f6"],
      [key4, fill(50, 0xcd), "697eaf0aca3a3aea3a75164746ffaa79"],
      [
        fill(16, 0x0c),
        "Test With Truncation",
        "56461ef2342edc00f9bab995690efd4c",
      ],
      [
        fill(80, 0xaa),
        "Test Using Larger Than Block-Size Key - Hash Key First",
        "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd",
      ],
      [
        fill(80, 0xaa),
        "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
        "6f630fad67cda0ee1fb1f562db3aa53e",
      ],
    ];
    cases.forEach(([key, data, digest], i) => {
      assert.equal(hmacHex(key, data), digest, `test case ${i + 1}`);
    });
    // Test case 5 also lists the 96-bit truncation.
    assert.equal(
      hmacHex(fill(16, 0x0c), "Test With Truncation").slice(0, 24),
      "56461ef2342edc00f9bab995",
    );
  });

  test("RFC 2195 CRAM-MD5 example", () => {
    assert.equal(
      hmacHex("tanstaaftanstaaf", "<1896.697170952@postoffice.reston.mci.net>"),
      "b913a602c7eda7a495b4e6e7334d3890",
    );
  });

  test("matches node:crypto for key lengths 0..130 (around the block size)", () => {
    const data = text.encode("<12345.67890@example.com>");
    for (let length = 0; length <= 130; length++) {
      const key = new Uint8Array(length).map((_, i) =>
        (i * 31 + length) & 0xff
      );
      assert.equal(
        hmacHex(key, data),
        createHmac("md5", key).update(data).digest("hex"),
        `key length ${length}`,
      );
    }
  });

  test("leaves key and data untouched", () => {
    const key = fill(80, 0xaa);
    const data = fill(10, 1);
    hmacMd5(key, data);
    assert.deepEqual(key, fill(80, 0xaa));
    assert.deepEqual(data, fill(10, 1));
  });
});
