/**
 * mailwire: SMTP, LMTP and POP3 clients on Web streams, for Deno, Bun, Node
 * and Cloudflare Workers, with zero dependencies.
 *
 * Everything Python's `smtplib` and `poplib` do, secure by default:
 * verified TLS (STARTTLS, STLS or implicit), no credentials over clear text
 * unless you opt in, CR/LF/NUL refused in every argument before a byte is
 * sent, a deadline and an AbortSignal on every wait, capped replies, and a
 * transcript that never shows a secret.
 *
 * Entry points: `@mailwire/mailwire/smtp` ({@linkcode SmtpClient},
 * {@linkcode LmtpClient}), `@mailwire/mailwire/pop3` ({@linkcode Pop3Client}),
 * `@mailwire/mailwire/auth` (SASL mechanisms shared by both) and
 * `@mailwire/mailwire/tls` (the socket seam: bring your own `connector`) and
 * `@mailwire/mailwire/message` ({@linkcode composeMessage},
 * {@linkcode parseMessage}, {@linkcode dkimSign}).
 * This module re-exports them all.
 *
 * @example Send, then read back
 * ```ts
 * import { parseMessage, Pop3Client, SmtpClient } from "@mailwire/mailwire";
 *
 * async function roundTrip(password: string) {
 *   const auth = { username: "me@example.com", password };
 *   {
 *     await using smtp = await SmtpClient.connect({ hostname: "mail.example.com", auth });
 *     // From, Date and Message-ID included; encoded words where needed.
 *     await smtp.send({ from: "me@example.com", to: "me@example.com", subject: "hi", text: "Hello" });
 *   }
 *   await using pop = await Pop3Client.connect({ hostname: "mail.example.com", auth });
 *   const { count } = await pop.stat();
 *   const message = await parseMessage(await pop.retr(count));
 *   console.log(message.subject, message.text); // "hi" "Hello\r\n"
 *   await pop.quit();
 * }
 * console.log(typeof roundTrip); // "function"
 * ```
 *
 * @module
 */
export * from "./smtp/mod.ts";
export * from "./pop3/mod.ts";
export * from "./auth/mod.ts";
export * from "./tls/mod.ts";
export * from "./message/mod.ts";
export { VERSION } from "./io/version.ts";
