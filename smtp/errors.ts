import type { SmtpReply } from "../io/smtp_reply.ts";
import { MailwireError } from "../errors.ts";
import type { OAuthErrorInfo } from "../io/oauth.ts";

/**
 * Base class of the SMTP errors (smtplib's `SMTPException`).
 *
 * @example
 * ```ts
 * import { SmtpError } from "@mailwire/mailwire/smtp";
 * console.log(new SmtpError("boom") instanceof Error); // true
 * ```
 */
export class SmtpError extends MailwireError {}

/**
 * The server closed the connection, or a method needing a connection was
 * called without one (smtplib's `SMTPServerDisconnected`).
 *
 * @example
 * ```ts
 * import { SmtpServerDisconnectedError } from "@mailwire/mailwire/smtp";
 * console.log(new SmtpServerDisconnectedError("not connected").name);
 * ```
 */
export class SmtpServerDisconnectedError extends SmtpError {}

/**
 * The connection was lost (or timed out) after the end of the message data
 * was sent and before the server's reply: the message MAY have been
 * delivered. Never retried automatically; retrying risks a duplicate.
 *
 * @example
 * ```ts
 * import { SmtpOutcomeUnknownError } from "@mailwire/mailwire/smtp";
 * const err = new SmtpOutcomeUnknownError("outcome unknown");
 * console.log(err.name); // "SmtpOutcomeUnknownError"
 * ```
 */
export class SmtpOutcomeUnknownError extends SmtpServerDisconnectedError {
  /**
   * The recipients whose outcome is unknown; empty when it is the whole
   * message (SMTP: one reply for everyone).
   */
  readonly recipients: readonly string[];
  /** Recipients refused before the connection failed (LMTP), with the replies. */
  readonly refused: ReadonlyMap<string, SmtpReply>;
  /**
   * Create from a message; `recipients` and `refused` say who is unknown
   * and who was refused when only part of a delivery is known (LMTP).
   *
   * @example
   * ```ts
   * import { SmtpOutcomeUnknownError } from "@mailwire/mailwire/smtp";
   * const err = new SmtpOutcomeUnknownError("lost after the data", { recipients: ["b@x.test"] });
   * console.log(err.recipients); // ["b@x.test"]
   * ```
   */
  constructor(
    message: string,
    options?: ErrorOptions & {
      recipients?: readonly string[];
      refused?: ReadonlyMap<string, SmtpReply>;
    },
  ) {
    super(message, options);
    this.recipients = options?.recipients ?? [];
    this.refused = options?.refused ?? new Map();
  }
}

/**
 * The message was not sent: the connection failed (or the server said
 * `421`) before the end of its data went out, or before the server read
 * it, so the server cannot have accepted it. Safe to send again. Reported
 * by {@linkcode SmtpClient.sendMany} and the pool for the messages a
 * failure left unsent.
 *
 * @example
 * ```ts
 * import { SmtpNotSentError } from "@mailwire/mailwire/smtp";
 * const err = new SmtpNotSentError("not sent: the connection was lost first");
 * console.log(err.name); // "SmtpNotSentError"
 * ```
 */
export class SmtpNotSentError extends SmtpServerDisconnectedError {}

/**
 * The server answered with an error reply (smtplib's
 * `SMTPResponseException`).
 *
 * @example
 * ```ts
 * import { SmtpResponseError } from "@mailwire/mailwire/smtp";
 * const reply = { code: 550, lines: ["no"], text: "no", permanent: true, transient: false };
 * const err = new SmtpResponseError("mail refused", reply);
 * console.log(err.code, err.permanent); // 550 true
 * ```
 */
