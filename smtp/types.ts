// The shapes of a send: MAIL/RCPT parameters, recipients, message data, sendMail/sendMessage options and results.

import type { SmtpReply } from "../io/smtp_reply.ts";
import type { ComposeOptions } from "../message/compose.ts";
import type { DkimOptions } from "../message/dkim.ts";
import type { SmtpCallOptions } from "./options.ts";
import type { SendProgress } from "./pipeline.ts";

/**
 * Typed MAIL FROM parameters.
 *
 * @example Ask for bounces with headers only (DSN)
 * ```ts
 * import type { MailOptions, SmtpClient } from "@mailwire/mailwire/smtp";
 * async function send(client: SmtpClient) {
 *   const mailOptions: MailOptions = { ret: "HDRS", envid: "order-42" }; // needs DSN
 *   await client.sendMail({
 *     from: "me@example.com",
 *     to: "you@example.com",
 *     data: "Subject: hi\r\n\r\nHello\r\n",
 *     mailOptions,
 *   });
 * }
 * console.log(typeof send); // "function"
 * ```
 */
export interface MailOptions {
  /** Declared size (SIZE=); set automatically for in-memory messages when offered. */
  size?: number;
  /** BODY=; `8BITMIME` is set automatically for 8-bit in-memory messages when offered. */
  body?: "7BIT" | "8BITMIME" | "BINARYMIME";
  /** SMTPUTF8; set automatically when an address is not ASCII. */
  smtputf8?: boolean;
  /** DSN RET= (RFC 3461). */
  ret?: "FULL" | "HDRS";
  /** DSN ENVID= (xtext-encoded by mailwire). */
  envid?: string;
  /** REQUIRETLS (RFC 8689): only allowed under TLS. */
  requireTls?: boolean;
  /** Raw extra parameters, e.g. `["MT-PRIORITY=3"]`. */
  params?: string[];
}

/**
 * Typed RCPT TO parameters.
 *
 * @example Delivery status notifications for one recipient
 * ```ts
 * import type { RcptOptions, SmtpClient } from "@mailwire/mailwire/smtp";
 * async function envelope(client: SmtpClient) {
 *   await client.mail("me@example.com");
 *   const dsn: RcptOptions = { notify: ["FAILURE", "DELAY"], orcpt: "you@example.com" };
 *   const reply = await client.rcpt("you@example.com", dsn); // needs DSN
 *   console.log(reply.code); // 250
 * }
 * console.log(typeof envelope); // "function"
 * ```
 */
export interface RcptOptions {
  /** DSN NOTIFY=. */
  notify?: "NEVER" | Array<"SUCCESS" | "FAILURE" | "DELAY">;
  /** DSN ORCPT=rfc822;<addr> (xtext-encoded by mailwire). */
  orcpt?: string;
  /** Raw extra parameters. */
  params?: string[];
}

/**
 * A recipient: an address, or an address with its own RCPT options.
 *
 * @example
 * ```ts
 * import type { Recipient } from "@mailwire/mailwire/smtp";
 * const to: Recipient[] = [
 *   "you@example.com",
 *   { address: "boss@example.com", notify: "NEVER" },
 * ];
 * console.log(to.length); // 2
 * ```
 */
export type Recipient = string | ({ address: string } & RcptOptions);

/**
 * Message content: text (sent as UTF-8), bytes, or a stream of bytes.
 *
 * @example Stream a message from a file
 * ```ts
 * import type { MessageData, SmtpClient } from "@mailwire/mailwire/smtp";
 * async function sendFile(client: SmtpClient, file: ReadableStream<Uint8Array>) {
 *   const data: MessageData = file; // streamed, never held in memory whole
 *   await client.sendMail({ from: "me@example.com", to: "you@example.com", data });
 * }
 * console.log(typeof sendFile); // "function"
 * ```
 */
export type MessageData = string | Uint8Array | ReadableStream<Uint8Array>;

/**
 * Options of {@linkcode SmtpClient.sendMail}.
 *
 * @example
 * ```ts
 * import type { SendMailOptions } from "@mailwire/mailwire/smtp";
 * const bounce: SendMailOptions = {
 *   from: "", // the null sender <>
 *   to: "sender@example.com",
 *   data: "Subject: undeliverable\r\n\r\nSorry.\r\n",
 *   timeout: 120_000,
 * };
 * console.log(bounce.from === ""); // true
 * ```
 */
