import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseAddressList } from "./address.ts";

test("address: bare addr-specs, separated by commas and white space", () => {
  assert.deepEqual(parseAddressList("a@x.test"), ["a@x.test"]);
  assert.deepEqual(parseAddressList(" a@x.test ,b@x.test,\tc@x.test "), [
    "a@x.test",
    "b@x.test",
    "c@x.test",
  ]);
  assert.deepEqual(parseAddressList(""), []);
  assert.deepEqual(parseAddressList(" , ,, "), []);
});

test("address: display names and angle addresses", () => {
  assert.deepEqual(parseAddressList("Ann <ann@x.test>"), ["ann@x.test"]);
  assert.deepEqual(parseAddressList("<ann@x.test>"), ["ann@x.test"]);
  assert.deepEqual(
    parseAddressList("Ann Lee <ann@x.test>, Bob <bob@x.test>"),
    ["ann@x.test", "bob@x.test"],
  );
  assert.deepEqual(
    parseAddressList("=?utf-8?q?J=C3=B6rg?= <j@x.test>"),
    ["j@x.test"],
  );
});

test("address: quoted display names with commas, colons, brackets and escapes", () => {
  assert.deepEqual(
    parseAddressList('"Doe, J" <j@x.test>, ann@x.test'),
    ["j@x.test", "ann@x.test"],
  );
  assert.deepEqual(parseAddressList('"Re: meeting; <x>" <m@x.test>'), [
    "m@x.test",
  ]);
  assert.deepEqual(
    parseAddressList('"say \\"hi\\", ok" <q@x.test>, r@x.test'),
    ["q@x.test", "r@x.test"],
  );
});

test("address: quoted local parts are kept with their quotes", () => {
  assert.deepEqual(parseAddressList('"john doe"@x.test'), [
    '"john doe"@x.test',
  ]);
  assert.deepEqual(parseAddressList('Who <"a,b"@x.test>'), ['"a,b"@x.test']);
  assert.deepEqual(parseAddressList('"a\\"b"@x.test'), ['"a\\"b"@x.test']);
});

test("address: comments are dropped, nested and escaped ones too", () => {
  assert.deepEqual(parseAddressList("ann@x.test (Ann, the boss)"), [
    "ann@x.test",
  ]);
  assert.deepEqual(parseAddressList("(first) ann@x.test, (c) b@x.test"), [
    "ann@x.test",
    "b@x.test",
  ]);
  assert.deepEqual(
    parseAddressList("a@x.test (one (two, three) \\) four), b@x.test"),
    ["a@x.test", "b@x.test"],
  );
  assert.deepEqual(parseAddressList("Ann (work) <ann@x.test> (note)"), [
    "ann@x.test",
  ]);
});

test("address: groups give their members; empty groups nothing", () => {
  assert.deepEqual(
    parseAddressList("team: b@x.test, Cat <c@x.test>;, d@x.test"),
    ["b@x.test", "c@x.test", "d@x.test"],
  );
  assert.deepEqual(parseAddressList("undisclosed-recipients:;"), []);
  assert.deepEqual(parseAddressList('"The Team": a@x.test;'), ["a@x.test"]);
});

test("address: source routes are removed", () => {
  assert.deepEqual(parseAddressList("<@r1.test,@r2.test:j@x.test>"), [
    "j@x.test",
  ]);
  assert.deepEqual(parseAddressList("Jo <@r1.test:jo@x.test>, k@x.test"), [
    "jo@x.test",
    "k@x.test",
  ]);
});

test("address: non-ascii addresses pass through", () => {
  assert.deepEqual(parseAddressList("Jörg <jörg@bücher.test>"), [
    "jörg@bücher.test",
  ]);
  assert.deepEqual(parseAddressList("用户@例子.测试"), ["用户@例子.测试"]);
});

test("address: unterminated quotes and comments don't throw or loop", () => {
  for (const s of ['"abc', "(abc", "<abc", 'a@b (c "d', '"\\']) {
    assert.ok(Array.isArray(parseAddressList(s)));
  }
});

// ---- property: formatting then parsing gives the addr-specs back ----

const atom = fc.stringMatching(/^[a-z0-9!#$%&'*+\/=?^_`{|}~-]{1,8}$/);
const addrSpec = fc.tuple(
  fc.oneof(
    atom,
    fc.tuple(atom, atom).map(([a, b]) => `${a}.${b}`),
    fc.stringMatching(/^[a-z ,;:<>@()]{1,6}$/).map((s) => `"${s}"`),
  ),
  fc.tuple(
    fc.stringMatching(/^[a-z0-9]{1,6}$/),
    fc.stringMatching(/^[a-z]{2,4}$/),
  )
    .map(([a, b]) => `${a}.${b}`),
).map(([l, d]) => `${l}@${d}`);
const displayName = fc.oneof(
  fc.stringMatching(/^[A-Za-z]{1,6}( [A-Za-z]{1,6})?$/),
  fc.stringMatching(/^[A-Za-z ,;:<>@().]{0,10}$/).map((s) => `"${s}"`),
  fc.stringMatching(/^[A-Za-z ,;:<>@"]{0,10}$/).map((s) =>
    `"${s.replace(/"/g, '\\"')}"`
  ),
);
const comment = fc.stringMatching(/^[a-z ,;:<>@"]{0,8}$/).map((s) => `(${s})`);
const mailbox = fc.tuple(
  addrSpec,
  fc.option(displayName, { nil: undefined }),
  fc.option(comment, { nil: undefined }),
  fc.boolean(),
).map(([spec, name, c, route]) => ({
  spec,
  text: name !== undefined || route
    ? `${name ?? ""} <${route ? "@relay.test:" : ""}${spec}>${c ? " " + c : ""}`
    : `${spec}${c ? " " + c : ""}`,
}));
const entry = fc.oneof(
  mailbox.map((m) => ({ specs: [m.spec], text: m.text })),
  fc.tuple(fc.stringMatching(/^[A-Za-z]{1,6}$/), fc.array(mailbox)).map((
    [name, members],
  ) => ({
    specs: members.map((m) => m.spec),
    text: `${name}: ${members.map((m) => m.text).join(", ")};`,
  })),
);

test("address property: parse(format(list)) gives the addr-specs in order", () => {
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 6 }), (entries) => {
      const text = entries.map((e) => e.text).join(", ");
      assert.deepEqual(
        parseAddressList(text),
        entries.flatMap((e) => e.specs),
        text,
      );
    }),
    { numRuns: 500 },
  );
});

test("address fuzz: any string parses without throwing, in bounded time", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => {
      const out = parseAddressList(s);
      assert.ok(Array.isArray(out));
      for (const a of out) assert.equal(typeof a, "string");
    }),
    { numRuns: 1000 },
  );
});