export class SmtpResponseError extends SmtpError {
  /** The server's full reply. */
  readonly reply: SmtpReply;
  /**
   * Create from a message and the server's reply (its text is appended to the message).
   *
   * @example
   * ```ts
   * import { SmtpResponseError } from "@mailwire/mailwire/smtp";
   * const reply = { code: 550, enhancedCode: "5.1.1", lines: ["5.1.1 no such user"], text: "5.1.1 no such user", permanent: true, transient: false };
   *
   * const err = new SmtpResponseError("recipient refused", reply);
   * console.log(err.message); // "recipient refused: 550 5.1.1 no such user"
   * ```
   */
  constructor(message: string, reply: SmtpReply, options?: ErrorOptions) {
    super(`${message}: ${reply.code} ${reply.text}`, options);
    this.reply = reply;
  }
  /**
   * The reply code.
   *
   * @example
   * ```ts
   * import { SmtpResponseError } from "@mailwire/mailwire/smtp";
   * const reply = { code: 550, enhancedCode: "5.1.1", lines: ["5.1.1 no such user"], text: "5.1.1 no such user", permanent: true, transient: false };
   *
   * console.log(new SmtpResponseError("recipient refused", reply).code); // 550
   * ```
   */
  get code(): number {
    return this.reply.code;
  }
  /**
   * The enhanced status code, e.g. "5.7.8", when the server sent one.
   *
   * @example
   * ```ts
   * import { SmtpResponseError } from "@mailwire/mailwire/smtp";
   * const reply = { code: 550, enhancedCode: "5.1.1", lines: ["5.1.1 no such user"], text: "5.1.1 no such user", permanent: true, transient: false };
   *
   * console.log(new SmtpResponseError("recipient refused", reply).enhancedCode); // "5.1.1"
   * ```
   */
  get enhancedCode(): string | undefined {
    return this.reply.enhancedCode;
  }
  /**
   * A 5xx reply: retrying as is will fail again.
   *
   * @example
   * ```ts
   * import { SmtpResponseError } from "@mailwire/mailwire/smtp";
   * const reply = { code: 550, enhancedCode: "5.1.1", lines: ["5.1.1 no such user"], text: "5.1.1 no such user", permanent: true, transient: false };
   *
   * console.log(new SmtpResponseError("recipient refused", reply).permanent); // true
   * ```
   */
  get permanent(): boolean {
    return this.reply.permanent;
  }
  /**
   * A 4xx reply: retrying later may work.
   *
   * @example
   * ```ts
   * import { SmtpResponseError } from "@mailwire/mailwire/smtp";
   * const reply = { code: 550, enhancedCode: "5.1.1", lines: ["5.1.1 no such user"], text: "5.1.1 no such user", permanent: true, transient: false };
   *
   * console.log(new SmtpResponseError("recipient refused", reply).transient); // false
   * ```
   */
  get transient(): boolean {
    return this.reply.transient;
  }
}

/**
 * The server refused the sender address (smtplib's `SMTPSenderRefused`).
 *
 * @example
 * ```ts
 * import { SmtpSenderRefusedError } from "@mailwire/mailwire/smtp";
 * const reply = { code: 553, lines: ["bad"], text: "bad", permanent: true, transient: false };
 * console.log(new SmtpSenderRefusedError("a@b.test", reply).sender); // "a@b.test"
 * ```
 */
export class SmtpSenderRefusedError extends SmtpResponseError {
  /** The refused sender address. */
  readonly sender: string;
  /**
   * Create for `sender` refused with `reply`.
   *
   * @example
   * ```ts
   * import { SmtpSenderRefusedError } from "@mailwire/mailwire/smtp";
   * const reply = { code: 553, lines: ["bad"], text: "bad", permanent: true, transient: false };
   * const err = new SmtpSenderRefusedError("me@example.com", reply);
   * console.log(err.message); // "sender refused: 553 bad"
   * ```
   */
  constructor(sender: string, reply: SmtpReply, options?: ErrorOptions) {
    super("sender refused", reply, options);
    this.sender = sender;
  }
}

/**
 * Every recipient was refused (smtplib's `SMTPRecipientsRefused`). Nothing
 * was sent.
 *
 * @example
 * ```ts
 * import { SmtpRecipientsRefusedError } from "@mailwire/mailwire/smtp";
 * const reply = { code: 550, lines: ["unknown"], text: "unknown", permanent: true, transient: false };
 * const err = new SmtpRecipientsRefusedError(new Map([["x@y.test", reply]]));
 * console.log([...err.recipients.keys()]); // ["x@y.test"]
 * ```
 */
