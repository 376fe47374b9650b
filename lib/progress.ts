/**
 * Progress on stderr: step counter, losses, throughput and ETA. Rewrites one line on a
 * terminal; elsewhere prints a line at most every `intervalMs`.
 * @module
 */

/** A progress reporter for one phase of work. */
export class Progress {
  readonly #t0 = performance.now();
  #last = 0;
  readonly #tty = Deno.stderr.isTerminal();
  readonly #enc = new TextEncoder();
  /**
   * @param label phase name shown first
   * @param total number of steps
   * @param opts.unitsPerStep samples per step, for the throughput figure @default 1
   * @param opts.intervalMs minimum time between non-terminal lines @default 5000
   * @param opts.quiet print nothing @default false
   */
  constructor(
    readonly label: string,
    readonly total: number,
    readonly opts: { unitsPerStep?: number; intervalMs?: number; quiet?: boolean } = {},
  ) {}

  /** Reports step `done` (1-based) with named figures. */
  update(done: number, figures: Record<string, number> = {}): void {
    if (this.opts.quiet) return;
    const now = performance.now();
    const final = done >= this.total;
    if (!final && now - this.#last < (this.#tty ? 200 : this.opts.intervalMs ?? 5000)) return;
    this.#last = now;
    const secs = (now - this.#t0) / 1000;
    const rate = (done * (this.opts.unitsPerStep ?? 1)) / Math.max(secs, 1e-9);
    const eta = done > 0 ? (secs / done) * (this.total - done) : NaN;
    const figs = Object.entries(figures).map(([k, v]) =>
      `${k} ${Number.isFinite(v) ? v.toFixed(4) : v}`
    )
      .join(" ");
    const width = 20;
    const filled = Math.round((width * done) / Math.max(this.total, 1));
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    const line = `${this.label} ${bar} ${done}/${this.total} ${figs} | ${rate.toFixed(0)}/s | ${
      secs.toFixed(0)
    }s elapsed, ETA ${Number.isFinite(eta) ? eta.toFixed(0) : "?"}s`;
    Deno.stderr.writeSync(
      this.#enc.encode(this.#tty ? `\r\x1b[K${line}${final ? "\n" : ""}` : `${line}\n`),
    );
  }
}

/** Writes one line to stderr. */
export function log(line: string): void {
  console.error(line);
}
