/**
 * The header block of an RFC 5322 message, split into unfolded fields with
 * their byte ranges (so fields can be dropped without re-encoding the rest).
 */

const decoder = new TextDecoder();

/** Offset just past the header block's last line end (or the length). */
export function headerEnd(bytes: Uint8Array): number {
  // A message that starts with a blank line has no header fields at all.
  if (bytes[0] === 10 || (bytes[0] === 13 && bytes[1] === 10)) return 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) {
    if (bytes[i + 1] === 10) return i + 1;
    if (bytes[i + 1] === 13 && bytes[i + 2] === 10) return i + 1;
  }
  return bytes.length;
}

/** One header field. */
export interface HeaderField {
  /** Lower-case field name. */
  name: string;
  /** Unfolded, trimmed value. */
  value: string;
  /** Byte offset where the field starts. */
  start: number;
  /** Byte offset just past its last line end. */
  end: number;
}

/** Split the header block into unfolded fields with their byte ranges. */
export function headerFields(head: Uint8Array): HeaderField[] {
  const out: HeaderField[] = [];
  let pos = 0;
  while (pos < head.length) {
    let end = pos;
    for (;;) {
      const nl = head.indexOf(10, end);
      end = nl === -1 ? head.length : nl + 1;
      if (end >= head.length || (head[end] !== 32 && head[end] !== 9)) break;
    }
    const text = decoder.decode(head.subarray(pos, end));
    const colon = text.indexOf(":");
    if (colon > 0) {
      out.push({
        name: text.slice(0, colon).trim().toLowerCase(),
        value: text.slice(colon + 1).replace(/\r?\n[ \t]/g, " ").trim(),
        start: pos,
        end,
      });
    }
    pos = end;
  }
  return out;
}
