import { test } from "node:test";
import assert from "node:assert/strict";
import { parseAddresses } from "./address.ts";

test("parseAddresses: a stray '>' ends the entry (it looped forever before)", () => {
  assert.deepEqual(parseAddresses("ann>x@y.test"), [
    { name: "", address: "ann" },
    { name: "", address: "x@y.test" },
  ]);
  assert.deepEqual(parseAddresses("x@y.test>"), [
    { name: "", address: "x@y.test" },
  ]);
  assert.deepEqual(parseAddresses(">>"), []);
});

test("parseAddresses: escapes in quoted names and comments, nested comments", () => {
  assert.deepEqual(parseAddresses('"Ann \\"Q\\" Lee" <ann@x.test>'), [
    { name: 'Ann "Q" Lee', address: "ann@x.test" },
  ]);
  assert.deepEqual(parseAddresses("ann@x.test (Ann (the \\) one) Lee)"), [
    { name: "Ann (the ) one) Lee", address: "ann@x.test" },
  ]);
  assert.deepEqual(parseAddresses('"tail\\'), [
    { name: "", address: '"tail\\' },
  ]);
});

test("parseAddresses: groups, source routes, quotes and comments inside <>", () => {
  assert.deepEqual(
    parseAddresses('Team: a@x.test, "B" <b@x.test>;, c@x.test'),
    [
      { name: "", address: "a@x.test" },
      { name: "B", address: "b@x.test" },
      { name: "", address: "c@x.test" },
    ],
  );
  assert.deepEqual(parseAddresses("<@route.test:ann@x.test>"), [
    { name: "", address: "ann@x.test" },
  ]);
  assert.deepEqual(parseAddresses('Ann <"a b"@x.test>'), [
    { name: "Ann", address: '"a b"@x.test' },
  ]);
  assert.deepEqual(parseAddresses("A <a(comment)@x.test>"), [
    { name: "A", address: "a@x.test" },
  ]);
});

test("parseAddresses: an unclosed quote or comment takes the rest, in linear time", () => {
  assert.deepEqual(parseAddresses("(unclosed x@y.test"), []);
  for (const open of ['"', "(", "<"]) {
    const time = (n: number) => {
      const s = open + "a b c ".repeat(n);
      let best = Infinity;
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        parseAddresses(s);
        best = Math.min(best, performance.now() - t);
      }
      return best;
    };
    const small = time(25_000);
    const large = time(200_000);
    // Linear: ~8x; a string built a character at a time made it ~25x on V8.
    assert.ok(
      large < Math.max(small, 2) * 20,
      `${open}: ${small.toFixed(1)} ms → ${large.toFixed(1)} ms`,
    );
  }
});

test("parseAddresses: any mix of specials ends, every entry with an address", () => {
  const tokens = ['"', "\\", "(", ")", "<", ">", ",", ";", ":", " ", "\t", "a"];
  let seed = 7;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const t = performance.now();
  for (let k = 0; k < 20_000; k++) {
    let s = "";
    for (let i = next(16); i >= 0; i--) s += tokens[next(tokens.length)];
    for (const entry of parseAddresses(s)) assert.ok(entry.address !== "", s);
  }
  assert.ok(performance.now() - t < 10_000);
});
