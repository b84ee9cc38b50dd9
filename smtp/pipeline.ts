// Cross-message pipelining: many transactions on one connection, written back to back, every reply matched to its message.

import type { Deadline } from "../io/deadline.ts";
import { DotStuffer } from "../io/dot.ts";
import type { SmtpReply } from "../io/smtp_reply.ts";
import {
  SmtpDataError,
  SmtpNotSentError,
  SmtpSenderRefusedError,
  SmtpServiceClosingError,
} from "./errors.ts";
import {
  abortedBeforeStart,
  Batch,
  BATCH_BYTES,
  build,
  encodeEnvelope,
  type Expect,
  failedOutcome,
  Job,
  type JobInput,
  type JobSource,
  K,
  type Kind,
  lmtpOutcome,
  NO_COPY,
  notSent,
  OK_250,
  type Outcome,
  prepared,
  quickReply,
  STREAM_CHUNK,
  WINDOW_BYTES,
  WINDOW_MESSAGES,
} from "./job.ts";
import type { Wire } from "./transaction.ts";
import { BodyReader } from "./body_reader.ts";

export {
  type JobInput,
  type JobSource,
  notSent,
  type Outcome,
  type SendProgress,
  type SentState,
  WINDOW_BYTES,
  WINDOW_MESSAGES,
} from "./job.ts";

/** Room kept before a streamed chunk's encoding for its BDAT command (`BDAT <size> LAST` and CRLF). */
const HEADROOM = 32;

/**
 * Sends the jobs of a source over a connection whose server offers
 * PIPELINING, pipelined across messages:
 *
 * - CHUNKING: `MAIL, RCPT…, BDAT n LAST` + data, then the next message,
 *   without waiting, up to {@linkcode WINDOW_BYTES} in flight.
 * - DATA only: `MAIL, RCPT…, DATA`, the 354 (the only wait RFC 2920
 *   allows), then the data and the dot with the next envelope in one write:
 *   one round trip per message.
 * - Streams and bodies over 1 MiB learn their envelope's fate first.
 *
 * Every reply is matched to its message and recipient. A refusal (RSET
 * follows, at the next message boundary) harms no other message. When the
 * connection fails or the server says 421, each unsettled message is
 * refused (its refusal was read), of unknown outcome (its end of data was
 * written, and no 421 came before it), or not sent: whichever is true.
 * @internal
 */
/** The phase of writing each kind of command (a final: DATA's end of data). */
const PHASES = ["mail", "rcpt", "bdat", "data", "data", "rset"];

export class Pipeline {
  readonly #w: Wire;
  readonly #source: JobSource;
  readonly #expect: Expect[] = [];
  #head = 0;
  /** Jobs written and not settled, in order. */
  readonly #inflight: Job[] = [];
  #inflightBytes = 0;
  #batch = new Batch();
  #failed: unknown;
  #hasFailed = false;
  #done = 0;
  #wakeReader: (() => void) | undefined;
  #wakeWriter: (() => void) | undefined;
  /** Refused jobs whose RSET is still to be written. */
  #rsets: Job[] = [];
  /** Jobs refused with MAIL accepted whose RSET is not answered yet. */
  #open = 0;
  #ended_ = false;
  /** The phase of what the writer sends (the last command queued). */
  #writing = "mail";
  /** A write is in progress (a failure the reader sees first is the writer's). */
  #inWrite = false;
  /** Jobs whose end of data is in the batch being assembled, and where it ends. */
  #ending: Array<{ job: Job; at: number }> = [];
  /**
   * The next job, taken and built while a DATA waited for its 354 (off the
   * round trip's critical path); nothing of it is written yet.
   */
  #ahead: Job | undefined;

  constructor(w: Wire, source: JobSource) {
    this.#w = w;
    this.#source = source;
    if (w.session.channel.logging) this.#batch.log = [];
  }

