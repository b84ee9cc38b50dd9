// send(): nodemailer-shaped options split into what composeMessage takes and what the send takes.

import { InvalidInputError } from "../errors.ts";
import { composeMessage, type ComposeOptions } from "../message/compose.ts";
import type { DkimOptions } from "../message/dkim.ts";
import type { ComposedMessage } from "../message/message.ts";
import type { SendMessageOptions, SendOptions } from "./types.ts";

/** The keys of `send()` that are the client's, not the composer's. */
const SEND_KEYS = new Set([
  "mailOptions",
  "rcptOptions",
  "signal",
  "timeout",
  "dkim",
  "onProgress",
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
