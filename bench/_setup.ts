/**
 * The benchmarks' workload in the PyTorch reference's shapes (batch 500, N 20, hidden 128, |E| 20,
 * |F| 10, K 2, 10 000 items): synthetic sessions of 50 random items (30% positive), as the
 * reference's `--synthetic`, and a RecSimu model over them. Shared by `bench.ts` and `profile.ts`.
 * @module
 */
import { TRAIN_DEFAULTS } from "../lib/config.ts";
import { type Dataset, datasetFromText } from "../lib/data/dataset.ts";
import { RecSimuModel } from "../models/recsimu.ts";
import { RecSimuTrainer } from "../lib/train/trainer.ts";
import { Rng } from "../lib/random.ts";

export const N = 20, B = 500;

/** The data set, the model, its trainer and a sampler of random training rows (seed 0). */
export async function benchWorkload(): Promise<{
  ds: Dataset;
  model: RecSimuModel;
  trainer: RecSimuTrainer;
  randRows: (n: number) => Int32Array;
}> {
  const V = 10000, T = 20000, L = 50;
  const rng = new Rng(0);
  const lines = ["session_id,item_id,feedback"];
  for (let s = 0; s < Math.ceil(T / (L - N)); s++) {
    for (let j = 0; j < L; j++) {
      lines.push(`s${s},i${rng.int(V)},${rng.next() < 0.3 ? "pos" : "neg"}`);
    }
  }
  const ds = await datasetFromText(lines.join("\n"), "synthetic", {
    stateLength: N,
    minCount: 1,
    validation: false,
  });
  const c = { ...TRAIN_DEFAULTS, positive: [...TRAIN_DEFAULTS.positive] };
  const emb = new Float32Array(ds.items.length * 20).map(() => Math.tanh(rng.normal()));
  const shape = {
    items: ds.items.length,
    classes: 2,
    embDim: 20,
    feedbackDim: 10,
    hidden: 128,
    fc: 64,
    fakeClasses: 2,
    stateLength: N,
  };
  const model = new RecSimuModel(shape, emb, c);
  const trainer = new RecSimuTrainer(model, c);
  const rows = ds.train;
  const randRows = (n: number) => Int32Array.from({ length: n }, () => rows[rng.int(rows.length)]!);
  return { ds, model, trainer, randRows };
}
