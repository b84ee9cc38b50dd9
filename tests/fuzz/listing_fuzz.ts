// Fuzz harness: CAPA, LIST, UIDL, STAT and RETR-size parsers and the APOP timestamp, on bytes and on strings.
import { ProtocolError } from "../../errors.ts";
import {
  addCapability,
  announcedSize,
  parseCapabilities,
  parseScanListing,
  parseScanListings,
  parseStat,
  parseUidListing,
  parseUidListings,
  type Pop3Text,
} from "../../pop3/parse.ts";
import { findApopTimestamp } from "../../pop3/apop.ts";
import { ascii, latin1, mutate, Rng, show } from "./rng.ts";
import { type FuzzOptions, type FuzzReport, Tally } from "./report.ts";

const LINES = [
  "1 120",
  "2  3000 extra",
  "0 0",
  "999999999999999 1",
  "1234567890123456 1",
  "1 whqtswO00WBw418f9t5JxYwZ",
  "2 QhdPYR:00WBw1Ph7x7",
  "3 id\xff\xfe",
  "SASL PLAIN LOGIN\tXOAUTH2",
  "IMPLEMENTATION D\xc3\xb6vecot",
  "EXPIRE 60 USER",
  "120 octets",
  "7 OCTET",
  "POP3 ready <1896.697170952@dbc.mtview.ca.us>",
  "<@a@b> <x>",
  "",
];

const lossyDecoder = new TextDecoder();

// Reference regexes, over the latin1 string (one char per byte).
const NUMBERS = /^(\d{1,15}) +(\d{1,15})(?:[ \t]|$)/;
const UID = /^(\d{1,15}) +([\x21-\x7e]+)[ \t]*$/;
const SIZE = /^(\d{1,15}) octets?(?![A-Za-z0-9_])/i;
const STAMP = /<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>/;

function outcome(
  f: () => unknown,
  tally: Tally,
  context: () => string,
): string {
  try {
    const r = JSON.stringify(f());
    tally.ok();
    return r;
  } catch (err) {
    tally.error(err, context);
    if (!(err instanceof ProtocolError)) {
      throw new Error(`not a ProtocolError: ${context()}`);
    }
    return "ProtocolError";
  }
}

function fail(
  what: string,
  got: unknown,
  want: unknown,
  line: Uint8Array,
): never {
  throw new Error(`${what}: got ${got}, want ${want} for ${show(line)}`);
}

/**
 * Feed `inputs` lines (structured, mutated, random) to every POP3 line
 * parser, each as bytes, as a latin1 string and as a lossy UTF-8 string;
 * the results must equal a reference regex over the latin1 form and agree
 * across the three forms. Every 64 lines, a whole listing with a random
 * entry cap goes through the list parsers.
 */
