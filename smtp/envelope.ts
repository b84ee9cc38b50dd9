import { InvalidInputError } from "../tls/errors.ts";
import { parseAddressList } from "./address.ts";

/** The envelope taken from a message's headers, and the bytes to transmit. */
export interface MessageEnvelope {
  /** Envelope sender. */
  from: string;
  /** Envelope recipients, in header order, without duplicates. */
  to: string[];
  /** The message to send: Bcc and Resent-Bcc fields removed. */
  parts: Uint8Array[];
  /** Whether an address is non-ASCII (needs SMTPUTF8). */
  international: boolean;
}

const decoder = new TextDecoder();

/** Offset just past the header block's last line end (or the length). */
function headerEnd(bytes: Uint8Array): number {
  // A message that starts with a blank line has no header fields at all.
  if (bytes[0] === 10 || (bytes[0] === 13 && bytes[1] === 10)) return 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) {
    if (bytes[i + 1] === 10) return i + 1;
    if (bytes[i + 1] === 13 && bytes[i + 2] === 10) return i + 1;
  }
  return bytes.length;
}

interface Field {
  name: string;
  value: string;
  start: number;
  end: number;
}

/** Split the header block into unfolded fields with their byte ranges. */
function fields(head: Uint8Array): Field[] {
  const out: Field[] = [];
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

/**
 * Derive the envelope the way smtplib's `send_message` does: sender from
 * `Sender`, else `From`; recipients from `To`, `Cc` and `Bcc`. With exactly
 * one `Resent-*` block (one `Resent-Date`), the `Resent-` fields are used
 * instead; more than one block is an error. `Bcc` and `Resent-Bcc` are
 * removed from the transmitted copy.
 */
export function envelopeFromMessage(
  message: Uint8Array,
  overrides: { from?: string; to?: string[] } = {},
): MessageEnvelope {
  const end = headerEnd(message);
  const head = message.subarray(0, end);
  const list = fields(head);
  const all = (name: string) =>
    list.filter((f) => f.name === name).map((f) => f.value);
  const resentDates = all("resent-date").length;
  if (resentDates > 1) {
    throw new InvalidInputError(
      "message has more than one resent- header block",
    );
  }
  const prefix = resentDates === 1 ? "resent-" : "";
  let from = overrides.from;
  if (from === undefined) {
    const sender = all(prefix + "sender")[0] ?? all(prefix + "from")[0];
    from = sender === undefined ? undefined : parseAddressList(sender)[0];
  }
  if (from === undefined) {
    throw new InvalidInputError("message has no sender or from header");
  }
  let to = overrides.to;
  if (to === undefined) {
    const seen = new Set<string>();
    to = [];
    for (const name of ["to", "cc", "bcc"]) {
      for (const value of all(prefix + name)) {
        for (const addr of parseAddressList(value)) {
          if (!seen.has(addr)) {
            seen.add(addr);
            to.push(addr);
          }
        }
      }
    }
  }
  const drop = list.filter((f) => f.name === "bcc" || f.name === "resent-bcc");
  let parts: Uint8Array[] = [message];
  if (drop.length) {
    const kept: Uint8Array[] = [];
    let pos = 0;
    for (const f of drop) {
      if (f.start > pos) kept.push(head.subarray(pos, f.start));
      pos = f.end;
    }
    kept.push(message.subarray(pos));
    parts = kept;
  }
  const international = [from, ...to].some((a) => /[\u0080-\uffff]/.test(a));
  return { from, to, parts, international };
}
