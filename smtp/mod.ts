/**
 * SMTP and LMTP clients: everything Python's `smtplib` does, on Web
 * streams, for Deno, Bun, Node and Workers.
 *
 * - {@linkcode SmtpClient}: connect with `tls: "starttls"` (default),
 *   `"implicit"` (port 465), `"opportunistic"` or `"none"`; `login` picks the
 *   strongest SASL mechanism offered; `sendMail` sends raw messages with
 *   PIPELINING and CHUNKING when offered; `sendMessage` takes the envelope
 *   from the headers like smtplib's `send_message`.
 * - {@linkcode LmtpClient}: LHLO and one reply per recipient.
 * - Errors mirror smtplib's exceptions: {@linkcode SmtpResponseError} carries
 *   `code`, `enhancedCode` and `permanent`.
 *
 * Secure by default: certificates are verified, credentials never cross a
 * connection without TLS unless you set `allowInsecureAuth`, CR/LF/NUL in
 * any argument is refused before a byte is sent, every wait has a deadline,
 * and the transcript (`logger`) never shows a secret.
 *
 * @example
 * ```ts
 * import { SmtpClient } from "@mailwire/mailwire/smtp";
 * async function send(password: string) {
 *   await using client = await SmtpClient.connect({
 *     hostname: "smtp.example.com",
 *     auth: { username: "me@example.com", password },
 *   });
 *   await client.sendMessage(
 *     "From: me@example.com\r\nTo: you@example.com\r\nSubject: hi\r\n\r\nHello\r\n",
 *   );
 * }
 * console.log(typeof send); // "function"
 * ```
 *
 * @module
 */
export { SmtpClient } from "./client.ts";
export type {
  SmtpAuthOptions,
  SmtpCallOptions,
  SmtpClientOptions,
  SmtpLoginOptions,
  SmtpTlsMode,
} from "./options.ts";
export type {
  MailOptions,
  MessageData,
  RcptOptions,
  Recipient,
  SendMailOptions,
  SendMessageOptions,
  SendOptions,
  SendResult,
} from "./types.ts";
export type {
  BatchMessage,
  ComposedLike,
  SendManyOptions,
  SendManyResult,
} from "./many.ts";
export type { SendProgress } from "./pipeline.ts";
export { LmtpClient } from "./lmtp.ts";
export { SmtpPool, type SmtpPoolOptions } from "./pool.ts";
export * from "./errors.ts";
// The errors the client throws and the types its signatures use, so this
// entry point is self-contained.
export * from "../io/client_exports.ts";
export { parseAddressList } from "./address.ts";
export { envelopeFromMessage, type MessageEnvelope } from "./envelope.ts";
export type { SmtpReply } from "../io/smtp_reply.ts";
export type { OAuthErrorInfo, TokenProvider } from "../io/oauth.ts";
