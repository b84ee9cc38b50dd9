import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Sha256, sha256 } from "./sha256.ts";

const hex = (b: Uint8Array) =>
  [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const enc = new TextEncoder();

test("sha-256: NIST FIPS 180-4 example vectors", () => {
  assert.equal(
    hex(sha256(enc.encode("abc"))),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    hex(sha256(new Uint8Array(0))),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    hex(
      sha256(
        enc.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
      ),
    ),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
  assert.equal(
    hex(
      sha256(
        enc.encode(
          "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        ),
      ),
    ),
    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
  );
  const h = new Sha256();
  const chunk = enc.encode("a".repeat(1000));
  for (let i = 0; i < 1000; i++) h.update(chunk);
  assert.equal(
    hex(h.digest()),
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
  );
});

test("sha-256: equals WebCrypto for any input split into any chunks", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 700 }),
      fc.array(fc.nat({ max: 700 }), { maxLength: 6 }),
      async (bytes, cuts) => {
        const h = new Sha256();
        let pos = 0;
        for (
          const c of [
            ...cuts.filter((c) => c <= bytes.length).sort((a, b) => a - b),
            bytes.length,
          ]
        ) {
          h.update(bytes.subarray(pos, c));
          pos = c;
        }
        const want = new Uint8Array(
          await crypto.subtle.digest(
            "SHA-256",
            bytes as Uint8Array<ArrayBuffer>,
          ),
        );
        assert.equal(hex(h.digest()), hex(want));
      },
    ),
    { numRuns: 200 },
  );
});

test("sha-256: finished hash refuses more input", () => {
  const h = new Sha256();
  h.digest();
  assert.throws(() => h.update(new Uint8Array(1)));
  assert.throws(() => h.digest());
});
