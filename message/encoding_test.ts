import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  Base64LineEncoder,
  base64WrappedLength,
  decodeBase64,
  decodeQuotedPrintable,
  encodeBase64,
  encodeQuotedPrintable,
} from "./encoding.ts";

const dec = new TextDecoder();
const enc = new TextEncoder();

function wrapped(bytes: Uint8Array, cuts: number[]): Uint8Array {
  const e = new Uint8Array(bytes.length * 2 + 8);
  const encoder = new Base64LineEncoder();
  let at = 0;
  let pos = 0;
  for (
    const c of [
      ...cuts.filter((c) => c <= bytes.length).sort((a, b) => a - b),
      bytes.length,
    ]
  ) {
    const out = encoder.push(bytes.subarray(pos, c));
    e.set(out, at);
    at += out.length;
    pos = c;
  }
  const tail = encoder.end();
  e.set(tail, at);
  return e.subarray(0, at + tail.length);
}

test("base64: RFC 4648 vectors", () => {
  const v: [string, string][] = [
    ["", ""],
    ["f", "Zg=="],
    ["fo", "Zm8="],
    [
      "foo",
      "Zm9v",
    ],
    ["foob", "Zm9vYg=="],
    ["fooba", "Zm9vYmE="],
    ["foobar", "Zm9vYmFy"],
  ];
  for (const [plain, b64] of v) {
    assert.equal(encodeBase64(enc.encode(plain)), b64);
    assert.equal(dec.decode(decodeBase64(b64)), plain);
  }
});

test("base64 lines: 76 columns, CRLF between lines, same bytes whatever the chunking, length predicted", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 2000 }),
      fc.array(fc.nat({ max: 2000 }), { maxLength: 8 }),
      (bytes, cuts) => {
        const out = dec.decode(wrapped(bytes, cuts));
        assert.equal(out.length, base64WrappedLength(bytes.length));
        const lines = out.split("\r\n");
        for (const l of lines.slice(0, -1)) assert.equal(l.length, 76);
        assert.ok(lines[lines.length - 1].length <= 76);
        assert.ok(!out.includes("\n\n") && !/[^\r]\n/.test(out));
        assert.equal(lines.join(""), btoa(String.fromCharCode(...bytes)));
        assert.deepEqual(decodeBase64(out), bytes);
      },
    ),
    { numRuns: 300 },
  );
});

test("base64 decoding tolerates spaces, missing padding, stray characters and base64url", () => {
  assert.equal(dec.decode(decodeBase64("Zm9v\r\n YmFy")), "foobar");
  assert.equal(dec.decode(decodeBase64("Zm9vYg")), "foob");
  assert.equal(dec.decode(decodeBase64("Zm9v*YmE")), "fooba");
  assert.deepEqual(decodeBase64("-_8"), new Uint8Array([0xfb, 0xff]));
});

test("quoted-printable: encoded lines at most 76, trailing blanks encoded, exact round trip", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.constantFrom(" ", "\t", "=", "\r\n", "ä", ".", "From "),
        ),
        { maxLength: 40 },
      ),
      (parts) => {
        const text = parts.join("").replace(/\r\n|\r|\n/g, "\r\n");
        const bytes = enc.encode(text);
        const qp = encodeQuotedPrintable(bytes);
        const s = dec.decode(qp);
        for (const line of s.split("\r\n")) {
          assert.ok(line.length <= 76, `line ${JSON.stringify(line)}`);
          assert.ok(!/[ \t]$/.test(line), "no trailing blank");
          assert.ok(/^[\x20-\x7e\t]*$/.test(line), "ascii only");
        }
        assert.deepEqual(decodeQuotedPrintable(qp), bytes);
      },
    ),
    { numRuns: 300 },
  );
});

test("quoted-printable decoding: soft breaks (CRLF, LF, trailing blanks), lower-case hex, stray =", () => {
  const d = (s: string) => dec.decode(decodeQuotedPrintable(enc.encode(s)));
  assert.equal(d("K=C3=B6ln"), "Köln");
  assert.equal(d("k=c3=b6ln"), "köln");
  assert.equal(d("ab=\r\ncd"), "abcd");
  assert.equal(d("ab=\ncd"), "abcd");
  assert.equal(d("ab= \t\r\ncd"), "abcd");
  assert.equal(d("a=zz b"), "a=zz b");
  assert.equal(d("trailing   \r\nnext"), "trailing\r\nnext");
  assert.equal(d("end="), "end");
});