  /** Run until the source ends and every message is settled. */
  async run(d: Deadline): Promise<void> {
    await this.#w.greet(d);
    const reader = this.#readLoop();
    try {
      await this.#writeLoop();
    } catch (err) {
      this.#fail(err);
    }
    // A job built ahead and never written: not sent.
    const ahead = this.#ahead;
    this.#ahead = undefined;
    if (ahead) this.#settleUnsent(ahead.in, this.#failed);
    this.#ended_ = true;
    this.#wake("reader");
    await reader;
    if (this.#hasFailed) await this.#source.drain(this.#failed);
  }

  #wake(which: "reader" | "writer"): void {
    const f = which === "reader" ? this.#wakeReader : this.#wakeWriter;
    if (which === "reader") this.#wakeReader = undefined;
    else this.#wakeWriter = undefined;
    f?.();
  }

  #sleep(): Promise<void> {
    return new Promise<void>((r) => this.#wakeWriter = r);
  }

  // ---- writing -----------------------------------------------------------

  async #writeLoop(): Promise<void> {
    const chunking = this.#w.chunking();
    const src = this.#source;
    for (;;) {
      if (this.#hasFailed) return;
      // A message boundary: the RSETs refusals asked for go here.
      if (this.#rsets.length) this.#queueRsets();
      let ahead = this.#ahead;
      this.#ahead = undefined;
      let input = ahead ? ahead.in : src.take();
      if (input === undefined) {
        await this.#flush();
        if (this.#hasFailed) return;
        if (this.#inflight.length === 0 && this.#rsets.length === 0) {
          if (src.exhausted() && src.end()) return;
          await src.wait();
          continue;
        }
        if (src.exhausted()) {
          await this.#sleep();
          continue;
        }
        // Replies are owed: wake for a new job, or for an RSET to write.
        await Promise.race([src.wait(), this.#sleep()]);
        continue;
      }
      // The window: wait for replies while too much is in flight.
      while (
        !this.#hasFailed &&
        (this.#inflightBytes >= WINDOW_BYTES ||
          this.#inflight.length >= WINDOW_MESSAGES)
      ) {
        if (this.#rsets.length) this.#queueRsets();
        await this.#flush();
        await this.#sleep();
      }
      if (this.#hasFailed) {
        this.#settleUnsent(input, this.#failed);
        return;
      }
      let job: Job | undefined;
      if (ahead?.built && !input.signal?.aborted) job = ahead;
      else job = await this.#prepare(input, chunking);
      input = ahead = undefined;
      if (!job) continue;
      if (job.barrier) await this.#sendBarrier(job);
      else if (job.bdat) this.#sendBdat(job);
      else await this.#sendData(job);
      if (this.#batch.size >= BATCH_BYTES) await this.#flush();
    }
  }

  /**
   * Take the next input and build it now, when that needs no wait (a lazy
   * transaction is built in its turn, as usual): it is written after the
   * current message's data, exactly as if taken then.
   */
  #buildAhead(): void {
    if (this.#hasFailed || this.#ahead) return;
    const input = this.#source.take();
    if (input === undefined) return;
    const job = new Job(input);
    this.#ahead = job;
    if (typeof input.t === "function" || input.signal?.aborted) return;
    try {
      job.t = input.t;
      build(job, this.#w, this.#w.chunking());
      encodeEnvelope(job);
      job.built = true;
    } catch {
      // Built again (and settled with its error) in its turn.
    }
  }

  /** Turn an input into a ready job; a bad one settles at once (nothing sent). */
  async #prepare(input: JobInput, chunking: boolean): Promise<Job | undefined> {
    if (input.signal?.aborted) {
      this.#settleUnsent(input, input.signal.reason, true);
      return undefined;
    }
    const job = new Job(input);
    try {
      job.t = typeof input.t === "function" ? await prepared(input) : input.t;
      build(job, this.#w, chunking);
    } catch (err) {
      this.#settle(job, { ok: false, error: err });
      return undefined;
    }
    return job;
  }

  #queue(job: Job, kind: Kind): void {
    this.#expect.push({ job, kind });
    this.#writing = kind === K.Chunk || (kind === K.Final && job.bdat)
      ? "bdat"
      : PHASES[kind];
  }

  /** `err` named with `phase` (unless it already names one). */
  #tag<E>(err: E, phase: string): E {
    this.#w.session.annotate(err, phase);
    return err;
  }

  #envelope(job: Job): void {
    job.weight = job.size + 64 * (job.rcpts.length + 1);
    this.#inflight.push(job);
    this.#inflightBytes += job.weight;
    const b = this.#batch;
    const head = job.head;
    if (head !== undefined) {
      // Encoded ahead (see #buildAhead): one copy.
      b.bytes(head);
      if (b.log) b.log.push(job.mail, ...job.rcpts);
    } else {
      b.line(job.mail);
      for (let i = 0; i < job.rcpts.length; i++) b.line(job.rcpts[i]);
    }
    // One expectation for MAIL, one for all the RCPT replies (in order).
    this.#queue(job, K.Mail);
    this.#queue(job, K.Rcpt);
    job.written = 1;
  }

  #payload(job: Job, parts: readonly Uint8Array[], size: number): void {
    const b = this.#batch;
    for (const p of parts) b.bytes(p);
    job.dataStarted = true;
    job.bytesOut += size;
  }

  #sendBdat(job: Job): void {
    this.#envelope(job);
    this.#batch.line(
      `BDAT ${job.size} LAST`,
      `BDAT ${job.size} LAST <${job.size} bytes of message data>`,
    );
    this.#payload(job, job.payload!, job.size);
    this.#ended(job);
    this.#queue(job, K.Final);
    this.#progress(job);
  }

  async #sendData(job: Job): Promise<void> {
    this.#envelope(job);
    this.#batch.line("DATA");
    this.#queue(job, K.Data);
    await this.#flush();
    // The 354 is a round trip away: build the next job meanwhile.
    if (!job.go.opened) this.#buildAhead();
    if (!(await job.go.promise) || this.#hasFailed) return;
    if (!job.envelopeOk) return this.#emptyData(job);
    this.#batch.log?.push(`<${job.size} bytes of message data>`);
    this.#payload(job, job.payload!, job.size);
    this.#ended(job);
    this.#queue(job, K.Final);
    this.#progress(job);
    // Not flushed: the next envelope rides with the dot.
  }

  /** A server that took DATA without a valid envelope: end it empty. */
  #emptyData(job: Job): void {
    this.#batch.line(".");
    this.#ended(job);
    this.#queue(job, K.Final);
  }

  /** A stream or a big body: the envelope's fate first, then the data. */
  async #sendBarrier(job: Job): Promise<void> {
    this.#envelope(job);
    if (!job.bdat) {
      this.#batch.line("DATA");
      this.#queue(job, K.Data);
      await this.#flush();
      if (!(await job.go.promise) || this.#hasFailed) return;
      if (!job.envelopeOk) return this.#emptyData(job);
    } else {
      await this.#flush();
      if (!(await job.envelope.promise) || this.#hasFailed) return;
    }
    if (job.payload) {
      if (job.bdat) {
        this.#batch.line(
          `BDAT ${job.size} LAST`,
          `BDAT ${job.size} LAST <${job.size} bytes of message data>`,
        );
      } else this.#batch.log?.push(`<${job.size} bytes of message data>`);
      this.#payload(job, job.payload, job.size);
      this.#ended(job);
      this.#queue(job, K.Final);
      this.#progress(job);
      await this.#flush();
      return;
    }
    await this.#stream(job);
  }

  /**
   * Stream a body: DATA stuffed on the fly, or BDAT chunks as they come
   * (big source chunks go as they are, small ones are gathered to 64 KiB).
   * Memory stays at a chunk or two, whatever the size.
   */
  async #stream(job: Job): Promise<void> {
    const body = job.t.body as ReadableStream<Uint8Array>;
    const enc = new DotStuffer(!job.bdat);
    const d = job.in.d;
    const b = this.#batch;
    let pending: Uint8Array[] = [];
    let pendingSize = 0;
    let scratch = new Uint8Array(0);
    /** The encoded chunk in `scratch` (at HEADROOM), when it is one. */
    let inScratch: Uint8Array | undefined;
    const emit = (last: boolean) => {
      if (job.bdat) {
        const line = `BDAT ${pendingSize}${last ? " LAST" : ""}`;
        const note = `${line} <${pendingSize} bytes of message data>`;
        this.#queue(job, last ? K.Final : K.Chunk);
        const lone = pending.length === 1 ? pending[0] : undefined;
        if (
          lone !== undefined && lone === inScratch &&
          line.length + 2 <= HEADROOM
        ) {
          // The command goes in the room left before the chunk: command
          // and data in one buffer, one write, nothing copied.
          const at = HEADROOM - line.length - 2;
          for (let i = 0; i < line.length; i++) {
            scratch[at + i] = line.charCodeAt(i);
          }
          scratch[HEADROOM - 2] = 13;
          scratch[HEADROOM - 1] = 10;
          b.log?.push(note);
          pending[0] = scratch.subarray(at, HEADROOM + lone.length);
          this.#payload(job, pending, 0);
          job.bytesOut += pendingSize;
          pending = [];
          pendingSize = 0;
          this.#progress(job);
          return;
        }
        b.line(line, note);
      }
      this.#payload(job, pending, pendingSize);
      pending = [];
      pendingSize = 0;
      this.#progress(job);
    };
    const reader = new BodyReader(body);
    try {
      for (;;) {
        const value = await reader.read(d);
        if (value === undefined) break;
        if (this.#hasFailed) throw this.#failed;
        // A refused chunk: RFC 3030 says send no more.
        if (job.refusal !== undefined) break;
        // The output buffer is reused: by the next read, the last write
        // of it was awaited (DATA), or it was copied into a gathered chunk.
        if (scratch.length < HEADROOM + 2 * value.length + 2) {
          scratch = new Uint8Array(HEADROOM + 2 * value.length + 2);
        }
        let out = enc.push(value, scratch.subarray(HEADROOM));
        inScratch = out.buffer === scratch.buffer ? out : undefined;
        // The chunk read itself, when nothing had to change in it.
        const same = out.buffer === value.buffer;
        if (out.length === 0) {
          reader.recycle();
          continue;
        }
        if (
          job.bdat && out.buffer === scratch.buffer && out.length < NO_COPY &&
          pendingSize + out.length < STREAM_CHUNK
        ) {
          // Gathered until a chunk is full: it must not be overwritten.
          out = out.slice();
        }
        pending.push(out);
        pendingSize += out.length;
        // DATA: every chunk goes out as it comes. BDAT: each chunk costs a
        // command and a reply, so small ones are gathered.
        if (
          !job.bdat || pendingSize >= STREAM_CHUNK || out.length >= NO_COPY
        ) {
          emit(false);
          await this.#flush();
          reader.recycle();
        } else if (!same) {
          // Copied out of the chunk read: its buffer is free. (The chunk
          // itself, gathered, is not: the next read gets a fresh buffer.)
          reader.recycle();
        }
      }
    } catch (err) {
      reader.cancel(err);
      // The server waits for the end of the data: the session can't be saved.
      this.#fail(this.#tag(err, job.bdat ? "bdat" : "data"), job);
      throw err;
    } finally {
      reader.releaseLock();
    }
    if (job.refusal !== undefined) {
      // Settled once the chunk replies and an RSET are answered.
      this.#refuse(job);
      return;
    }
    const tail = enc.end();
    if (tail.length) {
      pending.push(tail);
      pendingSize += tail.length;
    }
    if (!job.bdat) {
      b.log?.push(`<${job.bytesOut + pendingSize} bytes of message data>`);
      this.#queue(job, K.Final);
    }
    emit(true);
    this.#ended(job);
    await this.#flush();
  }

  /** The end of `job`'s data is in the batch: counted as written once the write succeeds. */
  #ended(job: Job): void {
    this.#ending.push({ job, at: this.#batch.size });
  }

