import { InvalidInputError } from "../errors.ts";
import { headerEnd, headerFields } from "../io/headers.ts";
import { parseAddressList } from "./address.ts";

/**
 * The envelope taken from a message's headers, and the bytes to transmit.
 *
 * @example
 * ```ts
 * import { envelopeFromMessage, type MessageEnvelope } from "@mailwire/mailwire/smtp";
 * const message = new TextEncoder().encode("From: ann@x.test\r\nTo: bob@x.test\r\n\r\nHi\r\n");
 * const envelope: MessageEnvelope = envelopeFromMessage(message);
 * console.log(envelope.from, envelope.to, envelope.international); // "ann@x.test" ["bob@x.test"] false
 * ```
 */
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

/**
 * Derive the envelope the way smtplib's `send_message` does: sender from
 * `Sender`, else `From`; recipients from `To`, `Cc` and `Bcc`. With exactly
 * one `Resent-*` block (one `Resent-Date`), the `Resent-` fields are used
 * instead; more than one block is an error. `Bcc` and `Resent-Bcc` are
 * removed from the transmitted copy.
 *
 * @example
 * ```ts
 * import { envelopeFromMessage } from "@mailwire/mailwire/smtp";
 * const message = new TextEncoder().encode(
 *   "From: Ann <ann@x.test>\r\nTo: bob@x.test\r\nBcc: eve@x.test\r\n\r\nHi\r\n",
 * );
 * const { from, to, parts } = envelopeFromMessage(message);
 * console.log(from, to); // "ann@x.test" ["bob@x.test", "eve@x.test"]
 * const sent = parts.map((p) => new TextDecoder().decode(p)).join("");
 * console.log(sent); // "From: Ann <ann@x.test>\r\nTo: bob@x.test\r\n\r\nHi\r\n"
 * ```
 */
export function envelopeFromMessage(
  message: Uint8Array,
  overrides: { from?: string; to?: string[] } = {},
): MessageEnvelope {
  const end = headerEnd(message);
  const head = message.subarray(0, end);
  const list = headerFields(head);
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
