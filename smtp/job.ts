// A pipelined message's state and what decides its outcome: jobs, the write being assembled, line building, failure accounting.

import { AbortedError, InvalidInputError, MailwireError } from "../errors.ts";
import type { Deadline } from "../io/deadline.ts";
import { DotStuffer } from "../io/dot.ts";
import type { SmtpReply } from "../io/smtp_reply.ts";
import { isAscii, mailLine, rcptLine } from "./commands.ts";
import {
  SmtpNotSentError,
  SmtpOutcomeUnknownError,
  SmtpRecipientsRefusedError,
  SmtpResponseError,
  SmtpSenderRefusedError,
} from "./errors.ts";
import { type Transaction, TWO_PHASE_LIMIT, type Wire } from "./transaction.ts";
import type { MailOptions, SendResult } from "./types.ts";

export const WINDOW_BYTES = 1 << 20;
/** Most messages in flight at once. */
export const WINDOW_MESSAGES = 1000;
/** A write is sent once it holds this much. */
export const BATCH_BYTES = 64 * 1024;
/** Body parts at least this big are written as they are, never copied into a batch. */
export const NO_COPY = 16 * 1024;
/** BDAT chunks of a streamed body are gathered up to this size (small source chunks). */
export const STREAM_CHUNK = 64 * 1024;

/** How one message ended. @internal */
export type Outcome =
  | { ok: true; result: SendResult }
  | { ok: false; error: unknown };

/** Progress of a send, reported to `onProgress`. */
export interface SendProgress {
  /** Index of the message in the batch (0 for a single send). */
  readonly index: number;
  /** Bytes of this message's data written so far (on the wire). */
  readonly bytes: number;
  /** Messages of the batch with a final outcome so far. */
  readonly done: number;
}

/** One message handed to a pipeline. @internal */
export interface JobInput {
  /** The message (already checked by checkTransaction's callers, or failing in prepare). */
  t: Transaction | (() => Promise<Transaction>);
  /** Bounds every wait on this message's replies and writes. */
  d: Deadline;
  /** Withdraws the message while none of it was written. */
  signal?: AbortSignal;
  /** Index in its batch (for progress). */
  index: number;
  /** Called once with the outcome. */
  settle(outcome: Outcome, sent: SentState): void;
  /** Progress hook (batch-wide). */
  progress?: (p: SendProgress) => void;
}

/** How much of a message went out before its outcome: what the pool needs to decide on a retry. @internal */
export interface SentState {
  /** Some of its data (body bytes) was written. */
  readonly dataStarted: boolean;
  /** Its end of data was written. */
  readonly ended: boolean;
  /**
   * The server refused it with 421 before taking its end of data (and
   * closed): whatever was written of it was discarded, never delivered.
   */
  readonly discarded?: boolean;
}

/** Reply kinds, in the order a message's replies come. */
export const K = {
  Mail: 0,
  Rcpt: 1,
  /** A BDAT chunk that is not the last. */
  Chunk: 2,
  /** 354 to DATA. */
  Data: 3,
  /** After BDAT LAST or the dot (LMTP: one per accepted recipient). */
  Final: 4,
  Rset: 5,
} as const;
/** A reply kind. */
export type Kind = typeof K[keyof typeof K];

export interface Expect {
  job: Job;
  /** K.Rcpt stands for all of the job's RCPT replies (the next: `job.rcptSeen`). */
  kind: Kind;
}