export function fuzzListings(options: FuzzOptions): FuzzReport {
  const rng = new Rng(options.seed);
  const tally = new Tally("capa/list/uidl/stat/apop");
  let previous = ascii(LINES[0]);
  const batch: Uint8Array[] = [];
  for (let i = 0; i < options.inputs; i++) {
    const kind = rng.int(10);
    const line = kind < 3
      ? ascii(rng.pick(LINES)).map((b) => b) // fresh copy
      : kind < 9
      ? mutate(rng, latin1Bytes(rng.pick(LINES)), previous, 512)
      : rng.bytes(rng.int(80));
    previous = line;
    tally.feed();
    const text = latin1(line);
    const forms: Pop3Text[] = [line, text, lossyDecoder.decode(line)];
    const context = () => `seed ${options.seed} input ${i} ${show(line)}`;

    const n = NUMBERS.exec(text);
    const stat = n
      ? JSON.stringify({ count: +n[1], size: +n[2] })
      : "ProtocolError";
    const scan = n && +n[1] >= 1
      ? JSON.stringify({ id: +n[1], size: +n[2] })
      : "ProtocolError";
    const u = UID.exec(text);
    const uid = u && +u[1] >= 1
      ? JSON.stringify({ id: +u[1], uid: u[2] })
      : "ProtocolError";
    for (const form of forms) {
      // A lossy decoding can only turn non-ASCII into other non-ASCII, so
      // numbers and UIDs come out the same whatever the form.
      const s = outcome(() => parseStat(form), tally, context);
      if (s !== stat) fail("parseStat", s, stat, line);
      const l = outcome(() => parseScanListing(form), tally, context);
      if (l !== scan) fail("parseScanListing", l, scan, line);
      const d = outcome(() => parseUidListing(form), tally, context);
      if (d !== uid) fail("parseUidListing", d, uid, line);
      const z = SIZE.exec(text);
      const size = announcedSize(form);
      if (size !== (z ? +z[1] : undefined)) {
        fail("announcedSize", size, z?.[1], line);
      }
    }
    // CAPA: a keyword and arguments split on SP/HT only.
    const capa = new Map<string, string[]>();
    addCapability(capa, text);
    const words = text.split(/[ \t]+/).filter((w) => w !== "");
    if (
      words.length === 0 ? capa.size !== 0 : (
        capa.size !== 1 ||
        JSON.stringify([...capa.values()][0]) !==
          JSON.stringify(words.slice(1)) ||
        [...capa.keys()][0].toLowerCase() !== words[0].toLowerCase()
      )
    ) {
      fail(
        "addCapability",
        JSON.stringify([...capa]),
        JSON.stringify(words),
        line,
      );
    }
    addCapability(capa, line); // bytes: UTF-8 text, must not throw
    tally.ok();
    // APOP: the leftmost msg-id-like timestamp, as the reference regex finds it.
    const stamp = findApopTimestamp(text);
    if (stamp !== STAMP.exec(text)?.[0]) {
      fail("findApopTimestamp", stamp, STAMP.exec(text)?.[0], line);
    }
    tally.ok();

    batch.push(line);
    if (batch.length === 64) {
      listings(rng, batch, tally, options.seed, i);
      batch.length = 0;
    }
  }
  return tally.report();
}

function latin1Bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Whole listings, valid or not, with a random cap: the cap, duplicates and bad lines all refused. */
function listings(
  rng: Rng,
  random: Uint8Array[],
  tally: Tally,
  seed: number,
  at: number,
): void {
  const count = rng.int(200);
  const cap = rng.chance(0.5) ? rng.int(200) : Infinity;
  const lines: Uint8Array[] = [];
  const uids: Uint8Array[] = [];
  for (let k = 0; k < count; k++) {
    const id = rng.chance(0.02) ? 1 + rng.int(k + 1) : k + 1; // sometimes a duplicate number
    lines.push(ascii(`${id} ${rng.int(100000)}`));
    const u = rng.chance(0.02) ? `u${rng.int(3)}` : `u-${k}`; // sometimes a duplicate UID
    uids.push(ascii(`${id} ${u}`));
  }
  if (rng.chance(0.2)) lines.push(rng.pick(random));
  if (rng.chance(0.2)) uids.push(rng.pick(random));
  const context = () => `seed ${seed} listing after input ${at}`;
  for (
    const [parse, input, name] of [
      [parseScanListings, lines, "list response"],
      [parseUidListings, uids, "uidl response"],
      [parseCapabilities, lines, "capa response"],
    ] as const
  ) {
    try {
      const out = parse(input, cap);
      const size = out instanceof Map ? input.length : out.length;
      if (input.length > cap || size !== input.length) {
        throw new Error(
          `${name}: ${size} entries accepted with cap ${cap}: ${context()}`,
        );
      }
      tally.ok();
    } catch (err) {
      tally.error(err, context);
      if (!(err instanceof ProtocolError)) throw err;
      if (
        input.length > cap &&
        !err.message.includes(`has more than ${cap} entries`)
      ) {
        // A bad line or a duplicate before the cap is reached is refused first.
        const firstBad = err.message.includes("malformed") ||
          err.message.includes("twice") ||
          err.message.includes("unique id of another");
        if (!firstBad) throw new Error(`${name}: ${err.message}: ${context()}`);
      }
    }
  }
}