export class SmtpRecipientsRefusedError extends SmtpError {
  /** Each refused recipient with the server's reply. */
  readonly recipients: ReadonlyMap<string, SmtpReply>;
  /**
   * Create from the refused recipients.
   *
   * @example
   * ```ts
   * import { SmtpRecipientsRefusedError } from "@mailwire/mailwire/smtp";
   * const reply = { code: 550, lines: ["unknown"], text: "unknown", permanent: true, transient: false };
   * const err = new SmtpRecipientsRefusedError(new Map([["x@y.test", reply]]));
   * console.log(err.message); // "all 1 recipient(s) refused: 550 unknown"
   * ```
   */
  constructor(
    recipients: ReadonlyMap<string, SmtpReply>,
    options?: ErrorOptions,
  ) {
    const first = recipients.values().next().value;
    super(
      `all ${recipients.size} recipient(s) refused` +
        (first ? `: ${first.code} ${first.text}` : ""),
      options,
    );
    this.recipients = recipients;
  }
}

/**
 * The server refused the message data (smtplib's `SMTPDataError`).
 *
 * @example
 * ```ts
 * import { SmtpDataError } from "@mailwire/mailwire/smtp";
 * const reply = { code: 554, lines: ["spam"], text: "spam", permanent: true, transient: false };
 * console.log(new SmtpDataError("data refused", reply).code); // 554
 * ```
 */
export class SmtpDataError extends SmtpResponseError {}

/**
 * The greeting was not a 220 (smtplib's `SMTPConnectError`).
 *
 * @example
 * ```ts
 * import { SmtpConnectError } from "@mailwire/mailwire/smtp";
 * const reply = { code: 554, lines: ["go away"], text: "go away", permanent: true, transient: false };
 * console.log(new SmtpConnectError("connection refused", reply).code); // 554
 * ```
 */
export class SmtpConnectError extends SmtpResponseError {}

/**
 * The server refused HELO/EHLO (smtplib's `SMTPHeloError`).
 *
 * @example
 * ```ts
 * import { SmtpHeloError } from "@mailwire/mailwire/smtp";
 * const reply = { code: 501, lines: ["bad"], text: "bad", permanent: true, transient: false };
 * console.log(new SmtpHeloError("helo refused", reply).code); // 501
 * ```
 */
export class SmtpHeloError extends SmtpResponseError {}

/**
 * Authentication failed (smtplib's `SMTPAuthenticationError`). mailwire does
 * not retry with another mechanism: the same secret is never offered twice.
 *
 * @example
 * ```ts
 * import { SmtpAuthenticationError } from "@mailwire/mailwire/smtp";
 * const reply = { code: 535, enhancedCode: "5.7.8", lines: ["5.7.8 bad"], text: "5.7.8 bad", permanent: true, transient: false };
 * console.log(new SmtpAuthenticationError("authentication failed", reply).enhancedCode); // "5.7.8"
 * ```
 */
export class SmtpAuthenticationError extends SmtpResponseError {
  /** A failed XOAUTH2/OAUTHBEARER login: the server's error decoded (status, scope). */
  oauth?: OAuthErrorInfo;
}

/**
 * The server said `421`: it is closing the connection. mailwire closed it
 * too; reconnect later.
 *
 * @example
 * ```ts
 * import { SmtpServiceClosingError } from "@mailwire/mailwire/smtp";
 * const reply = { code: 421, lines: ["bye"], text: "bye", permanent: false, transient: true };
 * console.log(new SmtpServiceClosingError("server closing", reply).transient); // true
 * ```
 */
export class SmtpServiceClosingError extends SmtpResponseError {}

/**
 * The server lacks something the call needs (AUTH, STARTTLS, SMTPUTF8,
 * DSN, CHUNKING, a big enough SIZE) (smtplib's `SMTPNotSupportedError`).
 * Nothing was sent for that call.
 *
 * @example
 * ```ts
 * import { SmtpNotSupportedError } from "@mailwire/mailwire/smtp";
 * console.log(new SmtpNotSupportedError("server does not support smtputf8").message);
 * ```
 */
export class SmtpNotSupportedError extends SmtpError {}
