import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ProtocolError } from "../errors.ts";
import {
  addCapability,
  announcedSize,
  parseCapabilities,
  parseScanListing,
  parseScanListings,
  parseStat,
  parseUidListing,
  parseUidListings,
} from "./parse.ts";
import { latin1 } from "../tests/fuzz/rng.ts";

const enc = new TextEncoder();
/** What the replacing UTF-8 decoder used to give. */
const lossy = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

test("parseStat", () => {
  assert.deepEqual(parseStat("2 320"), { count: 2, size: 320 });
  assert.deepEqual(parseStat("0 0"), { count: 0, size: 0 });
  assert.deepEqual(parseStat("2 320 extra words"), { count: 2, size: 320 });
  assert.deepEqual(parseStat("2 320\tx"), { count: 2, size: 320 });
  assert.deepEqual(parseStat(enc.encode("5 6")), { count: 5, size: 6 });
  for (
    const bad of [
      "",
      "2",
      "two 320",
      "2 -1",
      "-2 3",
      "2,320",
      " 2 3",
      "2 3x",
      "2\t3",
      "2 3\u00a0", // NBSP (0xA0 in latin1) is no separator
      "2 3\ufffd",
      "\u0662 3", // Arabic-Indic digit two
    ]
  ) {
    assert.throws(() => parseStat(bad), ProtocolError, bad);
  }
});

test("parseScanListing", () => {
  assert.deepEqual(parseScanListing("1 120"), { id: 1, size: 120 });
  assert.deepEqual(parseScanListing("7  99"), { id: 7, size: 99 });
  assert.deepEqual(parseScanListing("3 5 more info"), { id: 3, size: 5 });
  assert.deepEqual(parseScanListing(enc.encode("4 8")), { id: 4, size: 8 });
  assert.deepEqual(parseScanListing("999999999999999 1"), {
    id: 999999999999999,
    size: 1,
  });
  for (
    const bad of ["0 12", "x 1", "1", "", "1 1e3", "1234567890123456 1", "1 "]
  ) {
    assert.throws(() => parseScanListing(bad), ProtocolError, bad);
  }
});

test("parseUidListing", () => {
  assert.deepEqual(parseUidListing("1 whqtswO00WBw418f9t5JxYwZ"), {
    id: 1,
    uid: "whqtswO00WBw418f9t5JxYwZ",
  });
  assert.deepEqual(parseUidListing("2 QhdPYR:00WBw1Ph7x7"), {
    id: 2,
    uid: "QhdPYR:00WBw1Ph7x7",
  });
  assert.deepEqual(parseUidListing("3  !~ \t"), { id: 3, uid: "!~" });
  assert.deepEqual(parseUidListing(enc.encode("4 a<b>")), {
    id: 4,
    uid: "a<b>",
  });
  for (
    const bad of [
      "1",
      "1 ",
      "0 abc",
      "x abc",
      "",
      "1 \u0001",
      "1 a\u007fb",
      "1 abc def", // a UID has no space: cutting at it could make two equal
      " 1 abc",
      "1\tabc",
    ]
  ) {
    assert.throws(() => parseUidListing(bad), ProtocolError, bad);
  }
});

test("parseUidListing: bytes outside 0x21-0x7E are refused, however decoded (no collision)", () => {
  // The hostile-server catalogue's pair: both became "id\ufffd\ufffd".
  const a = new Uint8Array([0x31, 0x20, 0x69, 0x64, 0xff, 0xfe]);
  const b = new Uint8Array([0x31, 0x20, 0x69, 0x64, 0xfe, 0xff]);
  for (const line of [a, b]) {
    for (const text of [line, latin1(line), lossy(line)]) {
      assert.throws(() => parseUidListing(text), (e: unknown) => {
        assert.ok(e instanceof ProtocolError);
        assert.match(e.message, /^malformed unique-id listing: /);
        return true;
      });
    }
  }
  // TextDecoder("latin1") is windows-1252 on Deno and Bun (0x80 is U+20AC)
  // but ISO-8859-1 on Node 20 (0x80 is U+0080): refused either way.
  const euro = new Uint8Array([0x31, 0x20, 0x61, 0x80]);
  const w1252 = new TextDecoder("latin1").decode(euro);
  assert.ok(["1 a\u20ac", "1 a\u0080"].includes(w1252), w1252);
  assert.throws(() => parseUidListing(w1252), ProtocolError);
  assert.throws(() => parseUidListing(euro), ProtocolError);
});

test("parseUidListing property: bytes, latin1 and lossy UTF-8 agree; accepted UIDs are exact", () => {
  const byte = fc.oneof(
    fc.integer({ min: 0x21, max: 0x7e }),
    fc.integer({ min: 0, max: 255 }),
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 99 }),
      fc.array(byte, { maxLength: 20 }),
      (id, uidBytes) => {
        const line = new Uint8Array([...enc.encode(`${id} `), ...uidBytes]);
        const results = [line, latin1(line), lossy(line)].map((t) => {
          try {
            return parseUidListing(t);
          } catch (e) {
            assert.ok(e instanceof ProtocolError);
            return "refused";
          }
        });
        assert.deepEqual(results[1], results[0]);
        assert.deepEqual(results[2], results[0]);
        // The model: more SP after the number, the UID (0x21-0x7E only),
        // then only SP/HT to the end.
        let start = 0;
        while (uidBytes[start] === 0x20) start++;
        let end = start;
        while (
          end < uidBytes.length && uidBytes[end] >= 0x21 &&
          uidBytes[end] <= 0x7e
        ) end++;
        const tail = uidBytes.slice(end);
        const ok = id >= 1 && end > start &&
          tail.every((b) => b === 0x20 || b === 0x09);
        if (ok) {
          assert.deepEqual(results[0], {
            id,
            uid: latin1(new Uint8Array(uidBytes.slice(start, end))),
          });
        } else assert.equal(results[0], "refused");
      },
    ),
    { numRuns: 3000 },
  );
});

