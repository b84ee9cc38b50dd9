// One SMTP/LMTP mail transaction: envelope, DATA or BDAT, the final replies, and what is known when something fails.

import { MailwireError } from "../errors.ts";
import type { Deadline } from "../io/deadline.ts";
import { DotStuffer } from "../io/dot.ts";
import type { Session } from "../io/session.ts";
import type { SmtpReply } from "../io/smtp_reply.ts";
import {
  accepts,
  isAscii,
  mailLine,
  rcptLine,
  type ServerTraits,
  validateAddress,
} from "./commands.ts";
import type { Dialect } from "./dialect.ts";
import {
  SmtpDataError,
  SmtpOutcomeUnknownError,
  SmtpRecipientsRefusedError,
  SmtpResponseError,
  SmtpSenderRefusedError,
} from "./errors.ts";
import { InvalidInputError } from "../errors.ts";
import { BodyReader } from "./body_reader.ts";
import { assertSafe } from "../io/validate.ts";
import type {
  MailOptions,
  RcptOptions,
  Recipient,
  SendResult,
} from "./types.ts";

/** In-memory bodies over this size wait for the envelope's replies before the data goes out. */
export const TWO_PHASE_LIMIT = 1 << 20;

/** What a transaction needs from its client. @internal */
export interface Wire {
  readonly session: Session;
  readonly dialect: Dialect;
  /** The server as last greeted. */
  traits(): ServerTraits;
  /** PIPELINING offered and not turned off. */
  pipelining(): boolean;
  /** CHUNKING (with PIPELINING) offered and not turned off. */
  chunking(): boolean;
  /** Greet (EHLO, HELO fallback) unless done. */
  greet(d: Deadline): Promise<void>;
  /** Send lines (and extra bytes) in one write; `log` replaces them in the transcript. */
  send(
    lines: readonly string[],
    d: Deadline,
    extra?: readonly Uint8Array[],
    log?: readonly string[],
  ): Promise<void>;
  /** Read one reply; a 421 closes and throws, unless `keep421`. */
  read(d: Deadline, keep421?: boolean): Promise<SmtpReply>;
  /**
   * Read one reply (421 kept): a single-line `quick` reply comes back as
   * its code alone, synchronously when it is already buffered.
   */
  readQuick(
    d: Deadline,
    quick: number,
  ): number | SmtpReply | Promise<number | SmtpReply>;
  /**
   * Take up to `max` single-line `quick` replies that are already buffered
   * in full, one after the other, without reading; return how many. It
   * stops before any other reply (left for {@linkcode Wire.readQuick}),
   * and takes none while the transcript is kept.
   */
  readQuickRun(quick: number, max: number): number;
  /** Write bytes already built and checked (mid-batch: replies may be owed); `log` goes to the transcript. */
  write(
    parts: readonly Uint8Array[],
    d: Deadline,
    log?: readonly string[],
  ): Promise<void>;
  /** Send a command when connected, ignoring the outcome (RSET after a refusal). */
  quietly(line: string, d: Deadline): Promise<void>;
}

/** One message to send. @internal */
export interface Transaction {
  from: string;
  recipients: Recipient[];
  /** In-memory parts (not yet encoded), or a stream. */
  body: Uint8Array[] | ReadableStream<Uint8Array>;
  mailOptions?: MailOptions;
  rcptOptions?: RcptOptions;
  /** Known 8-bit-ness of the body (text given as a string), when cheaper than a scan. */
  eightBitHint?: boolean;
}

/** Refuse a transaction's bad input before a byte is sent. @internal */
export function checkTransaction(t: Transaction): void {
  if (t.recipients.length === 0) throw new InvalidInputError("no recipients");
  validateAddress(t.from, "sender", true);
  for (const p of t.mailOptions?.params ?? []) assertSafe(p, "mail parameter");
  for (const r of t.recipients) {
    if (typeof r === "string") validateAddress(r, "recipient", false);
    else if (r === null || typeof r !== "object") {
      throw new InvalidInputError(
        "a recipient must be a string or { address }",
      );
    } else validateAddress(r.address, "recipient", false);
  }
  for (const r of [t.rcptOptions ?? {}, ...t.recipients]) {
    if (typeof r === "string") continue;
    for (const p of r.params ?? []) assertSafe(p, "rcpt parameter");
  }
}