/** A one-shot signal made on first use (most messages never wait on one). */
export class Gate {
  #p: Promise<boolean> | undefined;
  #r: ((v: boolean) => void) | undefined;
  #v: boolean | undefined;
  get promise(): Promise<boolean> {
    if (this.#v !== undefined) return Promise.resolve(this.#v);
    return this.#p ??= new Promise((r) => this.#r = r);
  }
  /** Whether it was opened (either way). */
  get opened(): boolean {
    return this.#v !== undefined;
  }
  open(v: boolean): void {
    if (this.#v !== undefined) return;
    this.#v = v;
    this.#r?.(v);
  }
}

export class Job {
  readonly in: JobInput;
  t!: Transaction;
  mail = "";
  rcpts: string[] = [];
  /** The MAIL and RCPT lines encoded ahead, CRLF each (see encodeEnvelope). */
  head: Uint8Array | undefined;
  addrs: string[] = [];
  payload: Uint8Array[] | undefined;
  size = 0;
  bdat = false;
  barrier = false;
  /** Its lines and payload are built (see build). */
  built = false;
  /** 0 nothing written, 1 envelope written, 2 end of data written. */
  written = 0;
  dataStarted = false;
  mailReply: SmtpReply | undefined;
  mailOk = false;
  rcptSeen = 0;
  accepted: string[] = [];
  refused = new Map<string, SmtpReply>();
  finals: SmtpReply[] = [];
  /** The refusal found (settled once its RSET is answered). */
  refusal: unknown;
  rsetOwed = false;
  /** The bytes this message put in flight (window accounting). */
  weight = 0;
  settled = false;
  /** The envelope's fate is known (two-phase BDAT). */
  readonly envelope = new Gate();
  /** 354 came (true) or DATA was refused (false). */
  readonly go = new Gate();
  bytesOut = 0;
  /** A 421 answered one of its commands before its end of data was taken. */
  discarded = false;

  constructor(input: JobInput) {
    this.in = input;
  }

  get envelopeOk(): boolean {
    return this.mailOk && this.accepted.length > 0;
  }

  /** Every envelope reply is in. */
  get envelopeRead(): boolean {
    return this.mailReply !== undefined && this.rcptSeen === this.rcpts.length;
  }

  envelopeRefusal(): unknown {
    return !this.mailOk
      ? new SmtpSenderRefusedError(this.t.from, this.mailReply!)
      : new SmtpRecipientsRefusedError(this.refused);
  }
}

/** A message source for a pipeline: jobs queued now, and possibly more to come. @internal */
export interface JobSource {
  /** Take the next job if one is ready now. */
  take(): JobInput | undefined;
  /** Resolves once a job is ready or the source is exhausted (takes nothing). */
  wait(): Promise<void>;
  /** Whether nothing is ready and nothing more will come. */
  exhausted(): boolean;
  /**
   * The pipeline is about to end (nothing in flight): return true to end
   * it (later jobs go elsewhere), false if a job arrived meanwhile.
   */
  end(): boolean;
  /** The connection failed: settle every job not taken yet (not sent). */
  drain(error: unknown): Promise<void>;
}

const encoder = new TextEncoder();

/** A write being assembled: command text and small parts copied into one buffer, big parts kept as they are. */
export class Batch {
  #buf = new Uint8Array(BATCH_BYTES + 1024);
  /** Where the unsealed part of #buf starts (bytes before it are handed out). */
  #start = 0;
  #n = 0;
  #parts: Uint8Array[] = [];
  #size = 0;
  /** The transcript lines of this write, when logging. */
  log: string[] | undefined;

  get size(): number {
    return this.#size + this.#n - this.#start;
  }

  /** Append a command line and its CRLF (`note` replaces it in the transcript). */
  line(text: string, note?: string): void {
    const len = text.length;
    this.#room(len * 3 + 2);
    const buf = this.#buf;
    let n = this.#n;
    let ascii = true;
    for (let i = 0; i < len; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) {
        ascii = false;
        break;
      }
      buf[n + i] = c;
    }
    if (ascii) n += len;
    else n += encoder.encodeInto(text, buf.subarray(n)).written;
    buf[n++] = 13;
    buf[n++] = 10;
    this.#n = n;
    this.log?.push(note ?? text);
  }

  /** Append bytes (copied when small, kept as they are when big). */
  bytes(part: Uint8Array): void {
    if (part.length >= NO_COPY) {
      this.#seal();
      this.#parts.push(part);
      this.#size += part.length;
      return;
    }
    this.#room(part.length);
    this.#buf.set(part, this.#n);
    this.#n += part.length;
  }

  #room(need: number): void {
    if (this.#n + need <= this.#buf.length) return;
    this.#seal();
    // Bytes handed out may still be held by the sink: a fresh buffer.
    this.#buf = new Uint8Array(Math.max(need, BATCH_BYTES + 1024));
    this.#start = this.#n = 0;
  }

  /** Hand out what was appended since the last seal (a view; the rest of the buffer stays ours). */
  #seal(): void {
    if (this.#n === this.#start) return;
    this.#parts.push(this.#buf.subarray(this.#start, this.#n));
    this.#size += this.#n - this.#start;
    this.#start = this.#n;
  }

  /** The parts to write; the batch starts afresh. */
  take(): Uint8Array[] {
    this.#seal();
    const parts = this.#parts;
    this.#parts = [];
    this.#size = 0;
    return parts;
  }
}

/** A stand-in for a single-line 250 read by code alone. */
export const OK_250: SmtpReply = Object.freeze({
  code: 250,
  lines: Object.freeze(["ok"]) as readonly string[],
  text: "ok",
  permanent: false,
  transient: false,
});

export function quickReply(code: number): SmtpReply {
  return {
    code,
    lines: [""],
    text: "",
    permanent: code >= 500,
    transient: code >= 400 && code < 500,
  };
}

/** What a failure means for one unsettled message. */
export function failedOutcome(
  job: Job,
  err: unknown,
  isAt: boolean,
  closing: boolean,
  w: Wire,
): Outcome {
  // Its refusal was read: report what the server said.
  if (job.refusal !== undefined && !(job.refusal instanceof SmtpNotSentError)) {
    return { ok: false, error: job.refusal };
  }
  if (job.envelopeRead && !job.envelopeOk) {
    return { ok: false, error: job.envelopeRefusal() };
  }
  if (closing) {
    // 421: the commands after the one it answers were never executed.
    if (isAt) {
      if (w.dialect.replyPerRecipient && job.finals.length > 0) {
        return lmtpOutcome(job, err);
      }
      return { ok: false, error: err };
    }
    return { ok: false, error: notSent(err) };
  }
  if (job.written === 2) {
    if (w.dialect.replyPerRecipient && job.envelopeOk) {
      return lmtpOutcome(job, err);
    }
    return { ok: false, error: unknownOutcome(err) };
  }
  return { ok: false, error: isAt ? err : notSent(err) };
}

export function unknownOutcome(err: unknown): unknown {
  if (
    !(err instanceof MailwireError) || err instanceof SmtpResponseError ||
    err instanceof SmtpOutcomeUnknownError
  ) {
    return err;
  }
  return new SmtpOutcomeUnknownError(
    "the connection failed after the message was sent; it may have been delivered",
    { cause: err },
  );
}

/** LMTP: per-recipient results from the finals read so far (the rest unknown, or refused after a 421). */
export function lmtpOutcome(job: Job, failure: unknown): Outcome {
  const deliveries = new Map<string, SmtpReply>();
  const delivered: string[] = [];
  const refused = job.refused;
  job.finals.forEach((r, i) => {
    const a = job.accepted[i];
    if (a === undefined) return;
    deliveries.set(a, r);
    if (r.code === 250) delivered.push(a);
    else refused.set(a, r);
  });
  const unknown = job.accepted.slice(job.finals.length);
  if (delivered.length === 0) {
    if (unknown.length > 0) {
      return {
        ok: false,
        error: new SmtpOutcomeUnknownError(
          `the connection failed before the server answered for ${unknown.length} recipient(s); they may have received the message`,
          { cause: failure, recipients: unknown, refused },
        ),
      };
    }
    return { ok: false, error: new SmtpRecipientsRefusedError(refused) };
  }
  return {
    ok: true,
    result: {
      reply: job.finals[job.finals.length - 1],
      accepted: delivered,
      refused,
      unknown,
      deliveries,
    },
  };
}

/** The not-sent error for a message behind a failure. @internal */
export function notSent(cause: unknown): SmtpNotSentError {
  if (cause instanceof SmtpNotSentError) return cause;
  return new SmtpNotSentError(
    "not sent: the connection failed before the server took this message; safe to send again",
    { cause },
  );
}

export function abortedBeforeStart(reason: unknown): AbortedError {
  return new AbortedError("send aborted before it started; nothing sent", {
    cause: reason,
  });
}

/** Encode a built job's MAIL and RCPT lines (each with its CRLF) in one buffer, ahead of its turn. */
export function encodeEnvelope(job: Job): void {
  job.head = encoder.encode(
    `${job.mail}\r\n${job.rcpts.join("\r\n")}\r\n`,
  );
}

/**
 * Build a job's lines and payload: every address checked once, every line
 * built before a byte of it is sent.
 */
export function build(job: Job, w: Wire, chunking: boolean): void {
  const t = job.t;
  const traits = w.traits();
  if (t.recipients.length === 0) throw new InvalidInputError("no recipients");
  const mailOptions: MailOptions = t.mailOptions ?? {};
  const common = t.rcptOptions;
  const inMemory = Array.isArray(t.body);
  job.bdat = chunking;
  let international = false;
  const addrs: string[] = job.addrs = new Array(t.recipients.length);
  const simple: boolean[] = new Array(t.recipients.length);
  for (let i = 0; i < t.recipients.length; i++) {
    const r = t.recipients[i];
    // Every address was checked when the message was queued
    // (checkTransaction): not again here.
    if (typeof r === "string") {
      addrs[i] = r;
      simple[i] = common === undefined;
    } else {
      addrs[i] = r.address;
      simple[i] = false;
    }
    if (!international && !isAscii(addrs[i])) international = true;
  }
  let messageSize: number | undefined;
  let eightBit: boolean | undefined;
  if (inMemory) {
    const enc = new DotStuffer(!job.bdat);
    const payload: Uint8Array[] = [];
    let size = 0;
    for (const p of t.body as Uint8Array[]) {
      const out = enc.push(p);
      if (out.length) {
        payload.push(out);
        size += out.length;
      }
    }
    const tail = enc.end();
    if (tail.length) {
      payload.push(tail);
      size += tail.length;
    }
    job.payload = payload;
    job.size = size;
    messageSize = job.bdat ? size : size - 3 - enc.dotsAdded;
    if (mailOptions.body === undefined) {
      eightBit = t.eightBitHint ?? enc.eightBit;
    }
    job.barrier = size > TWO_PHASE_LIMIT;
  } else {
    job.barrier = true;
    eightBit = t.eightBitHint;
  }
  job.mail = mailLine(t.from, mailOptions, traits, {
    size: messageSize,
    eightBit,
    internationalRecipients: international,
  });
  const smtputf8 = job.mail.includes(" SMTPUTF8");
  const rcpts: string[] = job.rcpts = new Array(addrs.length);
  for (let i = 0; i < addrs.length; i++) {
    const r = t.recipients[i];
    if (simple[i] && (smtputf8 || !international || isAscii(addrs[i]))) {
      rcpts[i] = `RCPT TO:<${addrs[i]}>`;
    } else {
      rcpts[i] = rcptLine(
        typeof r === "string" ? { address: r } : r,
        common ?? {},
        traits,
        smtputf8,
      );
    }
  }
}

/**
 * Build a lazy transaction (a composed body read, a DKIM signature over a
 * stream) within the message's deadline: a stream that never ends fails
 * the message, not sent, instead of hanging the call. @internal
 */
export function prepared(input: JobInput): Promise<Transaction> {
  const build = (input.t as () => Promise<Transaction>)();
  return input.d.race(build, () => {}, "preparing the message");
}