test("parseUidListing: a 1 MiB UID as bytes is one string, not a stack overflow", () => {
  const line = new Uint8Array((1 << 20) + 2).fill(0x41);
  line[0] = 0x31;
  line[1] = 0x20;
  assert.equal(parseUidListing(line).uid.length, 1 << 20);
});

test("parseScanListings: duplicates and the entry cap are ProtocolErrors", () => {
  assert.deepEqual(parseScanListings(["1 10", "2 20"], 2), [
    { id: 1, size: 10 },
    { id: 2, size: 20 },
  ]);
  assert.deepEqual(parseScanListings([]), []);
  assert.throws(
    () => parseScanListings(["1 10", "2 20", "3 30"], 2),
    (e: unknown) =>
      e instanceof ProtocolError &&
      e.message === "list response has more than 2 entries",
  );
  assert.throws(
    () => parseScanListings(["1 10", "1 20"]),
    /list response lists message 1 twice/,
  );
  assert.throws(() => parseScanListings(["1 10", "bad"]), ProtocolError);
});

test("parseScanListings: the cap is hit before the line past it is parsed", () => {
  let pulled = 0;
  function* endless() {
    for (;;) {
      pulled++;
      yield `${pulled} 1`;
    }
  }
  assert.throws(() => parseScanListings(endless(), 100_000), /100000 entries/);
  assert.equal(pulled, 100_001);
});

test("parseUidListings: duplicate numbers or UIDs, and the entry cap", () => {
  assert.deepEqual(parseUidListings(["1 a", "2 b"], 2), [
    { id: 1, uid: "a" },
    { id: 2, uid: "b" },
  ]);
  assert.throws(
    () => parseUidListings(["1 a", "2 b", "3 c"], 2),
    (e: unknown) =>
      e instanceof ProtocolError &&
      e.message === "uidl response has more than 2 entries",
  );
  assert.throws(
    () => parseUidListings(["1 a", "1 b"]),
    /uidl response lists message 1 twice/,
  );
  assert.throws(
    () => parseUidListings(["1 a", "2 a"]),
    /gives message 2 the unique id of another message/,
  );
  // UIDs are case-sensitive: these differ.
  assert.equal(parseUidListings(["1 a", "2 A"]).length, 2);
});

test("addCapability: keyword upper-cased, arguments split", () => {
  const capa = new Map<string, string[]>();
  for (
    const line of [
      "top",
      "SASL PLAIN\tLOGIN",
      "",
      "  ",
      "expire 60",
      enc.encode("implementation Dövecot  ready"),
    ]
  ) {
    addCapability(capa, line);
  }
  assert.deepEqual([...capa], [
    ["TOP", []],
    ["SASL", ["PLAIN", "LOGIN"]],
    ["EXPIRE", ["60"]],
    ["IMPLEMENTATION", ["Dövecot", "ready"]],
  ]);
});

test("addCapability: ASCII upper case only, NBSP is not a separator", () => {
  const capa = new Map<string, string[]>();
  addCapability(capa, "stra\u00dfe x\u00a0y");
  // toUpperCase would give "STRASSE"; the keyword is left as sent otherwise.
  assert.deepEqual([...capa], [["STRA\u00dfE", ["x\u00a0y"]]]);
});

test("parseCapabilities: lines to a map, with an entry cap", () => {
  const capa = parseCapabilities(["TOP", "UIDL", "SASL PLAIN"], 3);
  assert.deepEqual([...capa.keys()], ["TOP", "UIDL", "SASL"]);
  assert.throws(
    () => parseCapabilities(["TOP", "UIDL", "SASL PLAIN"], 2),
    (e: unknown) =>
      e instanceof ProtocolError &&
      e.message === "capa response has more than 2 entries",
  );
});

test("announcedSize", () => {
  assert.equal(announcedSize("120 octets"), 120);
  assert.equal(announcedSize("1 octet"), 1);
  assert.equal(announcedSize("7 OCTETS follow"), 7);
  assert.equal(announcedSize("7 octets."), 7);
  assert.equal(announcedSize(enc.encode("8 octets")), 8);
  for (
    const none of [
      "message follows",
      "",
      "12 octetsx",
      "12 octet_",
      "12octets",
      "1234567890123456 octets",
      "12 oct",
    ]
  ) {
    assert.equal(announcedSize(none), undefined, none);
  }
});

test("announcedSize property: the same answer as the regex it replaced", () => {
  const REFERENCE = /^(\d{1,15}) octets?\b/i;
  const word = fc.constantFrom(
    "1",
    "12",
    " ",
    "octet",
    "OCTETS",
    "s",
    "x",
    ".",
    "_",
    "9",
  );
  fc.assert(
    fc.property(fc.array(word, { maxLength: 6 }), (parts) => {
      const text = parts.join("");
      const m = REFERENCE.exec(text);
      assert.equal(announcedSize(text), m ? Number(m[1]) : undefined, text);
    }),
    { numRuns: 5000 },
  );
});