/**
 * Send one message (validated by {@linkcode checkTransaction}) within `d`.
 * After the final dot every recipient is accounted for: accepted, refused
 * or (LMTP, connection lost between the per-recipient replies) unknown; a
 * delivery is never hidden behind an error.
 */
export async function sendTransaction(
  w: Wire,
  d: Deadline,
  t: Transaction,
): Promise<SendResult> {
  const s = w.session;
  await w.greet(d);
  s.phase = "mail";
  const rcpts = t.recipients.map((r) =>
    typeof r === "string" ? { address: r } : r
  );
  const mailOptions: MailOptions = { ...t.mailOptions };
  const internationalRecipients = rcpts.some((r) => !isAscii(r.address));
  const traits = w.traits();
  const inMemory = Array.isArray(t.body);
  let payload: Uint8Array[] | undefined;
  let size = 0; // bytes on the wire
  let messageSize: number | undefined; // RFC 1870: without stuffing and end marker
  let eightBit: boolean | undefined;
  if (inMemory) {
    // One pass: CRLF-normalise (and dot-stuff for DATA), note 8-bit bytes.
    const enc = new DotStuffer(true);
    payload = [];
    for (const p of t.body as Uint8Array[]) {
      const out = enc.push(p);
      if (out.length) payload.push(out);
    }
    const tail = enc.end();
    if (tail.length) payload.push(tail);
    for (const p of payload) size += p.length;
    messageSize = size - 3 - enc.dotsAdded;
    if (mailOptions.body === undefined) {
      eightBit = t.eightBitHint ?? enc.eightBit;
    }
  }
  // Build (and so validate) every line before sending a byte.
  const mail = mailLine(t.from, mailOptions, traits, {
    size: messageSize,
    eightBit,
    internationalRecipients,
  });
  const smtputf8 = mail.includes(" SMTPUTF8");
  const rcptLines = rcpts.map((r) =>
    rcptLine(r, t.rcptOptions ?? {}, traits, smtputf8)
  );
  const accepted: string[] = [];
  const refused = new Map<string, SmtpReply>();
  const sortRcpt = (reply: SmtpReply, i: number) => {
    if (accepts(reply)) accepted.push(rcpts[i].address);
    else refused.set(rcpts[i].address, reply);
  };
  /** The refusal of a transaction whose envelope failed, after RSET. */
  const refusal = async (mailReply: SmtpReply) => {
    await w.quietly("RSET", d);
    return mailReply.code !== 250
      ? new SmtpSenderRefusedError(t.from, mailReply)
      : new SmtpRecipientsRefusedError(refused);
  };

  // One command at a time, over DATA: a server that offers PIPELINING gets
  // its messages through smtp/pipeline.ts (BDAT too), never here.
  await w.send([mail], d);
  const m = await w.read(d);
  if (m.code !== 250) throw await refusal(m);
  s.phase = "rcpt";
  for (let i = 0; i < rcptLines.length; i++) {
    await w.send([rcptLines[i]], d);
    sortRcpt(await w.read(d), i);
  }
  if (accepted.length === 0) throw await refusal(m);
  s.phase = "data";
  await w.send(["DATA"], d);
  const dataReply = await w.read(d);
  if (dataReply.code !== 354) {
    await w.quietly("RSET", d);
    throw new SmtpDataError("data refused", dataReply);
  }
  if (payload) {
    await w.send([], d, payload, [`<${size} bytes of message data>`]);
  } else {
    await sendBody(w, d, t.body as ReadableStream<Uint8Array>);
  }
  return await finish(w, d, accepted, refused);
}

/** Stream a body after a 354: normalised, dot-stuffed and terminated on the fly. @internal */
export async function sendBody(
  w: Wire,
  d: Deadline,
  data: ReadableStream<Uint8Array>,
): Promise<void> {
  const s = w.session;
  const enc = new DotStuffer(true);
  let reader: BodyReader | undefined;
  let total = 0;
  try {
    reader = new BodyReader(data);
    for (;;) {
      const value = await reader.read(d);
      if (value === undefined) break;
      const out = enc.push(value);
      total += out.length;
      if (out.length) {
        await s.io((ch) => ch.send([out], d, "sending message data"));
      }
      // Written (or copied by the stuffer): its buffer may be read into again.
      reader.recycle();
    }
  } catch (err) {
    reader?.cancel(err);
    // The server is waiting for the end of data: the session can't be saved.
    await s.close();
    throw err;
  } finally {
    reader?.releaseLock();
  }
  const tail = enc.end();
  await w.send([], d, [tail], [
    `<${total + tail.length} bytes of message data>`,
  ]);
}

