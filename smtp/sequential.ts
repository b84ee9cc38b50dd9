// One message at a time over a server without PIPELINING, with the pipeline's outcomes (smtp/pipeline.ts for the rest).

import {
  abortedBeforeStart,
  type JobSource,
  notSent,
  type Outcome,
  prepared,
} from "./job.ts";
import { sendTransaction, type Transaction, type Wire } from "./transaction.ts";

/**
 * Send jobs one at a time over a server without PIPELINING (the
 * transaction's own path), with the same outcomes as the pipeline: after a
 * lost connection, the jobs behind are not sent.
 * @internal
 */
export async function runSequential(
  w: Wire,
  source: JobSource,
): Promise<void> {
  let failure: unknown;
  let hasFailed = false;
  let done = 0;
  for (;;) {
    let input = source.take();
    if (input === undefined) {
      if (source.exhausted() && source.end()) break;
      await source.wait();
      continue;
    }
    const settle = (outcome: Outcome, sent = false) => {
      done++;
      input!.settle(outcome, { dataStarted: sent, ended: sent });
      input!.progress?.({ index: input!.index, bytes: 0, done });
    };
    if (hasFailed) {
      settle({ ok: false, error: notSent(failure) });
      continue;
    }
    if (input.signal?.aborted) {
      settle({ ok: false, error: abortedBeforeStart(input.signal.reason) });
      continue;
    }
    let t: Transaction;
    try {
      t = typeof input.t === "function" ? await prepared(input) : input.t;
      const result = await sendTransaction(w, input.d, t);
      settle({ ok: true, result }, true);
    } catch (err) {
      // Whether any data went out is not known here: never "none was sent".
      const lost = !w.session.connected;
      settle({ ok: false, error: err }, lost);
      if (lost) {
        hasFailed = true;
        failure = err;
      }
    }
    input = undefined;
  }
  if (hasFailed) await source.drain(failure);
}
