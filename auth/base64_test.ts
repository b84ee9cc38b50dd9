import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeBase64, encodeBase64 } from "./base64.ts";
import { AuthError } from "../errors.ts";

const text = new TextEncoder();

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

/** Reference encoding through the runtime's `btoa`. */
function reference(data: Uint8Array): string {
  let binary = "";
  for (const byte of data) binary += String.fromCharCode(byte);
  return btoa(binary);
}

// RFC 4648 §10.
const VECTORS: [string, string][] = [
  ["", ""],
  ["f", "Zg=="],
  ["fo", "Zm8="],
  ["foo", "Zm9v"],
  ["foob", "Zm9vYg=="],
  ["fooba", "Zm9vYmE="],
  ["foobar", "Zm9vYmFy"],
];

describe("encodeBase64", () => {
  test("RFC 4648 test vectors", () => {
    for (const [plain, encoded] of VECTORS) {
      assert.equal(encodeBase64(text.encode(plain)), encoded);
    }
  });

  test("matches btoa for lengths 0..300 and every byte value", () => {
    for (let length = 0; length <= 300; length++) {
      const data = bytes(length, length + 1);
      assert.equal(encodeBase64(data), reference(data), `length ${length}`);
    }
    const all = new Uint8Array(256).map((_, i) => i);
    assert.equal(encodeBase64(all), reference(all));
  });

  test("uses + and / for 62 and 63", () => {
    assert.equal(encodeBase64(new Uint8Array([0xfb, 0xff])), "+/8=");
  });

  test("works on a subarray view", () => {
    const data = text.encode("xxfooxx").subarray(2, 5);
    assert.equal(encodeBase64(data), "Zm9v");
  });
});

describe("decodeBase64", () => {
  test("RFC 4648 test vectors", () => {
    for (const [plain, encoded] of VECTORS) {
      assert.deepEqual(decodeBase64(encoded), text.encode(plain));
    }
  });

  test("empty string decodes to empty bytes", () => {
    const out = decodeBase64("");
    assert.ok(out instanceof Uint8Array);
    assert.equal(out.length, 0);
  });

  test("round-trips lengths 0..300", () => {
    for (let length = 0; length <= 300; length++) {
      const data = bytes(length, length + 7);
      assert.deepEqual(
        decodeBase64(encodeBase64(data)),
        data,
        `length ${length}`,
      );
    }
  });

  test("round-trips 1 MiB quickly", () => {
    const data = bytes(1 << 20, 42);
    const started = performance.now();
    const encoded = encodeBase64(data);
    assert.deepEqual(decodeBase64(encoded), data);
    assert.ok(
      performance.now() - started < 2000,
      "1 MiB round trip took over 2 s",
    );
  });

  test("rejects a length that is not a multiple of 4", () => {
    for (const bad of ["Z", "Zg", "Zg=", "Zm9vY", "Zm9vYg=", "Zm9vYmFy="]) {
      assert.throws(() => decodeBase64(bad), {
        name: "AuthError",
        message: "invalid base64: length is not a multiple of 4",
      }, bad);
    }
  });

  test("rejects characters outside the alphabet", () => {
    for (
      const bad of [
        "Zm9v Zm9v", // space
        "Zm9v\r\nZm9", // line break
        "Zm9\t",
        "Zm-_", // URL-safe alphabet
        "Zm9*",
        "Zm9\0",
        "Zm9é",
        "Zm9\u0100", // code point above 255
        "Zm9😀".slice(0, 4),
      ]
    ) {
      assert.throws(() => decodeBase64(bad), AuthError, JSON.stringify(bad));
    }
  });

  test("rejects misplaced or excess padding", () => {
    for (
      const bad of [
        "====",
        "Z===",
        "=Zm9",
        "Zm=v",
        "Zg==Zm9v", // padding in the middle
        "Zm9=Zm9v",
        "Zg=a",
      ]
    ) {
      assert.throws(() => decodeBase64(bad), AuthError, bad);
    }
  });

  test("rejects non-zero bits before padding (non-canonical)", () => {
    assert.deepEqual(decodeBase64("Zg=="), text.encode("f"));
    assert.throws(() => decodeBase64("Zh=="), {
      name: "AuthError",
      message: "invalid base64: non-zero bits before padding",
    });
    assert.deepEqual(decodeBase64("Zm8="), text.encode("fo"));
    assert.throws(() => decodeBase64("Zm9="), AuthError);
  });

  test("error messages name the position, not the input", () => {
    assert.throws(() => decodeBase64("c2VjcmV0!!!!"), {
      message: "invalid base64: unexpected character at index 8",
    });
  });
});
