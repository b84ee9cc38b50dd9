// Sending what message/ composes: a ComposedMessage as a transaction (envelope, SMTPUTF8, 8BITMIME, SIZE), DKIM on the way.

import { InvalidInputError } from "../errors.ts";
import { composeMessage, type ComposeOptions } from "../message/compose.ts";
import { type DkimOptions, dkimSign } from "../message/dkim.ts";
import type { ComposedMessage } from "../message/message.ts";
import type { Transaction } from "./transaction.ts";
import type { MailOptions, SendMessageOptions, SendOptions } from "./types.ts";

/** Composed messages up to this size are sent from memory (one round trip with BDAT); larger ones stream. */
const IN_MEMORY_LIMIT = 1 << 20;

/** Whether `value` is a message made by `composeMessage` / `dkimSign`. @internal */
export function isComposed(value: unknown): value is ComposedMessage {
  return typeof value === "object" && value !== null &&
    "envelope" in value && "head" in value &&
    typeof (value as ComposedMessage).stream === "function";
}

/**
 * The transaction that sends `message` (signed with `dkim` first, when
 * given): its envelope unless `options` override it, SMTPUTF8 and
 * BODY=8BITMIME as the bytes need, SIZE when known. Small replayable
 * messages go from memory; the rest stream, never held whole. @internal
 */
export async function composedTransaction(
  message: ComposedMessage,
  options: SendMessageOptions,
  dkim: DkimOptions | undefined,
): Promise<Transaction> {
  const signed = dkim ? await dkimSign(message, dkim) : message;
  const mailOptions: MailOptions = { ...options.mailOptions };
  if (signed.smtputf8) mailOptions.smtputf8 = true;
  if (signed.eightBit && mailOptions.body === undefined) {
    mailOptions.body = "8BITMIME";
  }
  if (mailOptions.size === undefined && signed.size !== undefined) {
    mailOptions.size = signed.size;
  }
  const small = signed.replayable && signed.size !== undefined &&
    signed.size <= IN_MEMORY_LIMIT;
  return {
    from: options.from ?? signed.envelope.from,
    recipients: options.to ?? [...signed.envelope.to],
    body: small ? [await signed.bytes()] : signed.stream(),
    mailOptions,
    rcptOptions: options.rcptOptions,
    eightBitHint: signed.eightBit,
  };
}

/** The keys of `send()` that are the client's, not the composer's. */
const SEND_KEYS = new Set([
  "mailOptions",
  "rcptOptions",
  "signal",
  "timeout",
  "dkim",
]);

/** Split `send()`'s options into the composer's and the client's, then compose. @internal */
export function composeForSend(
  options: SendOptions,
): { message: ComposedMessage; send: SendMessageOptions; dkim?: DkimOptions } {
  if (options === null || typeof options !== "object") {
    throw new InvalidInputError(
      "send needs { from, to, subject, text, ... }",
    );
  }
  const compose: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (!SEND_KEYS.has(key)) compose[key] = value;
  }
  const message = composeMessage(compose as unknown as ComposeOptions);
  return {
    message,
    send: {
      mailOptions: options.mailOptions,
      rcptOptions: options.rcptOptions,
      signal: options.signal,
      timeout: options.timeout,
    },
    dkim: options.dkim,
  };
}