export interface SendMailOptions extends SmtpCallOptions {
  /** Envelope sender; `""` for the null sender `<>`. */
  from: string;
  /** Envelope recipients. */
  to: Recipient | Recipient[];
  /** The whole message (headers and body). Line ends are normalised to CRLF. */
  data: MessageData;
  /** MAIL FROM parameters. */
  mailOptions?: MailOptions;
  /** RCPT TO parameters for every recipient (per-recipient options win). */
  rcptOptions?: RcptOptions;
  /** Called as the message data goes out (`bytes` so far) and when it is done. */
  onProgress?: (progress: SendProgress) => void;
}

/**
 * Options of {@linkcode SmtpClient.sendMessage}.
 *
 * @example Override the recipients
 * ```ts
 * import type { SendMessageOptions, SmtpClient } from "@mailwire/mailwire/smtp";
 * async function archive(client: SmtpClient, message: string) {
 *   // A copy to the archive only, whatever To/Cc/Bcc say.
 *   const options: SendMessageOptions = { to: ["archive@example.com"] };
 *   await client.sendMessage(message, options);
 * }
 * console.log(typeof archive); // "function"
 * ```
 */
export interface SendMessageOptions extends SmtpCallOptions {
  /** Envelope sender instead of the one from the headers. */
  from?: string;
  /** Envelope recipients instead of To/Cc/Bcc. */
  to?: string[];
  /** MAIL FROM parameters. */
  mailOptions?: MailOptions;
  /** RCPT TO parameters for every recipient. */
  rcptOptions?: RcptOptions;
  /** Called as the message data goes out (`bytes` so far) and when it is done. */
  onProgress?: (progress: SendProgress) => void;
}

/**
 * What a send returns: every recipient is delivered (`accepted`), refused
 * (`refused`, with the server's reply), or of unknown outcome (`unknown`:
 * LMTP only, when the connection failed between the per-recipient replies;
 * those may have been delivered, so don't resend blindly). A send that
 * delivered to anyone returns, never throws.
 *
 * @example
 * ```ts
 * import type { SendResult, SmtpClient } from "@mailwire/mailwire/smtp";
 * async function send(client: SmtpClient): Promise<SendResult> {
 *   const result = await client.sendMail({
 *     from: "me@example.com",
 *     to: ["a@example.com", "b@example.com"],
 *     data: "Subject: hi\r\n\r\nHello\r\n",
 *   });
 *   for (const [address, reply] of result.refused) console.log(address, reply.code);
 *   return result;
 * }
 * console.log(typeof send); // "function"
 * ```
 */
export interface SendResult {
  /** The server's reply to the end of the data (LMTP: the last one received). */
  reply: SmtpReply;
  /** Recipients the message was accepted for (LMTP: delivered to). */
  accepted: string[];
  /** Refused recipients with the server's reply (smtplib's return value). */
  refused: Map<string, SmtpReply>;
  /** Recipients whose outcome is unknown (LMTP: no reply came for them). */
  unknown: string[];
  /** LMTP only: each recipient's delivery reply after the data. */
  deliveries?: Map<string, SmtpReply>;
  /** The `Message-ID` (with `<>`) of a composed message: set by `send()` and by `sendMessage()` of a composed message. */
  messageId?: string;
}

/**
 * Options of {@linkcode SmtpClient.send}: what `composeMessage` takes
 * (`from`, `to`, `cc`, `bcc`, `subject`, `text`, `html`, `attachments`, …,
 * the names nodemailer users know), plus the send's own.
 *
 * @example
 * ```ts
 * import type { SendOptions } from "@mailwire/mailwire/smtp";
 * const mail: SendOptions = {
 *   from: { name: "Jörg", address: "jorg@example.com" },
 *   to: "you@example.com",
 *   subject: "Grüße",
 *   text: "Hello",
 *   html: "<p>Hello</p>",
 *   attachments: [{ filename: "report.csv", content: "a,b\n1,2\n" }],
 *   timeout: 120_000,
 * };
 * console.log(mail.subject);
 * ```
 */
export interface SendOptions extends ComposeOptions, SmtpCallOptions {
  /** MAIL FROM parameters (SMTPUTF8, 8BITMIME and SIZE are set as the message needs). */
  mailOptions?: MailOptions;
  /** RCPT TO parameters for every recipient. */
  rcptOptions?: RcptOptions;
  /** Sign with DKIM (instead of the client's `dkim` option). */
  dkim?: DkimOptions;
  /** Called as the message's bytes go out (see {@linkcode SendProgress}). */
  onProgress?: (progress: SendProgress) => void;
}
