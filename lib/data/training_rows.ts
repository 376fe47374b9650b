/**
 * Which tuples a run trains on, and the real start states a checkpoint keeps for environments.
 * @module
 */
import type { TrainConfig } from "../config.ts";
import { deriveSeed, Rng } from "../random.ts";
import type { Dataset } from "./dataset.ts";
import type { StepRecord } from "./pair.ts";

/**
 * Training rows, with positive tuples repeated `upsample` times (the fraction drawn with the
 * seed). RecSimu and every baseline train on exactly these rows.
 */
export function trainingRows(ds: Dataset, c: Pick<TrainConfig, "upsample" | "seed">): Int32Array {
  if (c.upsample === 1) return ds.train;
  const rng = new Rng(deriveSeed(c.seed, "upsample"));
  const out: number[] = [];
  for (const r of ds.train) {
    out.push(r);
    if (ds.positive[ds.rowLabel[r]!]) {
      const extra = c.upsample - 1;
      const copies = Math.floor(extra) + (rng.next() < extra - Math.floor(extra) ? 1 : 0);
      for (let i = 0; i < copies; i++) out.push(r);
    }
  }
  return Int32Array.from(out);
}

/**
 * Real start states: the histories before the test actions (up to `limit`); histories holding
 * the shared rare item are left out (it has no id an agent could see).
 */
export function startStates(ds: Dataset, limit = 1000): StepRecord[][] {
  const out: StepRecord[][] = [];
  for (const a of ds.test) {
    if (out.length >= limit) break;
    const s: StepRecord[] = [];
    for (let r = Math.max(ds.rowSessionStart[a]!, a - ds.stateLength); r < a; r++) {
      const item = ds.items[ds.rowItem[r]!];
      if (item === undefined) break;
      s.push({ item, feedback: ds.labels[ds.rowLabel[r]!]! });
    }
    if (s.length === Math.min(a - ds.rowSessionStart[a]!, ds.stateLength)) out.push(s);
  }
  return out;
}
