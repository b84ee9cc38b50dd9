// What a fuzz run counts (inputs, outcomes by error class, peak heap) and the typed-errors-only rule.
import { memoryUsage } from "node:process";
import { MailwireError } from "../../errors.ts";

/** The counts of one harness run, printed by `npm run fuzz` and checked by the short runs. */
export interface FuzzReport {
  /** The harness, e.g. "smtp reply". */
  harness: string;
  /** Inputs fed (each a whole reply, line, exchange or message). */
  inputs: number;
  /** Parser calls over them (one input may go through several parsers, or forms). */
  calls: number;
  /** Calls that ended without an error. */
  accepted: number;
  /** Typed errors by class name. */
  errors: Record<string, number>;
  /** Wall time of the run. */
  ms: number;
  /** Highest heap use sampled during the run, in MiB. */
  peakHeapMiB: number;
}

/** The heap ceiling a run may reach: inputs are at most a few MiB, so more means unbounded growth. */
export const HEAP_CEILING_MIB = 1024;

/** Counts outcomes, refuses any error that is not a MailwireError, samples the heap. */
export class Tally {
  readonly #harness: string;
  readonly #t0 = performance.now();
  #inputs = 0;
  #calls = 0;
  #accepted = 0;
  #errors: Record<string, number> = {};
  #peak = 0;

  constructor(harness: string) {
    this.#harness = harness;
    this.#sample();
  }

  /** One more input. */
  feed(): void {
    if (++this.#inputs % 4096 === 0) this.#sample();
  }

  /** One call done without an error. */
  ok(): void {
    this.#tick();
    this.#accepted++;
  }

  /**
   * One call done with `err`: counted when typed, else thrown again with
   * `context` (the seed, the input) so the failure can be replayed.
   */
  error(err: unknown, context: () => string): void {
    this.#tick();
    if (!(err instanceof MailwireError)) {
      throw new Error(
        `${this.#harness}: untyped error ${String(err)} for ${context()}`,
        { cause: err },
      );
    }
    const name = err.constructor.name;
    this.#errors[name] = (this.#errors[name] ?? 0) + 1;
  }

  #tick(): void {
    this.#calls++;
  }

  #sample(): void {
    const mib = memoryUsage().heapUsed / (1 << 20);
    if (mib > this.#peak) this.#peak = mib;
    if (mib > HEAP_CEILING_MIB) {
      throw new Error(
        `${this.#harness}: heap at ${
          mib.toFixed(0)
        } MiB after ${this.#inputs} inputs`,
      );
    }
  }

  report(): FuzzReport {
    this.#sample();
    return {
      harness: this.#harness,
      inputs: this.#inputs,
      calls: this.#calls,
      accepted: this.#accepted,
      errors: { ...this.#errors },
      ms: Math.round(performance.now() - this.#t0),
      peakHeapMiB: Math.round(this.#peak),
    };
  }
}

/** Options every harness takes. */
export interface FuzzOptions {
  /** How many inputs to feed. */
  inputs: number;
  /** The seed: the same seed feeds the same inputs. */
  seed: number;
}

/** One line of the fuzz summary. */
export function formatReport(r: FuzzReport): string {
  const errors = Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(
    ", ",
  );
  return `${r.harness}: ${r.inputs} inputs, ${r.calls} parser calls (${r.accepted} accepted; ${
    errors || "no errors"
  }) in ${r.ms} ms, peak heap ${r.peakHeapMiB} MiB`;
}

/**
 * What every short run asserts: the count fed, some inputs accepted, and
 * each error class in `kinds` seen (else the generator misses a path).
 */
export function checkShortRun(
  report: FuzzReport,
  inputs: number,
  kinds: readonly string[],
): void {
  console.log(formatReport(report));
  if (report.inputs !== inputs) {
    throw new Error(
      `${report.harness}: ${report.inputs} inputs, not ${inputs}`,
    );
  }
  if (report.accepted === 0) {
    throw new Error(`${report.harness}: nothing accepted`);
  }
  for (const kind of kinds) {
    if (!(report.errors[kind] > 0)) {
      throw new Error(
        `${report.harness}: no ${kind} seen: the inputs miss a path`,
      );
    }
  }
}