/**
 * Read the replies after the end of data and account for every accepted
 * recipient. SMTP: one reply for all; refused → SmtpDataError. LMTP: one
 * per recipient, in order; a lost connection or a 421 part way leaves the
 * rest unknown, reported in the result as long as anyone got the message.
 */
async function finish(
  w: Wire,
  d: Deadline,
  accepted: string[],
  refused: Map<string, SmtpReply>,
): Promise<SendResult> {
  const s = w.session;
  s.phase = "data reply";
  if (!w.dialect.replyPerRecipient) {
    let reply: SmtpReply;
    try {
      reply = await w.read(d);
    } catch (err) {
      throw await outcomeUnknown(s, err);
    }
    if (reply.code !== 250) {
      const refusal = s.annotate(
        new SmtpDataError("message refused", reply),
        "data reply",
      );
      await w.quietly("RSET", d);
      throw refusal;
    }
    return { reply, accepted, refused, unknown: [] };
  }
  const replies = await lmtpReplies(w, d, accepted.length);
  const deliveries = new Map<string, SmtpReply>();
  const delivered: string[] = [];
  replies.forEach((r, i) => {
    deliveries.set(accepted[i], r);
    if (r.code === 250) delivered.push(accepted[i]);
    else refused.set(accepted[i], r);
  });
  const unknown = accepted.slice(replies.length);
  if (delivered.length === 0) {
    if (unknown.length > 0) {
      throw new SmtpOutcomeUnknownError(
        `the connection failed before the server answered for ${unknown.length} recipient(s); they may have received the message`,
        { cause: replies.failure, recipients: unknown, refused },
      );
    }
    throw s.annotate(new SmtpRecipientsRefusedError(refused), "data reply");
  }
  return {
    reply: replies[replies.length - 1],
    accepted: delivered,
    refused,
    unknown,
    deliveries,
  };
}

/** LMTP's per-recipient replies; stops (closing) at a 421 or a failure, and says why. */
async function lmtpReplies(
  w: Wire,
  d: Deadline,
  count: number,
): Promise<SmtpReply[] & { failure?: unknown }> {
  const replies: SmtpReply[] & { failure?: unknown } = [];
  for (let i = 0; i < count; i++) {
    let reply: SmtpReply;
    try {
      reply = await w.read(d, true);
    } catch (err) {
      if (!(err instanceof MailwireError) || err instanceof SmtpResponseError) {
        throw err;
      }
      await w.session.close();
      replies.failure = err;
      return replies;
    }
    replies.push(reply);
    if (reply.code === 421) {
      await w.session.close();
      return replies;
    }
  }
  return replies;
}

/**
 * Read the replies after a hand-driven end of data (`data()`, `bdat(last)`):
 * one, or one per accepted recipient in LMTP. A failure is outcome-unknown.
 * @internal
 */
export async function finalReplies(
  w: Wire,
  d: Deadline,
  count: number,
): Promise<SmtpReply[]> {
  const replies: SmtpReply[] = [];
  try {
    for (let i = 0; i < count; i++) replies.push(await w.read(d));
  } catch (err) {
    throw await outcomeUnknown(w.session, err);
  }
  return replies;
}

/**
 * Any failure other than a server reply once the whole message was sent
 * (disconnect, timeout, abort, a garbled reply): the server may have
 * queued the message, so the outcome is unknown.
 */
async function outcomeUnknown(s: Session, err: unknown): Promise<unknown> {
  if (
    !(err instanceof MailwireError) || err instanceof SmtpResponseError ||
    err instanceof SmtpOutcomeUnknownError
  ) {
    return err;
  }
  await s.close();
  return new SmtpOutcomeUnknownError(
    "the connection failed after the message was sent; it may have been delivered",
    { cause: err },
  );
}
