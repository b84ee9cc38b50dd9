// The benchmark's messages, made the same way by the servers and the clients (so every byte can be checked), and the hash.

const LINE =
  "The quick brown fox jumps over the lazy dog 0123456789 abcdefghijklm\r\n";
const DOT_LINE = ".a line that starts with a dot, stuffed on the wire\r\n";

/** FNV-1a over b[start, end), continuing from `h`. */
export function fnv(b, start = 0, end = b.length, h = 0x811c9dc5) {
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i], 16777619);
  return h >>> 0;
}

/** A message of about `size` bytes (CRLF, every eighth line dot-led), numbered `i`. */
export function message(
  size,
  i,
  from = "bench@mail.test",
  to = "alice@mail.test",
) {
  let text =
    `From: ${from}\r\nTo: ${to}\r\nSubject: bench ${i}\r\nMessage-ID: <${i}@bench>\r\n\r\n`;
  let n = 0;
  while (text.length < size) {
    text += n++ % 8 === 7 ? DOT_LINE : LINE;
  }
  return new TextEncoder().encode(text);
}

/** Dot-stuff a CRLF message (RFC 1939 §3 / RFC 5321 §4.5.2). */
export function stuff(b) {
  const out = [];
  let start = 0;
  let lineStart = true;
  for (let i = 0; i < b.length; i++) {
    if (lineStart && b[i] === 0x2e) {
      out.push(b.subarray(start, i), new Uint8Array([0x2e]));
      start = i;
    }
    lineStart = b[i] === 10;
  }
  out.push(b.subarray(start));
  let total = 0;
  for (const p of out) total += p.length;
  const r = new Uint8Array(total);
  let o = 0;
  for (const p of out) {
    r.set(p, o);
    o += p.length;
  }
  return r;
}

/** The 50 MiB body as LF lines (a file as an editor writes it), with dot lines. */
export function bigLf(size = 50 * 1024 * 1024) {
  const line = new TextEncoder().encode(LINE.replace("\r\n", "\n"));
  const dot = new TextEncoder().encode(DOT_LINE.replace("\r\n", "\n"));
  const out = new Uint8Array(size);
  let o = 0;
  for (let n = 0; o < size; n++) {
    const l = n % 8 === 7 ? dot : line;
    out.set(l.subarray(0, Math.min(l.length, size - o)), o);
    o += l.length;
  }
  out[size - 1] = 10;
  return out;
}

/** LF → CRLF (what the server must receive for an LF file). */
export function toCrlf(b) {
  let lf = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 10 && (i === 0 || b[i - 1] !== 13)) lf++;
  }
  const out = new Uint8Array(b.length + lf);
  let o = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 10 && (i === 0 || b[i - 1] !== 13)) out[o++] = 13;
    out[o++] = b[i];
  }
  return out;
}

/** A POP3 mailbox: `small` (2,000 × 4 KiB) or `big` (1 × 50 MiB), stuffed for the wire, with listings and a total hash. */
export function makeMailbox(name) {
  const sized = /^big(\d+)$/.exec(name); // bigN: one message of N MiB
  const raw = name === "big"
    ? [toCrlf(bigLf())]
    : sized
    ? [toCrlf(bigLf(Number(sized[1]) * 1024 * 1024))]
    : Array.from({ length: 2000 }, (_, i) => message(4096, i));
  const messages = raw.map((m) => stuff(m));
  const sizes = raw.map((m) => m.length);
  let hash = 0;
  let rawBytes = 0;
  for (const m of raw) {
    hash = (hash + fnv(m)) >>> 0;
    rawBytes += m.length;
  }
  const listText = `+OK ${raw.length} messages\r\n` +
    sizes.map((s, i) => `${i + 1} ${s}\r\n`).join("") + ".\r\n";
  const uidlText = `+OK\r\n` +
    sizes.map((_, i) => `${i + 1} uid-${name}-${i}\r\n`).join("") + ".\r\n";
  return {
    messages,
    sizes,
    bytes: sizes.reduce((a, b) => a + b, 0),
    rawBytes,
    hash,
    listText,
    uidlText,
  };
}
