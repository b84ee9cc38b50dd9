/**
 * The errors of `./message`: {@linkcode MessageLimitError}, thrown when a
 * message to parse goes past one of the parser's caps.
 *
 * @module
 */
import { MailwireError } from "../errors.ts";

/**
 * Which cap of {@linkcode parseMessage} a message went past.
 *
 * @example
 * ```ts
 * import type { MessageLimit } from "@mailwire/mailwire/message";
 * const limit: MessageLimit = "depth";
 * console.log(limit);
 * ```
 */
export type MessageLimit =
  | "size"
  | "depth"
  | "parts"
  | "headers"
  | "headerBytes";

/**
 * A message to parse went past one of the parser's caps (total size, MIME
 * nesting depth, part count, header fields per part or header block bytes).
 * The parser stops at the cap: it never holds more than the cap allows.
 *
 * @example
 * ```ts
 * import { MessageLimitError, parseMessage } from "@mailwire/mailwire/message";
 * const deep = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n".repeat(3);
 * try {
 *   await parseMessage(new TextEncoder().encode(deep), { maxDepth: 1 });
 * } catch (err) {
 *   if (err instanceof MessageLimitError) console.log(err.limit, err.max); // "depth" 1
 * }
 * ```
 */
export class MessageLimitError extends MailwireError {
  /** The cap that was hit. */
  readonly limit: MessageLimit;
  /** Its value. */
  readonly max: number;
  /**
   * Create the error for cap `limit` of value `max`.
   *
   * @example
   * ```ts
   * import { MessageLimitError } from "@mailwire/mailwire/message";
   * const err = new MessageLimitError("message larger than 10 bytes", "size", 10);
   * console.log(err.name, err.limit, err.max); // "MessageLimitError" "size" 10
   * ```
   */
  constructor(
    message: string,
    limit: MessageLimit,
    max: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.limit = limit;
    this.max = max;
  }
}