  #queueRsets(): void {
    for (const job of this.#rsets) {
      this.#batch.line("RSET");
      this.#queue(job, K.Rset);
    }
    this.#rsets = [];
  }

  async #flush(): Promise<void> {
    const b = this.#batch;
    if (b.size === 0 || this.#hasFailed) return;
    const log = b.log;
    if (log) b.log = [];
    const total = b.size;
    const ending = this.#ending;
    this.#ending = [];
    const parts = b.take();
    this.#wake("reader");
    const d = this.#inflight[0]?.in.d ??
      this.#expect[this.#expect.length - 1].job.in.d;
    this.#inWrite = true;
    try {
      await this.#w.write(parts, d, log);
    } catch (err) {
      // A failed write may have sent part of its bytes: an end before its
      // last byte may have arrived (outcome unknown); an end at its last
      // byte did not.
      for (const e of ending) if (e.at < total) e.job.written = 2;
      this.#fail(this.#tag(err, this.#writing));
      throw err;
    }
    this.#inWrite = false;
    for (const e of ending) e.job.written = 2;
  }

  // ---- reading -----------------------------------------------------------

  async #readLoop(): Promise<void> {
    const w = this.#w;
    const s = w.session;
    const expect = this.#expect;
    for (;;) {
      if (this.#hasFailed) return;
      if (this.#head >= expect.length) {
        expect.length = 0;
        this.#head = 0;
        if (this.#ended_) return;
        await new Promise<void>((r) => this.#wakeReader = r);
        continue;
      }
      const e = expect[this.#head];
      const job = e.job;
      let reply: number | SmtpReply | Promise<number | SmtpReply>;
      try {
        switch (e.kind) {
          case K.Mail:
            s.phase = "mail";
            reply = w.readQuick(job.in.d, 250);
            break;
          case K.Rcpt: {
            s.phase = "rcpt";
            // The replies already buffered, in one call; the first other
            // one (or one not yet here) is read as usual.
            const left = job.rcpts.length - job.rcptSeen;
            const n = w.readQuickRun(250, left);
            if (n > 0 && this.#accepted(job, n)) {
              this.#head++;
              continue;
            }
            reply = w.readQuick(job.in.d, 250);
            break;
          }
          case K.Chunk:
            s.phase = "bdat";
            reply = w.readQuick(job.in.d, 250);
            break;
          case K.Data:
            s.phase = "data";
            reply = w.readQuick(job.in.d, 354);
            break;
          case K.Rset:
            s.phase = "rset";
            reply = w.readQuick(job.in.d, 250);
            break;
          default:
            s.phase = "data reply";
            reply = w.read(job.in.d, true);
        }
        if (typeof reply === "object" && reply instanceof Promise) {
          reply = await reply;
        }
      } catch (err) {
        // A reset while data goes out may reach the reader first (Node).
        this.#fail(this.#tag(err, this.#inWrite ? this.#writing : s.phase));
        return;
      }
      this.#head++;
      if (typeof reply !== "number" && reply.code === 421) {
        const closing = new SmtpServiceClosingError(
          "server is closing the connection",
          reply,
        );
        if (e.kind === K.Final && w.dialect.replyPerRecipient) {
          job.finals.push(reply);
        }
        if (e.kind !== K.Final) job.discarded = true;
        this.#fail(closing, job);
        return;
      }
      if (this.#dispatch(e, reply)) this.#head--; // the same kind again
    }
  }

  /** Match a reply to its message; true when another of the same kind is owed (RCPTs, LMTP finals). */
  #dispatch(e: Expect, reply: number | SmtpReply): boolean {
    const job = e.job;
    const code = typeof reply === "number" ? reply : reply.code;
    switch (e.kind) {
      case K.Mail:
        job.mailOk = code === 250;
        job.mailReply = typeof reply === "number" ? OK_250 : reply;
        if (!job.mailOk && code === 503 && this.#open > 0) {
          // The server kept an earlier refused transaction open (its RSET
          // not executed yet): this message was never taken.
          job.refusal = new SmtpNotSentError(
            "not sent: the server still held an earlier refused transaction open; safe to send again",
            {
              cause: new SmtpSenderRefusedError(
                job.t.from,
                reply as SmtpReply,
              ),
            },
          );
        }
        if (job.rcpts.length === 0) this.#envelopeDone(job);
        return false;
      case K.Rcpt: {
        // One expectation stands for every RCPT reply of the message.
        const addr = job.addrs[job.rcptSeen];
        if (code === 250 || code === 251) job.accepted.push(addr);
        else {
          job.refused.set(
            addr,
            typeof reply === "number" ? quickReply(code) : reply,
          );
        }
        if (++job.rcptSeen < job.rcpts.length) return true;
        this.#envelopeDone(job);
        return false;
      }
      case K.Chunk:
        if (code !== 250 && job.refusal === undefined) {
          job.refusal = job.envelopeOk
            ? this.#tag(
              new SmtpDataError("message refused", reply as SmtpReply),
              "bdat",
            )
            : job.envelopeRefusal();
        }
        return false;
      case K.Data:
        if (code === 354) {
          job.go.open(true);
          return false;
        }
        job.refusal ??= job.envelopeOk
          ? this.#tag(
            new SmtpDataError("data refused", reply as SmtpReply),
            "data",
          )
          : job.envelopeRefusal();
        job.go.open(false);
        this.#refuse(job);
        return false;
      case K.Final:
        return this.#final(job, reply as SmtpReply);
      case K.Rset:
        if (job.mailOk && job.refusal !== undefined && this.#open > 0) {
          this.#open--;
        }
        this.#settle(job, { ok: false, error: job.refusal });
        return false;
    }
  }

  /**
   * `n` RCPT replies of `job` were 250 (and are owed): accept them, in
   * order. True when they were the last of its envelope.
   */
  #accepted(job: Job, n: number): boolean {
    const addrs = job.addrs;
    let seen = job.rcptSeen;
    for (const end = seen + n; seen < end; seen++) {
      job.accepted.push(addrs[seen]);
    }
    job.rcptSeen = seen;
    if (seen < job.rcpts.length) return false;
    this.#envelopeDone(job);
    return true;
  }

  #envelopeDone(job: Job): void {
    const ok = job.envelopeOk;
    job.envelope.open(ok);
    if (ok) return;
    job.refusal ??= job.envelopeRefusal();
    if (job.mailOk) this.#open++;
    // A two-phase BDAT message sends no data after a refused envelope.
    if (job.barrier && job.bdat) this.#refuse(job);
  }

  #final(job: Job, reply: SmtpReply): boolean {
    if (job.refusal !== undefined || !job.envelopeOk) {
      job.refusal ??= job.envelopeRefusal();
      this.#refuse(job);
      return false;
    }
    if (!this.#w.dialect.replyPerRecipient) {
      if (reply.code !== 250) {
        job.refusal = this.#tag(
          new SmtpDataError("message refused", reply),
          "data reply",
        );
        this.#refuse(job);
        return false;
      }
      this.#settle(job, {
        ok: true,
        result: {
          reply,
          accepted: job.accepted,
          refused: job.refused,
          unknown: [],
        },
      });
      return false;
    }
    job.finals.push(reply);
    if (job.finals.length < job.accepted.length) return true;
    const outcome = lmtpOutcome(job, undefined);
    if (!outcome.ok) this.#tag(outcome.error, "data reply");
    this.#settle(job, outcome);
    return false;
  }

  /** A refusal: RSET at the next message boundary, settled when it is answered. */
  #refuse(job: Job): void {
    if (job.rsetOwed) return;
    job.rsetOwed = true;
    this.#rsets.push(job);
    this.#wake("writer");
  }

  // ---- outcomes ----------------------------------------------------------

  #settle(job: Job, outcome: Outcome): void {
    if (job.settled) return;
    job.settled = true;
    const i = this.#inflight.indexOf(job);
    if (i >= 0) {
      this.#inflight.splice(i, 1);
      this.#inflightBytes -= job.weight;
    }
    job.envelope.open(false);
    job.go.open(false);
    this.#done++;
    job.in.settle(outcome, {
      dataStarted: job.dataStarted,
      ended: job.written === 2,
      discarded: job.discarded,
    });
    this.#progress(job);
    this.#wake("writer");
  }

  #settleUnsent(input: JobInput, error: unknown, aborted = false): void {
    this.#done++;
    input.settle({
      ok: false,
      error: aborted ? abortedBeforeStart(error) : notSent(error),
    }, { dataStarted: false, ended: false });
  }

  #progress(job: Job): void {
    job.in.progress?.({
      index: job.in.index,
      bytes: job.bytesOut,
      done: this.#done,
    });
  }

  /**
   * The connection failed, or the server said 421 (`at`: the message whose
   * command it answered): account for every unsettled message.
   */
  #fail(err: unknown, at?: Job): void {
    if (this.#hasFailed) return;
    this.#hasFailed = true;
    this.#failed = err;
    void this.#w.session.close();
    const closing = err instanceof SmtpServiceClosingError;
    const head = at ?? this.#inflight.find((j) => !j.settled);
    for (const job of [...this.#inflight]) {
      this.#settle(
        job,
        failedOutcome(job, err, job === head, closing, this.#w),
      );
    }
    this.#rsets = [];
    this.#wake("reader");
    this.#wake("writer");
  }
}
