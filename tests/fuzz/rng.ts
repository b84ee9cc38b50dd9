// Deterministic randomness for the fuzz harnesses: a seeded generator, byte mutators, chunk splits.

/** A small, fast, seeded generator (mulberry32): the same seed, the same inputs on every runtime. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  /** Random bytes, biased toward the ones parsers care about. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.byte();
    return out;
  }
  /** One byte: half the time an interesting one, else any. */
  byte(): number {
    return this.chance(0.5) ? this.pick(INTERESTING) : this.int(256);
  }
}

/** Bytes that sit on the parsers' edges: line ends, separators, dots, digits, brackets, high bytes. */
export const INTERESTING: readonly number[] = [
  0x00,
  0x09,
  0x0a,
  0x0d,
  0x20,
  0x2b,
  0x2d,
  0x2e,
  0x30,
  0x32,
  0x35,
  0x39,
  0x3a,
  0x3c,
  0x3d,
  0x3e,
  0x40,
  0x5b,
  0x5d,
  0x7e,
  0x7f,
  0x80,
  0xc3,
  0xef,
  0xfe,
  0xff,
];

const enc = new TextEncoder();

/** Bytes of a string (UTF-8). */
export function ascii(text: string): Uint8Array {
  return enc.encode(text);
}

/** Concatenate byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * One to four random mutations of `input`: flip a bit, set an interesting
 * byte, insert or delete bytes, duplicate or drop a slice, truncate, or
 * splice in a slice of `other`. Never longer than `max` bytes.
 */
export function mutate(
  rng: Rng,
  input: Uint8Array,
  other: Uint8Array,
  max = 1 << 16,
): Uint8Array {
  let b = input;
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    const n = b.length;
    const at = rng.int(n + 1);
    switch (rng.int(8)) {
      case 0: // flip a bit
        if (n) {
          b = b.slice();
          b[rng.int(n)] ^= 1 << rng.int(8);
        }
        break;
      case 1: // set an interesting byte
        if (n) {
          b = b.slice();
          b[rng.int(n)] = rng.pick(INTERESTING);
        }
        break;
      case 2: // insert a few random bytes
        b = concat([
          b.subarray(0, at),
          rng.bytes(1 + rng.int(8)),
          b.subarray(at),
        ]);
        break;
      case 3: { // delete a slice
        const len = rng.int(Math.min(16, n - at) + 1);
        b = concat([b.subarray(0, at), b.subarray(at + len)]);
        break;
      }
      case 4: { // duplicate a slice (repeats lines, separators)
        const len = rng.int(Math.min(64, n - at) + 1);
        const slice = b.subarray(at, at + len);
        const times = 1 + rng.int(4);
        b = concat([
          b.subarray(0, at + len),
          ...Array(times).fill(slice),
          b.subarray(at + len),
        ]);
        break;
      }
      case 5: // truncate
        b = b.subarray(0, at);
        break;
      case 6: { // splice in a slice of another input
        const from = rng.int(other.length + 1);
        const len = rng.int(Math.min(64, other.length - from) + 1);
        b = concat([
          b.subarray(0, at),
          other.subarray(from, from + len),
          b.subarray(at),
        ]);
        break;
      }
      default: { // replace a CRLF with LF, CR or nothing, or add one
        const i = b.indexOf(10, at);
        if (i > 0) {
          b = b.slice();
          b[i] = rng.pick([10, 13, 0x20]);
        } else b = concat([b, ascii(rng.pick(["\r\n", "\n", "\r"]))]);
      }
    }
  }
  return b.length > max ? b.subarray(0, max) : b;
}

/** Split `bytes` at random points into 1 to 6 chunks (empty ones dropped). */
export function split(rng: Rng, bytes: Uint8Array): Uint8Array[] {
  if (bytes.length < 2 || rng.chance(0.3)) return bytes.length ? [bytes] : [];
  if (rng.chance(0.05)) {
    // one byte at a time (drip-feed), for short inputs
    if (bytes.length <= 256) {
      return Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
    }
  }
  const cuts = new Set<number>();
  const k = 1 + rng.int(5);
  for (let i = 0; i < k; i++) cuts.add(1 + rng.int(bytes.length - 1));
  const points = [...cuts].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** A pull-based in-memory stream over `chunks` (one chunk per pull), as a socket delivers them. */
export function stream(
  chunks: readonly Uint8Array[],
): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < chunks.length) c.enqueue(chunks[i++]);
      else c.close();
    },
  }, { highWaterMark: 0 });
}

/**
 * The next input of a harness: 40% `structured(rng)`, 50% a mutation of one
 * (spliced with `previous`), 10% random bytes.
 */
export function mixed(
  rng: Rng,
  structured: (rng: Rng) => Uint8Array,
  previous: Uint8Array,
): Uint8Array {
  const kind = rng.int(20);
  return kind < 8
    ? structured(rng)
    : kind < 18
    ? mutate(rng, structured(rng), previous)
    : rng.bytes(rng.int(300));
}

/** One character per byte: the exact (ISO-8859-1) string of some bytes. */
export function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** A short printable preview of bytes, for failure reports. */
export function show(bytes: Uint8Array, max = 200): string {
  let s = "";
  for (let i = 0; i < Math.min(bytes.length, max); i++) {
    s += String.fromCharCode(bytes[i]);
  }
  return JSON.stringify(s) +
    (bytes.length > max ? `... (${bytes.length} bytes)` : "");
}
