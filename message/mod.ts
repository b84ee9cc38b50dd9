/**
 * Messages users don't hand-write: {@linkcode composeMessage} builds a MIME
 * message from nodemailer-style options and streams it (attachments
 * base64-encoded while they stream), {@linkcode dkimSign} signs it with DKIM
 * (rsa-sha256 or ed25519-sha256 on WebCrypto, the body hashed as it
 * streams), and {@linkcode parseMessage} reads what POP3 returns (headers,
 * MIME tree, decoded bodies, attachments), capped against hostile input.
 * No sockets: this layer only makes and reads bytes.
 *
 * Send a composed message with the SMTP client's `sendMail`: the message
 * carries its envelope (Bcc included, never in the headers) and says
 * whether it needs SMTPUTF8 and 8BITMIME.
 *
 * @example Compose, sign, send
 * ```ts
 * import { composeMessage, dkimSign } from "@mailwire/mailwire/message";
 * import { SmtpClient } from "@mailwire/mailwire/smtp";
 *
 * async function send(client: SmtpClient, privateKey: CryptoKey) {
 *   const message = await dkimSign(
 *     composeMessage({
 *       from: { name: "Ann Lee", address: "ann@example.com" },
 *       to: "bob@example.org",
 *       subject: "Grüße",
 *       text: "Hello Bob",
 *       html: "<p>Hello <b>Bob</b></p>",
 *       attachments: [{ filename: "report.pdf", content: new Uint8Array(8) }],
 *     }),
 *     { domain: "example.com", selector: "mail", privateKey, algorithm: "ed25519-sha256" },
 *   );
 *   await client.sendMail({
 *     from: message.envelope.from,
 *     to: message.envelope.to,
 *     data: message.stream(),
 *     mailOptions: {
 *       smtputf8: message.smtputf8,
 *       body: message.eightBit ? "8BITMIME" : undefined,
 *       size: message.size,
 *     },
 *   });
 * }
 * console.log(typeof send);
 * ```
 *
 * @example Parse what POP3 returned
 * ```ts
 * import { parseMessage } from "@mailwire/mailwire/message";
 *
 * const raw = new TextEncoder().encode(
 *   "From: =?utf-8?q?J=C3=B6rg?= <j@example.com>\r\nSubject: hi\r\n\r\nHello\r\n",
 * );
 * const message = await parseMessage(raw);
 * console.log(message.from?.name, message.subject, message.text); // "Jörg" "hi" "Hello\r\n"
 * ```
 *
 * @module
 */
export {
  type AttachmentInput,
  composeMessage,
  type ComposeOptions,
} from "./compose.ts";
export type { ComposedMessage } from "./message.ts";
export type { Address, AddressInput } from "./address.ts";
export {
  type DkimCanonicalization,
  dkimDnsRecord,
  type DkimOptions,
  dkimSign,
} from "./dkim.ts";
export {
  type HeaderField,
  type MimePart,
  type ParsedAttachment,
  type ParsedMessage,
  parseMessage,
  type ParseOptions,
} from "./parse.ts";
export { type MessageLimit, MessageLimitError } from "./errors.ts";
export { InvalidInputError, MailwireError } from "../errors.ts";
