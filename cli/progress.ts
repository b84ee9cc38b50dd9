// Progress for bulk sends and fetches: a bar redrawn in place on a terminal, plain lines when piped.

import type { CliWriter } from "./io.ts";

/** How progress is shown. */
export type ProgressMode = "bar" | "plain" | "none";

/** A snapshot: items done of a total, and bytes when they matter. */
export interface ProgressState {
  done: number;
  total: number;
  bytes?: number;
  totalBytes?: number;
  /** Milliseconds since the start. */
  elapsed: number;
}

/** `1234567` → `"1.2 MiB"`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) [v, i] = [v / 1024, i + 1];
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** Seconds as `42s`, `3m05s`, `1h02m`. */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) {
    return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  }
  return `${Math.floor(s / 3600)}h${
    String(Math.floor(s / 60) % 60).padStart(2, "0")
  }m`;
}

/** The rate and time left: by bytes when a byte total is known, else by items. */
export function rates(
  s: ProgressState,
): { perSecond: number; bytesPerSecond?: number; eta: number } {
  const secs = Math.max(s.elapsed, 1) / 1000;
  const perSecond = s.done / secs;
  if (s.totalBytes !== undefined && s.bytes !== undefined && s.totalBytes > 0) {
    const bps = s.bytes / secs;
    return {
      perSecond,
      bytesPerSecond: bps,
      eta: bps > 0 ? (s.totalBytes - s.bytes) / bps : Infinity,
    };
  }
  return {
    perSecond,
    eta: perSecond > 0 ? (s.total - s.done) / perSecond : Infinity,
  };
}

/** The text after the bar: `250/500 msgs 120.5 msg/s ETA 2s` (plus bytes when known). */
export function describe(s: ProgressState, unit: string): string {
  const r = rates(s);
  let text = `${s.done}/${s.total} ${unit} ${r.perSecond.toFixed(1)} msg/s`;
  if (s.totalBytes !== undefined && s.bytes !== undefined) {
    text += ` ${formatBytes(s.bytes)}/${formatBytes(s.totalBytes)}`;
    if (r.bytesPerSecond !== undefined) {
      text += ` ${formatBytes(Math.round(r.bytesPerSecond))}/s`;
    }
  }
  return `${text} ETA ${s.done >= s.total ? "0s" : formatEta(r.eta)}`;
}

/** A bar of `width` cells for `fraction` (0–1). */
export function bar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.round(f * width);
  return "#".repeat(full) + "-".repeat(width - full);
}

/** The fraction done: bytes when known, else items. */
function fractionOf(s: ProgressState): number {
  if (s.totalBytes && s.bytes !== undefined) return s.bytes / s.totalBytes;
  return s.total > 0 ? s.done / s.total : 1;
}

/**
 * Draws progress on `out`. In `bar` mode one line is redrawn in place (at
 * most every 100 ms); call {@linkcode Progress.clear} before printing
 * anything else on the same stream. In `plain` mode one line is printed at
 * each tenth of the way (and at the end), so a log holds at most 11.
 */
export class Progress {
  readonly #out: CliWriter;
  readonly #mode: ProgressMode;
  readonly #label: string;
  readonly #unit: string;
  readonly #start = Date.now();
  #state: ProgressState;
  #lastDraw = 0;
  #drawn = false;
  #step = -1;

  /** Start progress for `total` items (and `totalBytes`, when they matter). */
  constructor(
    out: CliWriter,
    mode: ProgressMode,
    label: string,
    unit: string,
    total: number,
    totalBytes?: number,
  ) {
    this.#out = out;
    this.#mode = mode;
    this.#label = label;
    this.#unit = unit;
    this.#state = {
      done: 0,
      total,
      bytes: totalBytes === undefined ? undefined : 0,
      totalBytes,
      elapsed: 0,
    };
  }

  /** The current state. */
  get state(): ProgressState {
    return { ...this.#state, elapsed: Date.now() - this.#start };
  }

  /** Record progress: items done so far, and bytes so far. */
  update(done: number, bytes?: number): void {
    this.#state.done = done;
    if (bytes !== undefined && this.#state.bytes !== undefined) {
      this.#state.bytes = bytes;
    }
    this.#draw(false);
  }

  /** Erase the bar (bar mode) so that other output starts on a clean line. */
  clear(): void {
    if (this.#mode === "bar" && this.#drawn) {
      this.#out.write("\r\x1b[2K");
      this.#drawn = false;
    }
  }

  /** Draw the final state and end the line. */
  finish(): void {
    this.#draw(true);
    if (this.#mode === "bar" && this.#drawn) {
      this.#out.write("\n");
      this.#drawn = false;
    }
  }

  #draw(final: boolean): void {
    if (this.#mode === "none" || this.#state.total === 0) return;
    const s = this.state;
    if (this.#mode === "plain") {
      const step = Math.floor(fractionOf(s) * 10);
      if (step <= this.#step && !final) return;
      if (final && step <= this.#step && this.#step === 10) return;
      this.#step = step;
      const pct = Math.floor(fractionOf(s) * 100);
      this.#out.write(`${this.#label}: ${pct}% ${describe(s, this.#unit)}\n`);
      return;
    }
    const now = Date.now();
    if (!final && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    const width = Math.max(40, Math.min(this.#out.columns ?? 80, 160));
    const text = describe(s, this.#unit);
    const cells = Math.max(10, width - text.length - this.#label.length - 6);
    this.#out.write(
      `\r\x1b[2K${this.#label} [${bar(fractionOf(s), cells)}] ${text}`,
    );
    this.#drawn = true;
  }
}

/** `--progress auto` resolved: a bar on a terminal, plain lines otherwise. */
export function progressMode(
  flagValue: string | undefined,
  isTTY: boolean,
): ProgressMode {
  if (flagValue === undefined || flagValue === "auto") {
    return isTTY ? "bar" : "plain";
  }
  return flagValue as ProgressMode;
}
