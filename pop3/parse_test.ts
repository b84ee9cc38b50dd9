import { test } from "node:test";
import assert from "node:assert/strict";
import { ProtocolError } from "../errors.ts";
import {
  addCapability,
  announcedSize,
  parseScanListing,
  parseStat,
  parseUidListing,
} from "./parse.ts";

test("parseStat", () => {
  assert.deepEqual(parseStat("2 320"), { count: 2, size: 320 });
  assert.deepEqual(parseStat("0 0"), { count: 0, size: 0 });
  assert.deepEqual(parseStat("2 320 extra words"), { count: 2, size: 320 });
  for (
    const bad of ["", "2", "two 320", "2 -1", "-2 3", "2,320", " 2 3", "2 3x"]
  ) {
    assert.throws(() => parseStat(bad), ProtocolError, bad);
  }
});

test("parseScanListing", () => {
  assert.deepEqual(parseScanListing("1 120"), { id: 1, size: 120 });
  assert.deepEqual(parseScanListing("7  99"), { id: 7, size: 99 });
  assert.deepEqual(parseScanListing("3 5 more info"), { id: 3, size: 5 });
  for (const bad of ["0 12", "x 1", "1", "", "1 1e3", "1234567890123456 1"]) {
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
  for (const bad of ["1", "0 abc", "x abc", "", "1 \u0001"]) {
    assert.throws(() => parseUidListing(bad), ProtocolError, bad);
  }
});

test("addCapability: keyword upper-cased, arguments split", () => {
  const capa = new Map<string, string[]>();
  for (const line of ["top", "SASL PLAIN\tLOGIN", "", "  ", "expire 60"]) {
    addCapability(capa, line);
  }
  assert.deepEqual([...capa], [
    ["TOP", []],
    ["SASL", ["PLAIN", "LOGIN"]],
    ["EXPIRE", ["60"]],
  ]);
});

test("announcedSize", () => {
  assert.equal(announcedSize("120 octets"), 120);
  assert.equal(announcedSize("1 octet"), 1);
  assert.equal(announcedSize("message follows"), undefined);
  assert.equal(announcedSize(""), undefined);
});
